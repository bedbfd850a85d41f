//! The history of `bosun images update`: one row per recreated container.

use rusqlite::params;
use serde::Serialize;

use super::{State, StateError, now_unix, who};

#[derive(Debug, Clone, Serialize)]
pub struct ImageUpdate {
    pub id: i64,
    pub image: String,
    pub container: String,
    pub old_image_id: String,
    pub new_image_id: String,
    pub was_running: bool,
    /// `succeeded` or `failed` (the old container was put back).
    pub outcome: String,
    pub error: Option<String>,
    pub who: String,
    pub at: i64,
    pub run_id: Option<i64>,
}

/// One container's update as it is recorded; who and when are added.
pub struct NewImageUpdate<'a> {
    pub image: &'a str,
    pub container: &'a str,
    pub old_image_id: &'a str,
    pub new_image_id: &'a str,
    pub was_running: bool,
    /// Why the recreate failed; none when it succeeded.
    pub error: Option<&'a str>,
    pub run_id: i64,
}

impl State {
    pub fn record_image_update(&self, u: &NewImageUpdate) -> Result<i64, StateError> {
        let conn = self.conn();
        let outcome = if u.error.is_none() { "succeeded" } else { "failed" };
        conn.execute(
            "INSERT INTO image_updates (image, container, old_image_id, new_image_id, was_running, outcome, error, who, at, run_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![u.image, u.container, u.old_image_id, u.new_image_id, u.was_running, outcome, u.error.map(crate::secrets::mask), who(), now_unix(), u.run_id],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Every recorded update, oldest first.
    pub fn image_updates(&self) -> Result<Vec<ImageUpdate>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT id, image, container, old_image_id, new_image_id, was_running, outcome, error, who, at, run_id FROM image_updates ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(ImageUpdate {
                id: row.get(0)?,
                image: row.get(1)?,
                container: row.get(2)?,
                old_image_id: row.get(3)?,
                new_image_id: row.get(4)?,
                was_running: row.get(5)?,
                outcome: row.get(6)?,
                error: row.get(7)?,
                who: row.get(8)?,
                at: row.get(9)?,
                run_id: row.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
