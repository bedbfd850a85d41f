//! A run's events in order (steps starting, retrying, ending, their log
//! lines), for following a run live and resuming where a client left off.
//! What is written is masked like every record.

use rusqlite::params;
use serde::Serialize;

use super::{State, StateError};
use crate::secrets::mask;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunEvent {
    /// 1, 2, … within the run: the id a client resumes after.
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// `started`, `retrying`, `line`, `ended` or `finished`.
    pub kind: String,
    pub data: serde_json::Value,
}

impl State {
    /// Adds an event to run `run`, after the ones it has.
    pub fn add_run_event(&self, run: i64, kind: &str, data: &serde_json::Value) -> Result<(), StateError> {
        let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        self.conn().execute(
            "INSERT INTO run_events (run_id, seq, at, kind, data) \
             SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4 FROM run_events WHERE run_id = ?1",
            params![run, at, kind, mask(&data.to_string())],
        )?;
        Ok(())
    }

    /// Run `run`'s events after `after`, in order, at most `limit`.
    pub fn run_events(&self, run: i64, after: i64, limit: usize) -> Result<Vec<RunEvent>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached("SELECT seq, at, kind, data FROM run_events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
        let rows = statement.query_map(params![run, after, limit as i64], |row| {
            let data: String = row.get(3)?;
            Ok(RunEvent { seq: row.get(0)?, at: row.get(1)?, kind: row.get(2)?, data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)) })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_back_in_order_after_the_one_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let run = state.start_run("pipeline", "p").unwrap();
        let other = state.start_run("pipeline", "q").unwrap();
        for n in 1..=3 {
            state.add_run_event(run, "line", &serde_json::json!({ "text": format!("line {n}") })).unwrap();
        }
        state.add_run_event(other, "line", &serde_json::json!({ "text": "elsewhere" })).unwrap();
        let all = state.run_events(run, 0, 100).unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        let rest = state.run_events(run, 1, 100).unwrap();
        assert_eq!(rest.iter().map(|e| e.data["text"].as_str().unwrap()).collect::<Vec<_>>(), ["line 2", "line 3"]);
        assert_eq!(state.run_events(other, 0, 100).unwrap()[0].seq, 1, "each run counts from 1");
        assert_eq!(state.run_events(run, 0, 2).unwrap().len(), 2, "limit holds");
    }
}
