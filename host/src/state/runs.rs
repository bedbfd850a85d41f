//! Run records: one per operation, with its outcome and log. What is written
//! has registered secrets masked: state.db is read by people and copied around.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::process::ProcessMark;
use super::{State, StateError, now_unix};
use crate::secrets::mask;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Running,
    /// A step waits for a person (`bosun approve`); its bosun still runs.
    Waiting,
    Succeeded,
    Failed,
    Skipped,
    /// Stopped on purpose (Ctrl-C) before it ended.
    Cancelled,
    /// Its bosun ended without saying how the run went (killed, crashed,
    /// the machine went down); found by a later bosun.
    Interrupted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Waiting => "waiting",
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Cancelled => "cancelled",
            Outcome::Interrupted => "interrupted",
        }
    }

    pub const ALL: [Outcome; 7] = [Outcome::Running, Outcome::Waiting, Outcome::Succeeded, Outcome::Failed, Outcome::Skipped, Outcome::Cancelled, Outcome::Interrupted];

    /// The outcome a word names (`failed`).
    pub fn from_word(word: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == word)
    }

    fn parse(s: &str) -> Outcome {
        Outcome::from_word(s).unwrap_or(Outcome::Running)
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
        let me = ProcessMark::current();
        conn.execute(
            "INSERT INTO runs (operation, target, who, started_at, host, pid, pid_started) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![operation, mask(target), who(), now_unix(), me.host, me.pid, me.started],
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

    /// Marks the runs whose bosun is gone (they say `running` but nothing
    /// runs them) as interrupted, with their unfinished releases; returns
    /// them, each with what was left behind. Locks their process held stay:
    /// what it was doing is half done, and a person should look first.
    pub fn mark_interrupted(&self) -> Result<Vec<Interrupted>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let orphans: Vec<(i64, String, String, ProcessMark)> = tx
            .prepare("SELECT id, operation, target, host, pid, pid_started FROM runs WHERE outcome IN ('running', 'waiting') AND pid != 0")?
            .query_map([], |row| {
                let mark = ProcessMark { host: row.get(3)?, pid: row.get(4)?, started: row.get(5)? };
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, mark))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut found = Vec::new();
        for (id, operation, target, process) in orphans.into_iter().filter(|(.., mark)| mark.is_gone()) {
            let locks: Vec<String> = tx
                .prepare("SELECT scope FROM locks WHERE host = ?1 AND pid = ?2")?
                .query_map(params![process.host, process.pid], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let now = now_unix();
            let mut summary = format!("interrupted: bosun (pid {}) ended without recording an outcome; found at {}", process.pid, crate::time::rfc3339(now as u64));
            for scope in &locks {
                let service = scope.split('@').next().unwrap_or_default();
                summary.push_str(&format!("; the lock on {scope} is kept: check the service, then `bosun lock release {service}`"));
            }
            tx.execute("UPDATE runs SET outcome = 'interrupted', finished_at = ?2, summary = ?3 WHERE id = ?1", params![id, now, summary])?;
            tx.execute("UPDATE releases SET outcome = 'interrupted' WHERE run_id = ?1 AND outcome = 'deploying'", [id])?;
            // A pipeline's concurrency key only keeps others from starting the
            // same work: its holder is gone, so `bosun run --resume` may take it.
            tx.execute("UPDATE pipeline_steps SET state = 'interrupted', finished_at = ?2 WHERE run_id = ?1 AND state IN ('running', 'waiting')", params![id, now])?;
            tx.execute("DELETE FROM pipeline_keys WHERE run_id = ?1", [id])?;
            found.push(Interrupted { id, operation, target, summary });
        }
        tx.commit()?;
        Ok(found)
    }

    pub fn run(&self, id: i64) -> Result<Option<RunRecord>, StateError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
        Ok(self.conn().query_row(&sql, [id], run_record).optional()?)
    }

    /// The newest `limit` runs, newest first, without their logs.
    pub fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        self.runs(&RunFilter { limit, ..RunFilter::default() })
    }

    /// The newest runs `filter` lets through, newest first, without their logs.
    pub fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StateError> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR operation = ?1) AND (?2 IS NULL OR target = ?2) AND (?3 IS NULL OR outcome = ?3) ORDER BY id DESC LIMIT ?4"
        );
        let mut statement = conn.prepare_cached(&sql)?;
        let outcome = filter.outcome.map(Outcome::as_str);
        let runs = statement.query_map(params![filter.operation, filter.target, outcome, filter.limit as i64], run_record)?.map(|r| r.map(|run| RunRecord { log: String::new(), ..run }));
        Ok(runs.collect::<Result<_, _>>()?)
    }
}

/// Which runs [`State::runs`] lists: every one given is required.
#[derive(Debug, Default)]
pub struct RunFilter {
    pub operation: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<Outcome>,
    pub limit: usize,
}

/// A run found interrupted, and what it said about it.
#[derive(Debug, Clone)]
pub struct Interrupted {
    pub id: i64,
    pub operation: String,
    pub target: String,
    pub summary: String,
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
