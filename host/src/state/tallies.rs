//! Counts over the records, for `/metrics`: runs by operation and outcome,
//! pipeline run times, releases by kind and outcome.

use super::{State, StateError};

impl State {
    /// Finished runs: (operation, outcome, how many).
    pub fn run_tally(&self) -> Result<Vec<(String, String, u64)>, StateError> {
        self.rows("SELECT operation, outcome, COUNT(*) FROM runs WHERE outcome NOT IN ('running', 'waiting') GROUP BY operation, outcome", |row| Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? as u64)))
    }

    /// Runs under way: (operation, how many).
    pub fn runs_going(&self) -> Result<Vec<(String, u64)>, StateError> {
        self.rows("SELECT operation, COUNT(*) FROM runs WHERE outcome IN ('running', 'waiting') GROUP BY operation", |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))
    }

    /// Each finished pipeline run: (pipeline, outcome, seconds it took).
    pub fn pipeline_run_times(&self) -> Result<Vec<(String, String, f64)>, StateError> {
        self.rows(
            "SELECT target, outcome, finished_at - started_at FROM runs WHERE operation = 'pipeline' AND finished_at IS NOT NULL AND outcome NOT IN ('running', 'waiting')",
            |row| Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)?.max(0) as f64)),
        )
    }

    /// Releases in this environment: (service, kind, outcome, how many).
    pub fn release_tally(&self, env: &str) -> Result<Vec<(String, String, String, u64)>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached("SELECT service, kind, outcome, COUNT(*) FROM releases WHERE env = ?1 GROUP BY service, kind, outcome")?;
        let rows = statement.query_map([env], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get::<_, i64>(3)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn rows<T>(&self, sql: &str, row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>) -> Result<Vec<T>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(sql)?;
        let rows = statement.query_map([], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
