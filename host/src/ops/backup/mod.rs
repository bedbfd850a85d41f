//! Backups: take, list, verify, restore, prune.

mod around;
mod dest;
mod files;
mod foreign;
mod fresh_target;
mod locate;
pub mod manifest;
mod prune;
mod replicate;
mod restore;
pub mod retention;
mod sqlite_check;
mod take;
mod verify;

pub use files::{ListedFile, files};
pub use foreign::ForeignRestore;
pub use locate::{Located, locate};
pub use manifest::BackupManifest;
pub use prune::{Pruned, prune};
pub use replicate::Replica;
pub use restore::{RestoreOptions, Restored, restore};
pub use retention::RetentionPlan;
pub use take::{TakeOptions, Taken, set_config, take};
pub use verify::{Verified, verify};
