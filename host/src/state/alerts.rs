//! Alerts that fire, and silences: kept in the store so a restarted
//! `bosun serve` neither tells the same firing twice nor forgets to tell
//! its resolution.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{State, StateError};

/// A rule that holds for a target, long enough to fire.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FiringAlert {
    pub rule: String,
    pub target: String,
    pub host: String,
    /// When the condition began to hold (seconds since the epoch).
    pub since: i64,
    pub fired_at: i64,
    /// When `alert.firing` was last sent; none while a silence covered it throughout.
    pub notified_at: Option<i64>,
    pub severity: String,
    /// What was seen, e.g. `container web on local is exited`.
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Silence {
    pub id: i64,
    pub rule: String,
    /// Only this target; none: every target of the rule.
    pub target: Option<String>,
    /// Seconds since the epoch.
    pub until: i64,
    pub by: String,
    pub why: String,
    pub created_at: i64,
}

fn firing_from(row: &Row) -> rusqlite::Result<FiringAlert> {
    Ok(FiringAlert {
        rule: row.get(0)?,
        target: row.get(1)?,
        host: row.get(2)?,
        since: row.get(3)?,
        fired_at: row.get(4)?,
        notified_at: row.get(5)?,
        severity: row.get(6)?,
        summary: row.get(7)?,
    })
}

fn silence_from(row: &Row) -> rusqlite::Result<Silence> {
    Ok(Silence { id: row.get(0)?, rule: row.get(1)?, target: row.get(2)?, until: row.get(3)?, by: row.get(4)?, why: row.get(5)?, created_at: row.get(6)? })
}

const FIRING: &str = "rule, target, host, since, fired_at, notified_at, severity, summary";
const SILENCE: &str = "id, rule, target, until, by, why, created_at";

impl State {
    pub fn firing_alert(&self, rule: &str, target: &str, host: &str) -> Result<Option<FiringAlert>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!("SELECT {FIRING} FROM alerts WHERE rule = ?1 AND target = ?2 AND host = ?3"))?;
        Ok(statement.query_row(params![rule, target, host], firing_from).optional()?)
    }

    /// Every alert that fires now, oldest first.
    pub fn firing_alerts(&self) -> Result<Vec<FiringAlert>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!("SELECT {FIRING} FROM alerts ORDER BY fired_at, rule, target, host"))?;
        let rows = statement.query_map([], firing_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps `alert` as firing (a new one, or one told again).
    pub fn set_firing(&self, alert: &FiringAlert) -> Result<(), StateError> {
        self.conn().execute(
            &format!("INSERT OR REPLACE INTO alerts ({FIRING}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![alert.rule, alert.target, alert.host, alert.since, alert.fired_at, alert.notified_at, alert.severity, crate::secrets::mask(&alert.summary)],
        )?;
        Ok(())
    }

    pub fn resolve_alert(&self, rule: &str, target: &str, host: &str) -> Result<(), StateError> {
        self.conn().execute("DELETE FROM alerts WHERE rule = ?1 AND target = ?2 AND host = ?3", params![rule, target, host])?;
        Ok(())
    }

    pub fn add_silence(&self, rule: &str, target: Option<&str>, until: i64, by: &str, why: &str, now: i64) -> Result<i64, StateError> {
        let conn = self.conn();
        conn.execute("INSERT INTO silences (rule, target, until, by, why, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", params![rule, target, until, by, why, now])?;
        Ok(conn.last_insert_rowid())
    }

    /// Silences still in force at `now`, newest first.
    pub fn silences(&self, now: i64) -> Result<Vec<Silence>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!("SELECT {SILENCE} FROM silences WHERE until > ?1 ORDER BY id DESC"))?;
        let rows = statement.query_map(params![now], silence_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Ends silence `id` now; false when there is no such silence in force.
    pub fn expire_silence(&self, id: i64, now: i64) -> Result<bool, StateError> {
        Ok(self.conn().execute("UPDATE silences SET until = ?2 WHERE id = ?1 AND until > ?2", params![id, now])? == 1)
    }
}

impl Silence {
    pub fn covers(&self, rule: &str, target: &str) -> bool {
        self.rule == rule && self.target.as_deref().is_none_or(|t| t == target)
    }
}
