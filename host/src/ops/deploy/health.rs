//! Whether a new container is healthy: its Docker healthcheck (or, without
//! one, that it runs), then the service's `[checks.*]`, all within the
//! service's `health_timeout`.

use std::time::{Duration, Instant};

use bollard::models::HealthStatusEnum;
use serde::Serialize;

use super::client::DockerClient;
use super::plan::HealthPlan;
use super::steps::{OnStep, Step};
use crate::app::App;
use crate::ops::cancel::{CANCELLED, Cancel};
use crate::ops::check::{self, CheckReport};

const POLL: Duration = Duration::from_millis(200);
const CHECK_RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub healthy: bool,
    /// Why not, in one line.
    pub problem: Option<String>,
    /// The last report of each check.
    pub checks: Vec<CheckReport>,
}

/// `waiting` (a [`wait_healthy`]), ended early as unhealthy when `cancel` fires.
pub async fn unless_cancelled(cancel: &Cancel, waiting: impl Future<Output = Health>) -> Health {
    tokio::select! {
        health = waiting => health,
        () = cancel.cancelled() => Health { healthy: false, problem: Some(CANCELLED.to_string()), checks: vec![] },
    }
}

/// Waits for `container` (named `name` in messages) to be healthy by `plan`.
pub async fn wait_healthy(app: &App, engine: &DockerClient, container: &str, name: &str, plan: &HealthPlan, run_id: i64, on_step: OnStep<'_>) -> Health {
    let deadline = Instant::now() + Duration::from_millis(plan.timeout_ms);
    let waiting = format!("waiting for {name} to be {}", if plan.docker_healthcheck { "healthy" } else { "running" });
    let tick = |left: Duration| on_step(&Step::waiting(waiting.as_str(), left));
    if let Err(problem) = container_healthy(engine, container, name, plan.docker_healthcheck, deadline, &tick).await {
        return Health { healthy: false, problem: Some(problem), checks: vec![] };
    }
    let mut checks = Vec::new();
    for check in &plan.checks {
        let report = check_passes(app, check, deadline, run_id, on_step).await;
        let failed = !report.passed;
        checks.push(report);
        if failed {
            let problem = format!("check {check} did not pass within {}s", plan.timeout_ms / 1000);
            return Health { healthy: false, problem: Some(problem), checks };
        }
    }
    Health { healthy: true, problem: None, checks }
}

/// Polls `container` until it is healthy (or, without a healthcheck,
/// running), telling `tick` the time left before `deadline` at each poll.
pub(crate) async fn container_healthy(
    engine: &DockerClient,
    container: &str,
    name: &str,
    docker_healthcheck: bool,
    deadline: Instant,
    tick: &(dyn Fn(Duration) + Send + Sync),
) -> Result<(), String> {
    loop {
        tick(deadline.saturating_duration_since(Instant::now()));
        let inspected = engine.container(container).await.map_err(|e| format!("{e:#}"))?.ok_or_else(|| format!("container {name} disappeared"))?;
        let state = inspected.state.unwrap_or_default();
        if !state.running.unwrap_or(false) && !state.restarting.unwrap_or(false) {
            let code = state.exit_code.unwrap_or_default();
            let oom = if state.oom_killed.unwrap_or(false) { ", killed for running out of memory" } else { "" };
            return Err(format!("container {name} exited with code {code}{oom}"));
        }
        let health = state.health.unwrap_or_default();
        match (docker_healthcheck, health.status) {
            (false, _) | (true, Some(HealthStatusEnum::HEALTHY)) => return Ok(()),
            (true, Some(HealthStatusEnum::UNHEALTHY)) => {
                let last = health.log.unwrap_or_default().pop().and_then(|l| l.output).unwrap_or_default();
                return Err(format!("container {name} is unhealthy: {}", last.trim().replace('\n', " ")));
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(format!("container {name} was not healthy within the health_timeout"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Runs check `name` until it passes or the deadline; the last report.
async fn check_passes(app: &App, name: &str, deadline: Instant, run_id: i64, on_step: OnStep<'_>) -> CheckReport {
    let running = format!("running check {name}");
    loop {
        on_step(&Step::waiting(running.as_str(), deadline.saturating_duration_since(Instant::now())));
        let report = check::run_named(app, name, false, Some(run_id)).await;
        if report.passed || Instant::now() + CHECK_RETRY >= deadline {
            return report;
        }
        tokio::time::sleep(CHECK_RETRY).await;
    }
}
