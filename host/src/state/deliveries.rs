//! Webhook deliveries already taken: a delivery sent again (a replay, or
//! the sender retrying one that worked) is refused by its id.

use rusqlite::params;

use super::{State, StateError, now_unix};

/// How long a delivery id is remembered.
const KEPT_SECS: i64 = 90 * 86_400;

impl State {
    /// Takes delivery `delivery` of trigger `trigger`: false when it was taken before.
    pub fn take_delivery(&self, trigger: &str, delivery: &str) -> Result<bool, StateError> {
        let conn = self.conn();
        conn.execute("DELETE FROM webhook_deliveries WHERE at < ?1", [now_unix() - KEPT_SECS])?;
        let added = conn.execute("INSERT OR IGNORE INTO webhook_deliveries (trigger_name, delivery, at) VALUES (?1, ?2, ?3)", params![trigger, delivery, now_unix()])?;
        Ok(added == 1)
    }

    /// Notes the run a delivery started.
    pub fn delivery_run(&self, trigger: &str, delivery: &str, run: i64) -> Result<(), StateError> {
        self.conn().execute("UPDATE webhook_deliveries SET run_id = ?3 WHERE trigger_name = ?1 AND delivery = ?2", params![trigger, delivery, run])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_delivery_is_taken_once_per_trigger() {
        let dir = tempfile::tempdir().unwrap();
        let state = super::State::open(dir.path()).unwrap();
        assert!(state.take_delivery("release", "d-1").unwrap());
        assert!(!state.take_delivery("release", "d-1").unwrap(), "the same delivery again is refused");
        assert!(state.take_delivery("other", "d-1").unwrap(), "another trigger's id space is its own");
    }
}
