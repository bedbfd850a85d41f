//! The last result of each check, kept so the status overview, the
//! dashboard and `/metrics` can show it without running anything.

use rusqlite::params;
use serde::Serialize;

use super::{State, StateError, now_unix};
use crate::secrets::masked_json_line;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    pub check: String,
    pub run_id: Option<i64>,
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub passed: bool,
    pub elapsed_ms: i64,
    /// How many runs in a row it has failed (0 when the last passed).
    pub failures: i64,
    /// The check's report as `bosun check --json` shows it.
    pub report: serde_json::Value,
}

impl State {
    /// Keeps `report` as check `check`'s last result, counting failures in a row.
    pub fn record_check_result(&self, check: &str, run: Option<i64>, passed: bool, elapsed_ms: u128, report: &serde_json::Value) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO check_results (check_name, run_id, at, passed, elapsed_ms, report, failures) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NOT ?4)
             ON CONFLICT (check_name) DO UPDATE SET run_id = excluded.run_id, at = excluded.at, passed = excluded.passed, elapsed_ms = excluded.elapsed_ms,
                 report = excluded.report, failures = CASE WHEN excluded.passed THEN 0 ELSE check_results.failures + 1 END",
            params![check, run, now_unix(), passed, elapsed_ms.min(i64::MAX as u128) as i64, masked_json_line(report)],
        )?;
        Ok(())
    }

    /// Each check's last result, by name.
    pub fn check_results(&self) -> Result<Vec<CheckResult>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached("SELECT check_name, run_id, at, passed, elapsed_ms, report, failures FROM check_results ORDER BY check_name")?;
        let rows = statement.query_map([], |row| {
            let report: String = row.get(5)?;
            Ok(CheckResult {
                check: row.get(0)?,
                run_id: row.get(1)?,
                at: row.get(2)?,
                passed: row.get(3)?,
                elapsed_ms: row.get(4)?,
                failures: row.get(6)?,
                report: serde_json::from_str(&report).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_keeps_only_its_last_result() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        state.record_check_result("home", None, false, 12, &serde_json::json!({ "summary": "down" })).unwrap();
        state.record_check_result("home", None, true, 7, &serde_json::json!({ "summary": "up" })).unwrap();
        state.record_check_result("api", None, true, 3, &serde_json::json!({})).unwrap();
        let results = state.check_results().unwrap();
        assert_eq!(results.iter().map(|r| r.check.as_str()).collect::<Vec<_>>(), ["api", "home"]);
        assert!(results[1].passed && results[1].elapsed_ms == 7 && results[1].report["summary"] == "up" && results[1].failures == 0);
        // Failures in a row: counted up, back to 0 by a pass.
        let failures = |state: &State| state.check_results().unwrap().into_iter().find(|r| r.check == "api").unwrap().failures;
        for expected in [1, 2, 3] {
            state.record_check_result("api", None, false, 3, &serde_json::json!({})).unwrap();
            assert_eq!(failures(&state), expected);
        }
        state.record_check_result("api", None, true, 3, &serde_json::json!({})).unwrap();
        assert_eq!(failures(&state), 0);
    }
}
