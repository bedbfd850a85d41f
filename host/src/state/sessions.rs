//! Dashboard sessions, by the SHA-256 of their id (see `serve::api::session`).

use rusqlite::{OptionalExtension, params};

use super::{State, StateError};

/// A session as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub token_name: String,
    pub started_at: i64,
}

impl State {
    /// Keeps a new session, and forgets those that started before `oldest_kept`.
    pub fn start_session(&self, id_hash: &str, session: &StoredSession, oldest_kept: i64) -> Result<(), StateError> {
        let conn = self.conn();
        conn.execute("DELETE FROM sessions WHERE started_at < ?1", [oldest_kept])?;
        conn.execute("INSERT INTO sessions (id_hash, token_name, started_at) VALUES (?1, ?2, ?3)", params![id_hash, session.token_name, session.started_at])?;
        Ok(())
    }

    /// The session of this id hash, if it started at `oldest_kept` or later.
    pub fn session(&self, id_hash: &str, oldest_kept: i64) -> Result<Option<StoredSession>, StateError> {
        let found = self
            .conn()
            .query_row("SELECT token_name, started_at FROM sessions WHERE id_hash = ?1 AND started_at >= ?2", params![id_hash, oldest_kept], |row| {
                Ok(StoredSession { token_name: row.get(0)?, started_at: row.get(1)? })
            })
            .optional()?;
        Ok(found)
    }

    pub fn end_session(&self, id_hash: &str) -> Result<(), StateError> {
        self.conn().execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
        Ok(())
    }
}
