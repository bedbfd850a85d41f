//! The audit log: every mutating CLI command and API request, who made it,
//! from where, and how it ended. What is written is masked like every record.

use rusqlite::params;
use serde::Serialize;

use super::{State, StateError, now_unix};
use crate::secrets::mask;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub at: i64,
    /// The local user for the CLI, `token NAME` for the API.
    pub who: String,
    /// `cli` or `api`.
    pub via: String,
    /// What was asked: the command's words, or the request's method and path.
    pub action: String,
    /// Where from: the host for the CLI, the client's address for the API.
    pub source: String,
    /// `ok`, or what went wrong.
    pub outcome: String,
    pub run_id: Option<i64>,
}

impl State {
    pub fn record_audit(&self, entry: &AuditEntry) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO audit (at, who, via, action, source, outcome, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![entry.at, entry.who, entry.via, mask(&entry.action), entry.source, mask(&entry.outcome), entry.run_id],
        )?;
        Ok(())
    }

    /// Entries since `since` (seconds), oldest first.
    pub fn audit(&self, since: i64) -> Result<Vec<AuditEntry>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT at, who, via, action, source, outcome, run_id FROM audit WHERE at >= ?1 ORDER BY id")?;
        let rows = statement.query_map([since], |row| {
            Ok(AuditEntry { at: row.get(0)?, who: row.get(1)?, via: row.get(2)?, action: row.get(3)?, source: row.get(4)?, outcome: row.get(5)?, run_id: row.get(6)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl AuditEntry {
    /// An entry made now.
    pub fn now(who: String, via: &str, action: String, source: String, outcome: String, run_id: Option<i64>) -> AuditEntry {
        AuditEntry { at: now_unix(), who, via: via.to_string(), action, source, outcome, run_id }
    }
}
