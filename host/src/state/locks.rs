//! Locks on a service+env: one deploy, rollback or image update at a time.
//! A lock says who holds it, since when, for what version and why (Kamal's
//! lock); a holder that died leaves it in place until `bosun lock release`,
//! and the refusal says so.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{State, StateError, now_unix, who};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Lock {
    /// `service@env`.
    pub scope: String,
    pub holder: String,
    pub host: String,
    pub pid: u32,
    pub acquired_at: i64,
    pub version: String,
    pub message: String,
}

/// Refusal to take a lock someone else holds.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe_held(.0))]
pub struct LockHeld(pub Box<Lock>);

fn describe_held(lock: &Lock) -> String {
    let mut text = format!("{} is locked by {}@{} since {}", lock.scope, lock.holder, lock.host, crate::time::rfc3339(lock.acquired_at.max(0) as u64));
    if !lock.version.is_empty() {
        text.push_str(&format!(" (version {})", lock.version));
    }
    if !lock.message.is_empty() {
        text.push_str(&format!(": {}", lock.message));
    }
    let service = lock.scope.split('@').next().unwrap_or_default();
    if lock.is_orphaned() {
        text.push_str(&format!("; its process {} is gone, so `bosun lock release {service}` is safe", lock.pid));
    } else {
        text.push_str(&format!("; wait for it, or `bosun lock release {service}` if you know it is finished"));
    }
    text
}

impl Lock {
    /// Held by a process on this machine that no longer runs.
    pub fn is_orphaned(&self) -> bool {
        self.host == hostname() && self.pid != 0 && !super::process::alive(self.pid)
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into())
}

const COLUMNS: &str = "scope, holder, host, pid, acquired_at, version, message";

fn from_row(row: &Row) -> rusqlite::Result<Lock> {
    Ok(Lock {
        scope: row.get(0)?,
        holder: row.get(1)?,
        host: row.get(2)?,
        pid: row.get(3)?,
        acquired_at: row.get(4)?,
        version: row.get(5)?,
        message: row.get(6)?,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum AcquireError {
    #[error(transparent)]
    Held(#[from] LockHeld),
    #[error(transparent)]
    State(#[from] StateError),
}

impl State {
    /// Takes the lock on `scope` for this process (`pid` 0: until released
    /// explicitly), or says who holds it.
    pub fn acquire_lock(&self, scope: &str, pid: u32, version: &str, message: &str) -> Result<Lock, AcquireError> {
        let lock = Lock {
            scope: scope.into(),
            holder: who(),
            host: hostname(),
            pid,
            acquired_at: now_unix(),
            version: version.into(),
            message: message.into(),
        };
        let conn = self.conn();
        let inserted = conn
            .execute(
                &format!("INSERT INTO locks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(scope) DO NOTHING"),
                params![lock.scope, lock.holder, lock.host, lock.pid, lock.acquired_at, lock.version, lock.message],
            )
            .map_err(StateError::from)?;
        if inserted == 1 {
            return Ok(lock);
        }
        let held = conn
            .query_row(&format!("SELECT {COLUMNS} FROM locks WHERE scope = ?1"), [scope], from_row)
            .map_err(StateError::from)?;
        Err(LockHeld(Box::new(held)).into())
    }

    /// Releases `scope` if `pid` on this host holds it (a finished operation
    /// never drops someone else's lock).
    pub fn release_own_lock(&self, scope: &str, pid: u32) -> Result<(), StateError> {
        self.conn().execute("DELETE FROM locks WHERE scope = ?1 AND pid = ?2 AND host = ?3", params![scope, pid, hostname()])?;
        Ok(())
    }

    /// Releases `scope` whoever holds it; returns the lock that was released.
    pub fn release_lock(&self, scope: &str) -> Result<Option<Lock>, StateError> {
        let conn = self.conn();
        let held = conn.query_row(&format!("SELECT {COLUMNS} FROM locks WHERE scope = ?1"), [scope], from_row).optional()?;
        conn.execute("DELETE FROM locks WHERE scope = ?1", [scope])?;
        Ok(held)
    }

    pub fn locks(&self) -> Result<Vec<Lock>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!("SELECT {COLUMNS} FROM locks ORDER BY scope"))?;
        let rows = statement.query_map([], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_told_who_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        state.acquire_lock("web@prod", std::process::id(), "1.2", "friday deploy").unwrap();
        let AcquireError::Held(held) = state.acquire_lock("web@prod", 1, "1.3", "").unwrap_err() else { panic!("not held") };
        let text = held.to_string();
        assert!(text.starts_with("web@prod is locked by "), "{text}");
        assert!(text.contains("(version 1.2): friday deploy; wait for it"), "{text}");
        state.acquire_lock("web@staging", 1, "", "").expect("another env is another lock");
        state.release_own_lock("web@prod", 1).unwrap();
        assert_eq!(state.locks().unwrap().len(), 2, "pid 1 does not hold web@prod, so it stays");
        state.release_own_lock("web@prod", std::process::id()).unwrap();
        state.acquire_lock("web@prod", 1, "1.3", "").expect("free again");
    }

    #[test]
    fn a_lock_whose_process_is_gone_says_release_is_safe() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        state.acquire_lock("web@prod", gone, "", "").unwrap();
        let err = state.acquire_lock("web@prod", 1, "", "").unwrap_err().to_string();
        assert!(err.contains(&format!("its process {gone} is gone, so `bosun lock release web` is safe")), "{err}");
        let released = state.release_lock("web@prod").unwrap().expect("was held");
        assert_eq!(released.pid, gone);
        assert!(state.locks().unwrap().is_empty());
    }
}
