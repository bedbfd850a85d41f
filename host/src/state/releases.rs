//! Release records: what was deployed where, by whom, from which image and
//! config, and how it went. A row is written when a deploy starts (its id
//! labels the containers) and finished when the outcome is known.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{State, StateError, now_unix, who};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseKind {
    Deploy,
    Rollback,
    Update,
}

impl ReleaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseKind::Deploy => "deploy",
            ReleaseKind::Rollback => "rollback",
            ReleaseKind::Update => "update",
        }
    }

    fn parse(s: &str) -> ReleaseKind {
        match s {
            "rollback" => ReleaseKind::Rollback,
            "update" => ReleaseKind::Update,
            _ => ReleaseKind::Deploy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseOutcome {
    /// Started and not finished: in progress, or the process died mid-way.
    Deploying,
    Succeeded,
    Failed,
    /// Its bosun ended mid-way (see the run's record).
    Interrupted,
}

impl ReleaseOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseOutcome::Deploying => "deploying",
            ReleaseOutcome::Succeeded => "succeeded",
            ReleaseOutcome::Failed => "failed",
            ReleaseOutcome::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> ReleaseOutcome {
        match s {
            "succeeded" => ReleaseOutcome::Succeeded,
            "failed" => ReleaseOutcome::Failed,
            "interrupted" => ReleaseOutcome::Interrupted,
            _ => ReleaseOutcome::Deploying,
        }
    }
}

/// What is known when a release starts.
#[derive(Debug, Clone)]
pub struct NewRelease<'a> {
    pub service: &'a str,
    pub env: &'a str,
    /// The `[hosts.*]` it is made on.
    pub host: &'a str,
    pub version: &'a str,
    pub kind: ReleaseKind,
    /// The image reference (`repo:version`).
    pub image: &'a str,
    /// The local image id the container runs (`sha256:…`).
    pub image_digest: &'a str,
    pub config_hash: &'a str,
    /// The service's bosun.toml table as JSON.
    pub service_config: &'a str,
    pub note: &'a str,
    pub backup_id: Option<&'a str>,
    pub run_id: Option<i64>,
    /// Who asked (`token ci`, `schedule`); none: the local user.
    pub by: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReleaseRecord {
    pub id: i64,
    pub service: String,
    pub env: String,
    pub host: String,
    pub version: String,
    pub kind: ReleaseKind,
    pub image: String,
    pub image_digest: String,
    pub container_id: String,
    pub container_name: String,
    pub config_hash: String,
    #[serde(skip)]
    pub service_config: String,
    pub who: String,
    pub created_at: i64,
    pub note: String,
    pub backup_id: Option<String>,
    /// Check results as JSON.
    pub checks: serde_json::Value,
    pub outcome: ReleaseOutcome,
    pub run_id: Option<i64>,
}

const COLUMNS: &str = "id, service, env, version, kind, image, image_digest, container_id, container_name, config_hash, \
                       service_config, who, created_at, note, backup_id, checks, outcome, run_id, host";

fn from_row(row: &Row) -> rusqlite::Result<ReleaseRecord> {
    let checks: String = row.get(15)?;
    Ok(ReleaseRecord {
        id: row.get(0)?,
        service: row.get(1)?,
        env: row.get(2)?,
        version: row.get(3)?,
        kind: ReleaseKind::parse(&row.get::<_, String>(4)?),
        image: row.get(5)?,
        image_digest: row.get(6)?,
        container_id: row.get(7)?,
        container_name: row.get(8)?,
        config_hash: row.get(9)?,
        service_config: row.get(10)?,
        who: row.get(11)?,
        created_at: row.get(12)?,
        note: row.get(13)?,
        backup_id: row.get(14)?,
        checks: serde_json::from_str(&checks).unwrap_or(serde_json::Value::Null),
        outcome: ReleaseOutcome::parse(&row.get::<_, String>(16)?),
        run_id: row.get(17)?,
        host: row.get(18)?,
    })
}

impl State {
    /// Records the start of a release; returns its id.
    pub fn start_release(&self, r: &NewRelease) -> Result<i64, StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO releases (service, env, version, kind, image, image_digest, config_hash, service_config, who, created_at, note, backup_id, outcome, run_id, host)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'deploying', ?13, ?14)",
            params![
                r.service,
                r.env,
                r.version,
                r.kind.as_str(),
                r.image,
                r.image_digest,
                r.config_hash,
                r.service_config,
                r.by.map_or_else(who, str::to_string),
                now_unix(),
                r.note,
                r.backup_id,
                r.run_id,
                r.host
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Records how release `id` ended and the container it left running.
    pub fn finish_release(&self, id: i64, outcome: ReleaseOutcome, container_id: &str, container_name: &str, checks: &serde_json::Value) -> Result<(), StateError> {
        self.conn().execute(
            "UPDATE releases SET outcome = ?2, container_id = ?3, container_name = ?4, checks = ?5 WHERE id = ?1",
            params![id, outcome.as_str(), container_id, container_name, crate::secrets::masked_json_line(checks)],
        )?;
        Ok(())
    }

    /// Releases of `service` (every service when none) in `env`, oldest first.
    pub fn releases(&self, service: Option<&str>, env: &str) -> Result<Vec<ReleaseRecord>, StateError> {
        let conn = self.conn();
        let mut statement =
            conn.prepare(&format!("SELECT {COLUMNS} FROM releases WHERE (?1 IS NULL OR service = ?1) AND env = ?2 ORDER BY id"))?;
        let rows = statement.query_map(params![service, env], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn release(&self, id: i64) -> Result<Option<ReleaseRecord>, StateError> {
        let record = self.conn().query_row(&format!("SELECT {COLUMNS} FROM releases WHERE id = ?1"), [id], from_row).optional()?;
        Ok(record)
    }

    /// The succeeded releases of `service` in `env` on `host` (on any host
    /// when none), newest first.
    pub fn succeeded_releases(&self, service: &str, env: &str, host: Option<&str>) -> Result<Vec<ReleaseRecord>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM releases WHERE service = ?1 AND env = ?2 AND (?3 IS NULL OR host = ?3) AND outcome = 'succeeded' ORDER BY id DESC"
        ))?;
        let rows = statement.query_map(params![service, env, host], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
