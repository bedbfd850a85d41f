//! Run records: one per operation, with its outcome and log. What is written
//! has registered secrets masked: state.db is read by people and copied around.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{State, StateError, now_unix};
use crate::secrets::mask;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Running,
    Succeeded,
    Failed,
    Skipped,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> Outcome {
        match s {
            "succeeded" => Outcome::Succeeded,
            "failed" => Outcome::Failed,
            "skipped" => Outcome::Skipped,
            _ => Outcome::Running,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub operation: String,
    pub target: String,
    pub who: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub outcome: Outcome,
    pub summary: String,
    pub log: String,
}

impl State {
    /// Records the start of `operation` on `target`; returns the run id.
    pub fn start_run(&self, operation: &str, target: &str) -> Result<i64, StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO runs (operation, target, who, started_at) VALUES (?1, ?2, ?3, ?4)",
            params![operation, mask(target), who(), now_unix()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Records how run `id` ended; `log` goes after what was already logged
    /// (e.g. how the `started` notification went).
    pub fn finish_run(&self, id: i64, outcome: Outcome, summary: &str, log: &str) -> Result<(), StateError> {
        self.conn().execute(
            "UPDATE runs SET finished_at = ?2, outcome = ?3, summary = ?4, \
             log = CASE WHEN ?5 = '' THEN log WHEN log = '' THEN ?5 ELSE log || char(10) || ?5 END WHERE id = ?1",
            params![id, now_unix(), outcome.as_str(), mask(summary), mask(log)],
        )?;
        Ok(())
    }

    /// Adds lines to a run's log after it finished (e.g. how notifying went).
    pub fn append_run_log(&self, id: i64, text: &str) -> Result<(), StateError> {
        self.conn().execute("UPDATE runs SET log = log || char(10) || ?2 WHERE id = ?1", params![id, mask(text)])?;
        Ok(())
    }

    pub fn run(&self, id: i64) -> Result<Option<RunRecord>, StateError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
        Ok(self.conn().query_row(&sql, [id], run_record).optional()?)
    }

    /// The newest `limit` runs, newest first, without their logs.
    pub fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let conn = self.conn();
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?1");
        let mut statement = conn.prepare(&sql)?;
        let runs = statement.query_map([limit as i64], run_record)?.map(|r| r.map(|run| RunRecord { log: String::new(), ..run }));
        Ok(runs.collect::<Result<_, _>>()?)
    }
}

const RUN_COLUMNS: &str = "id, operation, target, who, started_at, finished_at, outcome, summary, log";

fn run_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: row.get(0)?,
        operation: row.get(1)?,
        target: row.get(2)?,
        who: row.get(3)?,
        started_at: row.get(4)?,
        finished_at: row.get(5)?,
        outcome: Outcome::parse(&row.get::<_, String>(6)?),
        summary: row.get(7)?,
        log: row.get(8)?,
    })
}

/// Who ran it: `$BOSUN_USER`, else the login name, else the uid.
pub fn who() -> String {
    std::env::var("BOSUN_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| format!("uid {}", unsafe { libc::getuid() }))
}
