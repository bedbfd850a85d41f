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

/// Who ran it: `$BOSUN_USER`, else `$USER`, else the uid's name in the
/// passwd database (cron and systemd units often set no `$USER`), else the uid.
pub fn who() -> String {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let uid = unsafe { libc::getuid() };
    set("BOSUN_USER").or_else(|| set("USER")).or_else(|| user_name(uid)).unwrap_or_else(|| format!("uid {uid}"))
}

/// The passwd name of `uid` (getpwuid_r, so NSS sources count too).
fn user_name(uid: libc::uid_t) -> Option<String> {
    let mut buffer = vec![0 as libc::c_char; 4096];
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to a live local of the size given; on success
    // `found` points at `entry`, whose strings live in `buffer`.
    let code = unsafe { libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found) };
    if code != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    Some(name.to_string_lossy().into_owned()).filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn uid_0_is_named_from_the_passwd_database() {
        assert_eq!(super::user_name(0).as_deref(), Some("root"));
    }
}
