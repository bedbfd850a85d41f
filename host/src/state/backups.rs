//! The backup catalog. A row is written only after its directory is complete
//! on disk, so everything listed here can be restored.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{State, StateError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    Full,
    Incremental,
}

impl BackupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Full => "full",
            BackupKind::Incremental => "incremental",
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BackupRecord {
    pub id: String,
    pub set: String,
    pub kind: BackupKind,
    /// For an incremental: the full backup it builds on.
    pub base: Option<String>,
    #[schema(value_type = String)]
    pub dir: PathBuf,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    pub strategy: String,
    pub strategy_version: String,
    pub artifacts: u32,
    pub bytes: u64,
    pub run_id: Option<i64>,
    pub verified_at: Option<i64>,
    /// Why the last verify failed; none when it passed or never ran.
    pub verify_error: Option<String>,
    /// Given at `backup run --tag`, sorted; retention's keep-tag reads them.
    pub tags: Vec<String>,
}

const COLUMNS: &str = "id, set_name, kind, base_id, dir, created_at, strategy, strategy_version, artifacts, bytes, run_id, verified_at, verify_error, tags";

fn from_row(row: &Row) -> rusqlite::Result<BackupRecord> {
    let kind: String = row.get(2)?;
    Ok(BackupRecord {
        id: row.get(0)?,
        set: row.get(1)?,
        kind: if kind == "incremental" { BackupKind::Incremental } else { BackupKind::Full },
        base: row.get(3)?,
        dir: PathBuf::from(row.get::<_, String>(4)?),
        created_at: row.get(5)?,
        strategy: row.get(6)?,
        strategy_version: row.get(7)?,
        artifacts: row.get(8)?,
        bytes: row.get::<_, i64>(9)? as u64,
        run_id: row.get(10)?,
        verified_at: row.get(11)?,
        verify_error: row.get(12)?,
        tags: row.get::<_, String>(13)?.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect(),
    })
}

impl State {
    pub fn insert_backup(&self, b: &BackupRecord) -> Result<(), StateError> {
        self.conn().execute(
            &format!("INSERT INTO backups ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
            params![
                b.id,
                b.set,
                b.kind.as_str(),
                b.base,
                b.dir.to_string_lossy(),
                b.created_at,
                b.strategy,
                b.strategy_version,
                b.artifacts,
                b.bytes as i64,
                b.run_id,
                b.verified_at,
                b.verify_error,
                b.tags.join(",")
            ],
        )?;
        Ok(())
    }

    /// Backups of `set` (all sets when none), oldest first.
    /// Set `set`'s newest backup.
    pub fn latest_backup(&self, set: &str) -> Result<Option<BackupRecord>, StateError> {
        let sql = format!("SELECT {COLUMNS} FROM backups WHERE set_name = ?1 ORDER BY created_at DESC, id DESC LIMIT 1");
        Ok(self.conn().query_row(&sql, [set], from_row).optional()?)
    }

    pub fn backups(&self, set: Option<&str>) -> Result<Vec<BackupRecord>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM backups WHERE ?1 IS NULL OR set_name = ?1 ORDER BY created_at, id"
        ))?;
        let rows = statement.query_map([set], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn backup(&self, id: &str) -> Result<Option<BackupRecord>, StateError> {
        let record = self
            .conn()
            .query_row(&format!("SELECT {COLUMNS} FROM backups WHERE id = ?1"), [id], from_row)
            .optional()?;
        Ok(record)
    }

    /// The catalog row of the backup stored in `dir`, if any.
    pub fn backup_in_dir(&self, dir: &std::path::Path) -> Result<Option<BackupRecord>, StateError> {
        let record = self
            .conn()
            .query_row(&format!("SELECT {COLUMNS} FROM backups WHERE dir = ?1"), [dir.to_string_lossy()], from_row)
            .optional()?;
        Ok(record)
    }

    /// The newest full backup of `set`: the base of its next incremental.
    pub fn latest_full_backup(&self, set: &str) -> Result<Option<BackupRecord>, StateError> {
        let record = self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM backups WHERE set_name = ?1 AND kind = 'full' ORDER BY created_at DESC, id DESC LIMIT 1"),
                [set],
                from_row,
            )
            .optional()?;
        Ok(record)
    }

    pub fn record_verify(&self, id: &str, at: i64, error: Option<&str>) -> Result<(), StateError> {
        self.conn().execute("UPDATE backups SET verified_at = ?2, verify_error = ?3 WHERE id = ?1", params![id, at, error.map(crate::secrets::mask)])?;
        Ok(())
    }

    pub fn delete_backup(&self, id: &str) -> Result<(), StateError> {
        self.conn().execute("DELETE FROM backups WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Backups that the latest successful release of each service points to;
    /// retention never removes them.
    pub fn backups_of_latest_releases(&self) -> Result<Vec<(String, String)>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT r.backup_id, r.service || ' ' || r.version FROM releases r
             WHERE r.outcome = 'succeeded' AND r.backup_id IS NOT NULL
               AND r.created_at = (SELECT MAX(created_at) FROM releases l
                                   WHERE l.service = r.service AND l.env = r.env AND l.outcome = 'succeeded')",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
