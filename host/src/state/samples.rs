//! Samples `[watch]` takes of containers and processes, and their
//! downsampling: rows older than `keep_raw` fold into 5-minute averages,
//! averages older than `keep_averages` go, so the table stays bounded by
//! the number of targets, whatever the uptime.

use rusqlite::{Row, params};
use serde::Serialize;

use super::{State, StateError};

/// Seconds a folded row stands for.
pub const AVERAGE_SPAN: i64 = 300;

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Sample {
    /// `container` or `process`.
    pub kind: String,
    /// A service, a container's name, or a `[watch.processes]` name.
    pub target: String,
    pub host: String,
    /// Seconds since the Unix epoch (an average: its bucket's start).
    pub at: i64,
    /// 0 as taken; 300 for a 5-minute average.
    pub span: i64,
    /// `running`, `exited`, `restarting`, `missing` (nothing matched),
    /// `unknown` (the engine did not answer), …
    pub state: String,
    pub health: Option<String>,
    pub restarts: Option<i64>,
    /// Percent of one core.
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Option<i64>,
    pub memory_limit: Option<i64>,
    pub net_rx: Option<i64>,
    pub net_tx: Option<i64>,
    pub block_read: Option<i64>,
    pub block_write: Option<i64>,
    pub pids: Option<i64>,
    pub threads: Option<i64>,
    pub fds: Option<i64>,
    pub uptime_secs: Option<i64>,
    /// What it was this time: a container's name, the pids and ports of processes.
    pub detail: Option<String>,
}

const COLUMNS: &str = "kind, target, host, at, span, state, health, restarts, cpu_percent, memory_bytes, memory_limit, net_rx, net_tx, block_read, block_write, pids, threads, fds, uptime_secs, detail";

fn from_row(row: &Row) -> rusqlite::Result<Sample> {
    Ok(Sample {
        kind: row.get(0)?,
        target: row.get(1)?,
        host: row.get(2)?,
        at: row.get(3)?,
        span: row.get(4)?,
        state: row.get(5)?,
        health: row.get(6)?,
        restarts: row.get(7)?,
        cpu_percent: row.get(8)?,
        memory_bytes: row.get(9)?,
        memory_limit: row.get(10)?,
        net_rx: row.get(11)?,
        net_tx: row.get(12)?,
        block_read: row.get(13)?,
        block_write: row.get(14)?,
        pids: row.get(15)?,
        threads: row.get(16)?,
        fds: row.get(17)?,
        uptime_secs: row.get(18)?,
        detail: row.get(19)?,
    })
}

/// What one fold did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Folded {
    /// Rows as taken that became averages.
    pub raw: usize,
    /// Averages older than `keep_averages`, deleted.
    pub expired: usize,
}

impl State {
    /// Keeps one collection's samples, in one transaction.
    pub fn record_samples(&self, samples: &[Sample]) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(&format!("INSERT INTO samples ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"))?;
            for s in samples {
                insert.execute(params![
                    s.kind, s.target, s.host, s.at, s.span, s.state, s.health, s.restarts, s.cpu_percent, s.memory_bytes, s.memory_limit, s.net_rx, s.net_tx, s.block_read,
                    s.block_write, s.pids, s.threads, s.fds, s.uptime_secs, s.detail
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// `target`'s samples since `since` (seconds since the epoch), oldest
    /// first, averages and rows as taken together; `host` narrows.
    pub fn samples(&self, target: &str, host: Option<&str>, since: i64) -> Result<Vec<Sample>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM samples WHERE target = ?1 AND (?2 IS NULL OR host = ?2) AND at >= ?3 ORDER BY at, host"))?;
        let rows = statement.query_map(params![target, host, since], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest sample of each target on each host.
    pub fn latest_samples(&self) -> Result<Vec<Sample>, StateError> {
        let conn = self.conn();
        // With one max() and bare columns, SQLite takes those from the row that has the max.
        let mut statement = conn.prepare_cached(&format!("SELECT {COLUMNS}, max(at) FROM samples GROUP BY kind, target, host ORDER BY kind, target, host"))?;
        let rows = statement.query_map([], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many rows the table holds.
    pub fn sample_count(&self) -> Result<i64, StateError> {
        Ok(self.conn().query_row("SELECT count(*) FROM samples", [], |row| row.get(0))?)
    }

    /// Folds rows taken before `now - keep_raw` into 5-minute averages and
    /// deletes averages from before `now - keep_averages`. Whole buckets
    /// only, so a bucket is never averaged twice.
    pub fn fold_samples(&self, now: i64, keep_raw_secs: i64, keep_averages_secs: i64) -> Result<Folded, StateError> {
        let cutoff = (now - keep_raw_secs).div_euclid(AVERAGE_SPAN) * AVERAGE_SPAN;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        // The state, health, counters and limit are the bucket's last; CPU
        // and memory its average. (max(at) is the one max(): SQLite takes the
        // bare columns from its row.)
        tx.execute(
            &format!(
                "INSERT INTO samples ({COLUMNS})
                 SELECT kind, target, host, bucket, {AVERAGE_SPAN}, state, health, restarts, cpu, memory, memory_limit, net_rx, net_tx, block_read, block_write, pids, threads, fds, uptime_secs, detail
                 FROM (SELECT kind, target, host, (at / {AVERAGE_SPAN}) * {AVERAGE_SPAN} AS bucket, state, health, restarts, avg(cpu_percent) AS cpu,
                              CAST(avg(memory_bytes) AS INTEGER) AS memory, memory_limit, net_rx, net_tx, block_read, block_write, pids, threads, fds, uptime_secs, detail, max(at)
                       FROM samples WHERE span = 0 AND at < ?1 GROUP BY kind, target, host, at / {AVERAGE_SPAN})"
            ),
            params![cutoff],
        )?;
        let raw = tx.execute("DELETE FROM samples WHERE span = 0 AND at < ?1", params![cutoff])?;
        let expired = tx.execute(&format!("DELETE FROM samples WHERE span = {AVERAGE_SPAN} AND at < ?1"), params![now - keep_averages_secs])?;
        tx.commit()?;
        Ok(Folded { raw, expired })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(target: &str, at: i64, cpu: f64, memory: i64, state: &str) -> Sample {
        Sample { kind: "process".into(), target: target.into(), host: "local".into(), at, state: state.into(), cpu_percent: Some(cpu), memory_bytes: Some(memory), ..Sample::default() }
    }

    #[test]
    fn three_days_every_15s_fold_into_a_bounded_table_with_true_averages() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let (day, interval) = (86_400, 15);
        let start = 1_700_000_000 / AVERAGE_SPAN * AVERAGE_SPAN;
        // Two targets; every collection an hour of samples is written, then folded, as serve does.
        for hour in 0..72 {
            let batch: Vec<Sample> = (0..3600 / interval)
                .flat_map(|i| {
                    let at = start + hour * 3600 + i * interval;
                    // CPU alternates 10 and 30 within each bucket: its average is 20.
                    let cpu = if (at / interval) % 2 == 0 { 10.0 } else { 30.0 };
                    [sample("web", at, cpu, 100, "running"), sample("db", at, 5.0, 1000, if hour < 70 { "running" } else { "exited" })]
                })
                .collect();
            state.record_samples(&batch).unwrap();
            let now = start + (hour + 1) * 3600;
            state.fold_samples(now, day, 2 * day).unwrap();
        }
        let now = start + 72 * 3600;
        let raw_per_target = day / interval;
        let averages_per_target = 2 * day / AVERAGE_SPAN;
        // Two targets: a day of raw rows and two days of averages each, a bucket of slack.
        let bound = 2 * (raw_per_target + AVERAGE_SPAN / interval + averages_per_target + 1);
        let count = state.sample_count().unwrap();
        assert!(count <= bound && count > 2 * raw_per_target, "{count} rows, bound {bound}");

        let web = state.samples("web", None, 0).unwrap();
        let averages: Vec<&Sample> = web.iter().filter(|s| s.span == AVERAGE_SPAN).collect();
        assert!(averages.iter().all(|s| s.cpu_percent == Some(20.0) && s.memory_bytes == Some(100) && s.at % AVERAGE_SPAN == 0), "{:?}", averages.first());
        assert!(averages.first().unwrap().at >= now - 2 * day, "older averages are gone");
        let oldest_raw = web.iter().find(|s| s.span == 0).unwrap();
        assert!(oldest_raw.at >= now - day - AVERAGE_SPAN && oldest_raw.at > averages.last().unwrap().at, "raw rows follow the averages");

        let latest = state.latest_samples().unwrap();
        assert_eq!(latest.iter().map(|s| (s.target.as_str(), s.state.as_str(), s.at)).collect::<Vec<_>>(), [("db", "exited", now - interval), ("web", "running", now - interval)]);
    }
}
