//! The `compose` strategy: bosun drives `docker compose` (or the older
//! `docker-compose`) on the service's compose file, with `VERSION` set to the
//! version deployed (the file writes `image: repo:${VERSION}`), and records
//! the command it ran. A failed release runs the previous version again.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::apply::{Applied, Log, NotApplied};
use super::client::DockerClient;
use super::health::{unless_cancelled, wait_healthy};
use crate::ops::cancel::Cancel;
use super::plan::{HealthPlan, Refusal, ReleaseFacts, Target};
use super::snapshot::Snapshot;
use super::steps::{OnStep, Step};
use crate::app::App;
use crate::config::parse_duration;
use crate::failure::Failure;

const PROJECT_LABEL: &str = "com.docker.compose.project";
const SERVICE_LABEL: &str = "com.docker.compose.service";

#[derive(Debug, Clone, Serialize)]
pub struct ComposePlan {
    #[serde(flatten)]
    pub facts: ReleaseFacts,
    pub file: PathBuf,
    /// The compose project: `<project>-<env>`.
    pub project: String,
    pub compose_service: String,
    /// The compose program and its arguments, without the version.
    pub program: Vec<String>,
    /// The version running now, run again if this release fails.
    pub previous: Option<String>,
    pub health: HealthPlan,
}

impl ComposePlan {
    /// The compose arguments that run `subcommand` on this project's service.
    fn args(&self, subcommand: &[&str]) -> Vec<String> {
        let mut args = self.program[1..].to_vec();
        args.extend(["--file".into(), self.file.to_string_lossy().into_owned(), "--project-name".into(), self.project.clone()]);
        args.extend(subcommand.iter().map(|a| a.to_string()));
        args.push(self.compose_service.clone());
        args
    }

    /// The full command line of `up`, as recorded.
    fn up_args(&self) -> Vec<String> {
        self.args(&["up", "--detach", "--no-deps", "--no-build"])
    }
}

impl fmt::Display for ComposePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let facts = &self.facts;
        writeln!(f, "{} {} {} ({}) with compose", facts.kind.as_str(), facts.service, facts.version, facts.env)?;
        writeln!(f, "  image     {}", facts.image)?;
        writeln!(f, "  run       VERSION={} {} {}", facts.version, self.program[0], self.up_args().join(" "))?;
        if let Some(previous) = &self.previous {
            writeln!(f, "  on failure  run it again with VERSION={previous}")?;
        }
        writeln!(f, "  healthy   {}", self.health)
    }
}

/// `docker compose` when the plugin is there, else `docker-compose`.
async fn compose_program() -> Option<Vec<String>> {
    let works = |program: &'static str, args: &'static [&'static str]| async move {
        tokio::process::Command::new(program).args(args).output().await.is_ok_and(|o| o.status.success())
    };
    if works("docker", &["compose", "version"]).await {
        Some(vec!["docker".into(), "compose".into()])
    } else if works("docker-compose", &["version"]).await {
        Some(vec!["docker-compose".into()])
    } else {
        None
    }
}

pub async fn plan(app: &App, snapshot: &Snapshot, target: Target) -> Result<ComposePlan, Failure> {
    let Target { service_name, service, version, kind, .. } = target;
    let env = app.config.project.env.clone();
    let scope = format!("{service_name}@{env}");
    let file = app.config.resolve(service.file.as_deref().unwrap_or(Path::new("docker-compose.yml")));
    let contents = std::fs::read(&file).map_err(|e| {
        Failure::bad_input(format!("services.{service_name}.file: cannot read the compose file {}: {e}; nothing was changed", file.display()))
    })?;
    let program = compose_program().await.ok_or_else(|| {
        Failure::bad_input(format!("{scope}: neither `docker compose` nor `docker-compose` works here; install one (Debian: apt install docker-compose)"))
    })?;
    let image = format!("{}:{version}", service.image);
    let Some(image_info) = snapshot.images.get(&image) else {
        return Err(Refusal::new(&scope, &format!("image {image} is not on this machine; pull it with `bosun images pull {image}`")).into());
    };
    let service_config = serde_json::to_string(&service).expect("a service serializes");
    let mut hasher = Sha256::new();
    hasher.update(&contents);
    hasher.update(service_config.as_bytes());
    let previous = app.state()?.succeeded_releases(&service_name, &env, Some(crate::config::hosts::LOCAL))?.into_iter().next().map(|r| r.version);
    let timeout = parse_duration(&service.health_timeout).map_err(Failure::bad_input)?;
    Ok(ComposePlan {
        facts: ReleaseFacts {
            service: service_name.clone(),
            env: env.clone(),
            version,
            kind,
            image,
            image_id: image_info.id.clone(),
            config_hash: hex::encode(hasher.finalize()),
            service_config,
        },
        file: std::path::absolute(&file).unwrap_or(file),
        project: compose_project_name(&app.config.project.name, &env),
        compose_service: service.compose_service.clone().unwrap_or(service_name),
        program,
        previous,
        // Whether a healthcheck exists is known once compose made the container.
        health: HealthPlan { docker_healthcheck: false, checks: service.checks.clone(), timeout_ms: timeout.as_millis() as u64 },
    })
}

/// Compose's own rule: lower case, `[a-z0-9_-]`.
fn compose_project_name(project: &str, env: &str) -> String {
    format!("{project}-{env}").to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || "_-".contains(*c)).collect()
}

pub async fn apply(app: &App, engine: &DockerClient, plan: &ComposePlan, run_id: i64, log: &mut Log, on_step: OnStep<'_>, cancel: &Cancel) -> Result<Applied, NotApplied> {
    let not_applied = |problem: String, logs: String, health| NotApplied { problem, health, logs, undo_failures: vec![] };
    let outcome = async {
        cancel.check().map_err(|problem| not_applied(problem, String::new(), None))?;
        on_step(&Step::new(format!("running {} up", plan.program.join(" "))));
        up(plan, &plan.facts.version, log).await.map_err(|problem| not_applied(problem, String::new(), None))?;
        let (id, name) = running_container(engine, plan).await.map_err(|problem| not_applied(problem, String::new(), None))?;
        let has_healthcheck = engine
            .container(&id)
            .await
            .ok()
            .flatten()
            .and_then(|c| c.config?.healthcheck?.test)
            .is_some_and(|t| t.first().is_some_and(|f| f != "NONE"));
        let health_plan = HealthPlan { docker_healthcheck: has_healthcheck, ..plan.health.clone() };
        let health = unless_cancelled(cancel, wait_healthy(app, engine, &id, &name, &health_plan, run_id, on_step)).await;
        if let Some(problem) = health.problem.clone() {
            let logs = engine.logs(&id, 100).await;
            return Err(not_applied(problem, logs, Some(health)));
        }
        log.push(format!("{name} is healthy"));
        Ok(Applied { container_id: id, container_name: name, health, removed: vec![], warnings: vec![] })
    }
    .await;
    let Err(mut failed) = outcome else { return outcome };
    log.push(format!("failed: {}", failed.problem));
    on_step(&Step::new(format!("undoing: running {} again", plan.previous.as_deref().map_or("nothing".to_string(), |v| format!("version {v}")))));
    let undo = match &plan.previous {
        Some(previous) => up(plan, previous, log).await.map(|()| log.push(format!("undo: ran version {previous} again"))),
        None => down(plan, log).await,
    };
    if let Err(e) = undo {
        failed.undo_failures.push(e);
    }
    Err(failed)
}

/// Runs compose `up` with `VERSION=version`; its output goes to the log.
async fn up(plan: &ComposePlan, version: &str, log: &mut Log) -> Result<(), String> {
    run(plan, version, plan.up_args(), log).await
}

/// Stops and removes the service's containers (nothing ran before).
async fn down(plan: &ComposePlan, log: &mut Log) -> Result<(), String> {
    run(plan, &plan.facts.version, plan.args(&["rm", "--stop", "--force"]), log).await
}

async fn run(plan: &ComposePlan, version: &str, args: Vec<String>, log: &mut Log) -> Result<(), String> {
    let started = Instant::now();
    let shown = format!("VERSION={version} {} {}", plan.program[0], args.join(" "));
    let out = tokio::process::Command::new(&plan.program[0])
        .args(&args)
        .env("VERSION", version)
        .env("BOSUN_VERSION", version)
        .current_dir(plan.file.parent().unwrap_or(Path::new(".")))
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", plan.program[0]))?;
    let output = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    log.push(format!("ran: {shown} ({:.1}s, {})\n{}", started.elapsed().as_secs_f64(), out.status, output.trim_end()));
    if out.status.success() {
        return Ok(());
    }
    let last = output.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string();
    Err(format!("`{shown}` exited {}: {last}", out.status.code().map_or("on a signal".into(), |c| c.to_string())))
}

/// The running container compose made for the service: id and name.
async fn running_container(engine: &DockerClient, plan: &ComposePlan) -> Result<(String, String), String> {
    let labels = BTreeMap::from([(PROJECT_LABEL, plan.project.clone()), (SERVICE_LABEL, plan.compose_service.clone())]);
    let found = engine.managed(&labels).await.map_err(|e| format!("{e:#}"))?;
    let newest = found.into_iter().next().ok_or_else(|| format!("compose made no container for service {} in project {}", plan.compose_service, plan.project))?;
    Ok((newest.id, newest.name))
}

#[cfg(test)]
mod tests {
    #[test]
    fn compose_project_names_follow_compose_rules() {
        assert_eq!(super::compose_project_name("Shop.Web", "prod"), "shopweb-prod");
    }
}
