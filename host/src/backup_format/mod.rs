//! What a backup's files on disk look like, which `ops::backup` owns and the
//! fs host calls (`capability::fs`) write and read: the per-file list next to
//! an archive (`file_list`), the content hashes it holds (`content_hash`),
//! and the compression archives and lists are framed in (`compression`).
//! A leaf: it imports nothing from the rest of the crate, so both can use it.

pub mod compression;
pub mod content_hash;
pub mod file_list;

pub use compression::open_archive;
pub use content_hash::{FileHash, HashAlgorithm};
pub use file_list::{FileEntry, FileList, Kind, Owner};
