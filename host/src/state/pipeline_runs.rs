//! Pipeline runs: the inputs a run was started with, each step's state,
//! attempts, outputs and log, and the concurrency keys runs hold. The run
//! itself is a row of `runs`, so `bosun runs` lists it with the others.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::process::ProcessMark;
use super::{State, StateError, now_unix};
use crate::secrets::mask;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Pending,
    Running,
    /// An `approve` step waiting for `bosun approve` or `bosun reject`.
    Waiting,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
    /// Its bosun ended while it ran.
    Interrupted,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Waiting => "waiting",
            StepState::Succeeded => "succeeded",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
            StepState::Cancelled => "cancelled",
            StepState::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> StepState {
        match s {
            "running" => StepState::Running,
            "waiting" => StepState::Waiting,
            "succeeded" => StepState::Succeeded,
            "failed" => StepState::Failed,
            "skipped" => StepState::Skipped,
            "cancelled" => StepState::Cancelled,
            "interrupted" => StepState::Interrupted,
            _ => StepState::Pending,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StepRecord {
    pub step: String,
    pub phase: String,
    pub position: i64,
    pub state: StepState,
    pub attempts: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub outputs: serde_json::Value,
    pub summary: String,
    pub log: String,
}

/// How a step ended, to record.
#[derive(Debug, Clone)]
pub struct StepEnd {
    pub step: String,
    pub state: StepState,
    pub outputs: serde_json::Value,
    pub summary: String,
    pub log: String,
}

/// How a person decided on an `approve` step.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub approved: bool,
    pub who: String,
    pub note: String,
    pub at: i64,
}

/// What a pipeline run was started with.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineRun {
    pub run_id: i64,
    pub pipeline: String,
    pub inputs: serde_json::Value,
    pub dry_run: bool,
}

/// A step as the run starts: its id, phase and place.
pub struct PlannedStep<'a> {
    pub id: &'a str,
    pub phase: &'a str,
    pub position: usize,
}

/// The concurrency key is held by another run.
#[derive(Debug, Clone)]
pub struct KeyHeld {
    pub key: String,
    pub run_id: i64,
    pub who: String,
    pub started_at: i64,
}

impl State {
    /// Records the start of a run of `pipeline` by `by` (default the local
    /// user) with its steps pending, and takes `key` for it, all at once; the
    /// holder if `key` is taken by a run that is still running.
    pub fn start_pipeline_run(&self, pipeline: &str, inputs: &serde_json::Value, dry_run: bool, steps: &[PlannedStep<'_>], key: Option<&str>, by: Option<&str>) -> Result<Result<i64, KeyHeld>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(holder) = key_holder(&tx, key, 0)? {
            return Ok(Err(holder));
        }
        let me = ProcessMark::current();
        tx.execute(
            "INSERT INTO runs (operation, target, who, started_at, host, pid, pid_started) VALUES ('pipeline', ?1, ?2, ?3, ?4, ?5, ?6)",
            params![pipeline, by.map_or_else(super::who, str::to_string), now_unix(), me.host, me.pid, me.started],
        )?;
        let run_id = tx.last_insert_rowid();
        tx.execute("INSERT INTO pipeline_runs (run_id, pipeline, inputs, dry_run) VALUES (?1, ?2, ?3, ?4)", params![run_id, pipeline, crate::secrets::masked_json_line(inputs), dry_run])?;
        plan_steps(&tx, run_id, steps, key)?;
        tx.commit()?;
        Ok(Ok(run_id))
    }

    /// Takes run `run` up again in this process: running, its key taken
    /// again, every step but the `kept` ones pending (the pipeline's current
    /// `steps`, so a step added since is run too); the holder if another
    /// running run holds `key`.
    pub fn resume_pipeline_run(&self, run: i64, kept: &[&str], steps: &[PlannedStep<'_>], key: Option<&str>) -> Result<Result<(), KeyHeld>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(holder) = key_holder(&tx, key, run)? {
            return Ok(Err(holder));
        }
        let me = ProcessMark::current();
        tx.execute(
            "UPDATE runs SET outcome = 'running', finished_at = NULL, summary = '', host = ?2, pid = ?3, pid_started = ?4 WHERE id = ?1",
            params![run, me.host, me.pid, me.started],
        )?;
        let kept_list = serde_json::to_string(kept).expect("names serialize");
        tx.execute("DELETE FROM pipeline_steps WHERE run_id = ?1 AND step NOT IN (SELECT value FROM json_each(?2))", params![run, kept_list])?;
        plan_steps(&tx, run, steps, key)?;
        tx.commit()?;
        Ok(Ok(()))
    }

    /// Step `step` of run `run` starts its `attempt`th try.
    pub fn step_started(&self, run: i64, step: &str, attempt: u32) -> Result<(), StateError> {
        self.conn().execute(
            "UPDATE pipeline_steps SET state = 'running', attempts = ?3, started_at = COALESCE(started_at, ?4) WHERE run_id = ?1 AND step = ?2",
            params![run, step, attempt, now_unix()],
        )?;
        Ok(())
    }

    /// Steps of run `run` ended, all in one transaction (a dry run records
    /// its steps at its end: one write, not one per step).
    pub fn steps_finished(&self, run: i64, ends: &[StepEnd]) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for end in ends {
            tx.execute(
                "UPDATE pipeline_steps SET state = ?3, finished_at = ?4, outputs = ?5, summary = ?6, log = ?7 WHERE run_id = ?1 AND step = ?2",
                params![run, end.step, end.state.as_str(), now_unix(), crate::secrets::masked_json_line(&end.outputs), mask(&end.summary), mask(&end.log)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Step `step` of run `run` waits for a person (or no longer does):
    /// the step and the run say `waiting` meanwhile.
    pub fn set_waiting(&self, run: i64, step: &str, waiting: bool) -> Result<(), StateError> {
        let (step_state, outcome) = if waiting { ("waiting", "waiting") } else { ("running", "running") };
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("UPDATE pipeline_steps SET state = ?3 WHERE run_id = ?1 AND step = ?2", params![run, step, step_state])?;
        tx.execute("UPDATE runs SET outcome = ?2 WHERE id = ?1 AND outcome IN ('running', 'waiting')", params![run, outcome])?;
        tx.commit()?;
        Ok(())
    }

    /// Records `by`'s decision on the step run `run` waits on; which step
    /// that is, or why there is none.
    pub fn decide(&self, run: i64, approved: bool, note: &str, by: &str) -> Result<Result<String, String>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let waiting: Option<String> = tx.query_row("SELECT step FROM pipeline_steps WHERE run_id = ?1 AND state = 'waiting'", [run], |row| row.get(0)).optional()?;
        let Some(step) = waiting else {
            return Ok(Err(format!("run {run} waits for no approval; `bosun runs {run}` shows where it is")));
        };
        tx.execute(
            "INSERT OR REPLACE INTO pipeline_approvals (run_id, step, approved, who, note, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![run, step, approved, by, mask(note), now_unix()],
        )?;
        tx.commit()?;
        Ok(Ok(step))
    }

    /// The decision on step `step` of run `run`, once there is one.
    pub fn decision(&self, run: i64, step: &str) -> Result<Option<Decision>, StateError> {
        let found = self
            .conn()
            .query_row("SELECT approved, who, note, at FROM pipeline_approvals WHERE run_id = ?1 AND step = ?2", params![run, step], |row| {
                Ok(Decision { approved: row.get(0)?, who: row.get(1)?, note: row.get(2)?, at: row.get(3)? })
            })
            .optional()?;
        Ok(found)
    }

    /// The newest successful run (not a dry run) of `pipeline` started at or
    /// after `since` in which a step's `image_digest` output is `digest`.
    pub fn passed_with_digest(&self, pipeline: &str, digest: &str, since: i64) -> Result<Option<i64>, StateError> {
        let found = self
            .conn()
            .query_row(
                "SELECT r.id FROM runs r JOIN pipeline_runs p ON p.run_id = r.id JOIN pipeline_steps s ON s.run_id = r.id \
                 WHERE p.pipeline = ?1 AND p.dry_run = 0 AND r.outcome = 'succeeded' AND r.started_at >= ?3 \
                 AND s.state = 'succeeded' AND json_extract(s.outputs, '$.image_digest') = ?2 ORDER BY r.id DESC LIMIT 1",
                params![pipeline, digest, since],
                |row| row.get(0),
            )
            .optional()?;
        Ok(found)
    }

    /// When scheduled pipeline `pipeline` was last due, if `bosun serve` ever saw it.
    pub fn schedule_mark(&self, pipeline: &str) -> Result<Option<i64>, StateError> {
        Ok(self.conn().query_row("SELECT last_due FROM pipeline_schedules WHERE pipeline = ?1", [pipeline], |row| row.get(0)).optional()?)
    }

    pub fn set_schedule_mark(&self, pipeline: &str, due: i64) -> Result<(), StateError> {
        self.conn().execute("INSERT OR REPLACE INTO pipeline_schedules (pipeline, last_due) VALUES (?1, ?2)", params![pipeline, due])?;
        Ok(())
    }

    /// Lets go of the concurrency key run `run` holds, if any.
    pub fn release_pipeline_key(&self, run: i64) -> Result<(), StateError> {
        self.conn().execute("DELETE FROM pipeline_keys WHERE run_id = ?1", [run])?;
        Ok(())
    }

    pub fn pipeline_run(&self, run: i64) -> Result<Option<PipelineRun>, StateError> {
        let found = self
            .conn()
            .query_row("SELECT run_id, pipeline, inputs, dry_run FROM pipeline_runs WHERE run_id = ?1", [run], |row| {
                let inputs: String = row.get(2)?;
                Ok(PipelineRun { run_id: row.get(0)?, pipeline: row.get(1)?, inputs: serde_json::from_str(&inputs).unwrap_or_default(), dry_run: row.get(3)? })
            })
            .optional()?;
        Ok(found)
    }

    /// The steps of run `run`: its steps, then its `on_failure` steps, each in order.
    pub fn pipeline_steps(&self, run: i64) -> Result<Vec<StepRecord>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT step, phase, position, state, attempts, started_at, finished_at, outputs, summary, log FROM pipeline_steps \
             WHERE run_id = ?1 ORDER BY phase = 'on_failure', position",
        )?;
        let steps = statement.query_map([run], |row| {
            let outputs: String = row.get(7)?;
            Ok(StepRecord {
                step: row.get(0)?,
                phase: row.get(1)?,
                position: row.get(2)?,
                state: StepState::parse(&row.get::<_, String>(3)?),
                attempts: row.get(4)?,
                started_at: row.get(5)?,
                finished_at: row.get(6)?,
                outputs: serde_json::from_str(&outputs).unwrap_or_default(),
                summary: row.get(8)?,
                log: row.get(9)?,
            })
        })?;
        Ok(steps.collect::<Result<_, _>>()?)
    }
}

/// Run `run`'s steps pending (those it has already are left as they are),
/// and `key` held by it.
fn plan_steps(tx: &rusqlite::Transaction<'_>, run: i64, steps: &[PlannedStep<'_>], key: Option<&str>) -> Result<(), StateError> {
    for step in steps {
        tx.execute(
            "INSERT OR IGNORE INTO pipeline_steps (run_id, step, phase, position, state) VALUES (?1, ?2, ?3, ?4, 'pending')",
            params![run, step.id, step.phase, step.position as i64],
        )?;
    }
    if let Some(key) = key {
        tx.execute("INSERT OR REPLACE INTO pipeline_keys (key, run_id) VALUES (?1, ?2)", params![key, run])?;
    }
    Ok(())
}

/// The running run other than `me` that holds `key`, if any.
fn key_holder(tx: &rusqlite::Transaction<'_>, key: Option<&str>, me: i64) -> Result<Option<KeyHeld>, StateError> {
    let Some(key) = key else { return Ok(None) };
    let holder = tx
        .query_row(
            "SELECT k.run_id, r.who, r.started_at FROM pipeline_keys k JOIN runs r ON r.id = k.run_id WHERE k.key = ?1 AND r.outcome IN ('running', 'waiting') AND r.id != ?2",
            params![key, me],
            |row| Ok(KeyHeld { key: key.to_string(), run_id: row.get(0)?, who: row.get(1)?, started_at: row.get(2)? }),
        )
        .optional()?;
    Ok(holder)
}
