//! The SQLite state store (`<state_dir>/state.db`): runs (pipeline runs with
//! their steps), backups, releases, locks, API tokens, the audit log.
//! One file, WAL mode, schema versioned by `PRAGMA user_version`.

mod alerts;
mod audit;
mod backups;
mod check_results;
mod deliveries;
mod image_updates;
mod locks;
mod pipeline_runs;
mod process;
mod releases;
mod run_events;
mod runs;
mod samples;
mod sessions;
mod tallies;
mod tokens;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

pub use alerts::{FiringAlert, Silence};
pub use audit::AuditEntry;
pub use backups::{BackupKind, BackupRecord};
pub use image_updates::{ImageUpdate, NewImageUpdate};
pub use locks::{AcquireError, Lock, LockHeld, hostname};
pub use pipeline_runs::{Decision, KeyHeld, PipelineRun, PlannedStep, StepEnd, StepRecord, StepState};
pub use releases::{NewRelease, ReleaseKind, ReleaseOutcome, ReleaseRecord};
pub use check_results::CheckResult;
pub use run_events::{EventLog, RunEvent};
pub use samples::{AVERAGE_SPAN, Folded, Sample};
pub use sessions::StoredSession;
pub use runs::{Interrupted, Outcome, RunFilter, RunRecord, who};
pub use tokens::{Role, TOKEN_PREFIX, TokenRecord};

pub const FILE_NAME: &str = "state.db";

/// Schema migrations, applied in order; `user_version` is how many ran.
const MIGRATIONS: &[&str] = &[include_str!("schema_v1.sql"), include_str!("schema_v2.sql"), include_str!("schema_v3.sql"), include_str!("schema_v4.sql"), include_str!("schema_v5.sql"), include_str!("schema_v6.sql"), include_str!("schema_v7.sql"), include_str!("schema_v8.sql"), include_str!("schema_v9.sql"), include_str!("schema_v10.sql"), include_str!("schema_v11.sql"), include_str!("schema_v12.sql"), include_str!("schema_v13.sql"), include_str!("schema_v14.sql")];

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: cannot open the state store: {source}; check the directory is writable (project.state_dir in bosun.toml)")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("{path}: cannot create the state directory: {source}; check project.state_dir in bosun.toml")]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("{path}: written by a newer bosun (schema {found}, this bosun knows {known}); upgrade bosun")]
    NewerSchema { path: PathBuf, found: i64, known: i64 },
    #[error("state store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("no randomness for a new token: {0}")]
    Random(String),
}

/// Shared by a command's tasks; each statement takes the connection briefly.
pub struct State {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl State {
    /// Opens (creating if needed) the store in `state_dir` and brings its schema up to date.
    pub fn open(state_dir: &Path) -> Result<State, StateError> {
        let path = state_dir.join(FILE_NAME);
        crate::capability::fs::protect(state_dir);
        let open_error = |source| StateError::Open { path: path.clone(), source };
        std::fs::create_dir_all(state_dir).map_err(|source| StateError::Dir { path: state_dir.to_path_buf(), source })?;
        let conn = Connection::open(&path).map_err(open_error)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(open_error)?;
        conn.pragma_update(None, "journal_mode", "wal").map_err(open_error)?;
        conn.pragma_update(None, "foreign_keys", "on").map_err(open_error)?;
        conn.pragma_update(None, "synchronous", "full").map_err(open_error)?;
        let state = State { conn: Mutex::new(conn), path };
        state.migrate()?;
        for run in state.mark_interrupted()? {
            tracing::warn!("run {} ({} {}) {}", run.id, run.operation, run.target, run.summary);
        }
        Ok(state)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn migrate(&self) -> Result<(), StateError> {
        let mut conn = self.conn();
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StateError::NewerSchema { path: self.path.clone(), found: version, known });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
