//! Deploy and rollback: take the service's lock, read a [`Snapshot`] of the
//! engine and host, plan the release from it (refusing before anything
//! changes), record the release, apply it, and on failure put the service
//! back where it was.

mod apply;
pub mod client;
mod compose;
pub(crate) mod health;
mod naming;
pub mod plan;
mod preflight;
pub mod snapshot;
mod sockets;
pub mod spec;
pub mod steps;

use std::time::Instant;

use serde::Serialize;

pub use compose::ComposePlan;
pub use plan::{DeployPlan, Order, PlanOptions, Refusal, ReleaseFacts, Target};
pub use steps::{Step, StepSink};

use self::client::DockerClient;
use self::naming::{NameFacts, container_name};
use self::snapshot::Snapshot;
use crate::app::App;
use crate::ops::cancel::Cancel;
use crate::config::{Service, Strategy, check_version};
use crate::failure::Failure;
use crate::ops::lock::ServiceLock;
use crate::ops::notify::{self, Notice, Severity};
use crate::state::{NewRelease, Outcome, ReleaseKind, ReleaseOutcome, ReleaseRecord, now_unix};

pub struct ReleaseOptions {
    /// `-m`: why, recorded with the release.
    pub note: String,
    pub dry_run: bool,
    /// Recreate the container even when the version already runs unchanged.
    pub force: bool,
    /// Told of each step as it starts.
    pub on_step: StepSink,
    /// Looked at between steps: a cancelled release is undone like a failed one.
    pub cancel: Cancel,
    /// Who asked, for the release record (`token ci`); none: the local user.
    pub by: Option<String>,
}

/// A release's plan, by the service's strategy.
#[derive(Serialize)]
#[serde(tag = "strategy", rename_all = "lowercase")]
pub enum ReleasePlan {
    Run(Box<DeployPlan>),
    Compose(Box<ComposePlan>),
}

impl ReleasePlan {
    pub fn facts(&self) -> &ReleaseFacts {
        match self {
            ReleasePlan::Run(plan) => &plan.facts,
            ReleasePlan::Compose(plan) => &plan.facts,
        }
    }

    /// The version running before this release (and its container's name,
    /// for a `run` service), if any.
    pub fn previous(&self) -> Option<(String, Option<String>)> {
        match self {
            ReleasePlan::Run(plan) => plan.replaces.first().map(|old| (old.version.clone(), Some(old.name.clone()))),
            ReleasePlan::Compose(plan) => plan.previous.clone().map(|version| (version, None)),
        }
    }

    /// Where the service is after a failed release was undone.
    fn back_to(&self, scope: &str) -> String {
        let previous = self.previous().map(|(version, name)| match name {
            Some(name) => format!("{version} ({name})"),
            None => version,
        });
        match previous {
            Some(previous) => format!("{scope} is back on version {previous}"),
            None => format!("{scope} had nothing running before and has nothing running now"),
        }
    }
}

impl std::fmt::Display for ReleasePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReleasePlan::Run(plan) => plan.fmt(f),
            ReleasePlan::Compose(plan) => plan.fmt(f),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Released {
    /// Dry run: what would happen.
    Planned { plan: Box<ReleasePlan> },
    /// The version already runs from the same image with the same config: nothing done.
    Unchanged { container: String, plan: Box<ReleasePlan> },
    Done {
        release: Box<ReleaseRecord>,
        plan: Box<ReleasePlan>,
        removed: Vec<String>,
        warnings: Vec<String>,
        elapsed_secs: f64,
    },
}

/// The service called `name` in bosun.toml.
pub fn service<'a>(app: &'a App, name: &str) -> Result<&'a Service, Failure> {
    app.config.services.get(name).ok_or_else(|| {
        let known: Vec<&str> = app.config.services.keys().map(String::as_str).collect();
        let known = if known.is_empty() { "none; add a [services.<name>] table".to_string() } else { known.join(", ") };
        Failure::bad_input(format!("no service called {name}; bosun.toml has: {known}"))
    })
}

/// `bosun deploy <service> [version]`.
pub async fn deploy(app: &App, name: &str, version: Option<&str>, options: &ReleaseOptions) -> Result<Released, Failure> {
    let service = service(app, name)?;
    let version = version.or(service.version.as_deref()).ok_or_else(|| {
        Failure::bad_input(format!("no version to deploy for {name}: pass one (`bosun deploy {name} 1.4.2`) or set services.{name}.version"))
    })?;
    check_version(version).map_err(|e| Failure::bad_input(format!("version {e}")))?;
    let target = Target {
        service_name: name.to_string(),
        service: service.clone(),
        version: version.to_string(),
        kind: ReleaseKind::Deploy,
        pinned_image: None,
        from_release: None,
        kept_container: None,
    };
    release(app, target, options).await
}

/// `bosun rollback <service> [--to VERSION]`: the newest successful release
/// before the current one, or the newest successful one of VERSION.
pub async fn rollback(app: &App, name: &str, to: Option<&str>, options: &ReleaseOptions) -> Result<Released, Failure> {
    service(app, name)?;
    let env = &app.config.project.env;
    let succeeded = app.state()?.succeeded_releases(name, env)?;
    let current = succeeded.first();
    let chosen = match to {
        Some(version) => succeeded.iter().find(|r| r.version == version),
        None => succeeded.get(1),
    };
    let Some(chosen) = chosen else {
        let what = to.map_or("earlier successful release".to_string(), |v| format!("successful release of version {v}"));
        return Err(Failure::bad_input(format!("{name}@{env} has no {what} to roll back to; `bosun releases {name}` lists them")));
    };
    if current.is_some_and(|c| c.id == chosen.id) {
        return Err(Failure::bad_input(format!("{name}@{env} already runs release {} (version {})", chosen.id, chosen.version)));
    }
    let service: Service = serde_json::from_str(&chosen.service_config)
        .map_err(|e| Failure::failed(format!("release {} of {name}: its recorded config does not parse ({e}); deploy a version instead", chosen.id)))?;
    let target = Target {
        service_name: name.to_string(),
        service,
        version: chosen.version.clone(),
        kind: ReleaseKind::Rollback,
        pinned_image: Some(chosen.image_digest.clone()).filter(|d| !d.is_empty()),
        from_release: Some(chosen.id),
        kept_container: Some(chosen.container_id.clone()).filter(|c| !c.is_empty()),
    };
    release(app, target, options).await
}

/// Names the new container (the naming plugin runs here, unless a kept
/// container is started again), then plans from the snapshot.
async fn plan_run(app: &App, snapshot: &Snapshot, target: Target, config_dir: std::path::PathBuf, options: &ReleaseOptions) -> Result<DeployPlan, Failure> {
    let project = &app.config.project;
    let mut plan_options = PlanOptions { project: project.name.clone(), env: project.env.clone(), config_dir, name: String::new(), force: options.force };
    if plan::kept(&target, snapshot, &plan_options).is_none() {
        let (_, image) = plan::image(&target, snapshot, &plan_options)?;
        let facts = NameFacts { service: &target.service_name, version: &target.version, image_id: &image.id, now: now_unix() };
        plan_options.name = container_name(app, &facts, options.dry_run)
            .await
            .map_err(|e| Refusal::new(&plan_options.scope(&target), &format!("naming the container: {e:#}")))?;
    }
    Ok(plan::plan(target, snapshot, &plan_options)?)
}

async fn release(app: &App, target: Target, options: &ReleaseOptions) -> Result<Released, Failure> {
    let started = Instant::now();
    // A check that cannot run would fail the release after the switch; say so first.
    let checks: Vec<&str> = target.service.checks.iter().map(String::as_str).collect();
    crate::ops::check::validate(app, &checks).await.map_err(|problems| Failure::bad_input_each(problems.iter().map(|p| format!("{p}; nothing was changed"))))?;
    let engine = DockerClient::open().await?;
    let scope = format!("{}@{}", target.service_name, app.config.project.env);
    let state = app.state()?;
    let _lock = if options.dry_run { None } else { Some(ServiceLock::acquire(state, &scope, &target.version, &options.note)?) };
    let config_dir = std::path::absolute(app.config.resolve(std::path::Path::new(""))).map_err(anyhow::Error::from)?;
    let snapshot = Snapshot::gather(&engine, &target, &config_dir).await?;
    let plan = match target.service.strategy {
        Strategy::Run => ReleasePlan::Run(Box::new(plan_run(app, &snapshot, target, config_dir, options).await?)),
        Strategy::Compose => ReleasePlan::Compose(Box::new(compose::plan(app, &snapshot, target).await?)),
    };
    if let ReleasePlan::Run(run) = &plan
        && let Some(running) = &run.unchanged
    {
        return Ok(Released::Unchanged { container: running.name.clone(), plan: Box::new(plan) });
    }
    if options.dry_run {
        return Ok(Released::Planned { plan: Box::new(plan) });
    }
    let facts = plan.facts();
    let run_id = state.start_run(facts.kind.as_str(), &scope)?;
    let release_id = state.start_release(&NewRelease {
        service: &facts.service,
        env: &facts.env,
        version: &facts.version,
        kind: facts.kind,
        image: &facts.image,
        image_digest: &facts.image_id,
        config_hash: &facts.config_hash,
        service_config: &facts.service_config,
        note: &options.note,
        backup_id: None,
        run_id: Some(run_id),
        by: options.by.as_deref(),
    })?;
    let mut log = vec![plan.to_string()];
    let who = options.by.clone().unwrap_or_else(crate::state::who);
    let notice = |outcome: &str, severity, title: String, body: String| {
        Notice::new(format!("{}.{outcome}", facts.kind.as_str()), severity, title, body)
            .fact("project", &app.config.project.name)
            .fact("env", &facts.env)
            .fact("service", &facts.service)
            .fact("version", &facts.version)
            .fact("image", &facts.image)
            .fact("who", &who)
    };
    let verb = match facts.kind {
        ReleaseKind::Rollback => "Rolling back",
        _ => "Deploying",
    };
    let started_notice = notice("started", Severity::Info, format!("{verb} {} {} to {}", facts.service, facts.version, facts.env), options.note.clone());
    let apply = async {
        match &plan {
            ReleasePlan::Run(run) => apply::apply(app, &engine, run, apply::ReleaseRun { release: release_id, run: run_id }, &mut log, &*options.on_step, &options.cancel).await,
            ReleasePlan::Compose(compose) => compose::apply(app, &engine, compose, run_id, &mut log, &*options.on_step, &options.cancel).await,
        }
    };
    let (applied, _) = tokio::join!(apply, notify::tell(app, run_id, &started_notice));
    match applied {
        Ok(applied) => {
            let checks = serde_json::to_value(&applied.health.checks).unwrap_or_default();
            state.finish_release(release_id, ReleaseOutcome::Succeeded, &applied.container_id, &applied.container_name, &checks)?;
            let summary = format!("{} {} {} as {}", facts.kind.as_str(), facts.service, facts.version, applied.container_name);
            state.finish_run(run_id, Outcome::Succeeded, &summary, &log.join("\n"))?;
            let elapsed_secs = started.elapsed().as_secs_f64();
            let done = notice(
                "succeeded",
                Severity::Success,
                format!("{} {} is live on {}", facts.service, facts.version, facts.env),
                format!("Release {release_id} ({}) runs as {}; took {elapsed_secs:.1}s.", facts.kind.as_str(), applied.container_name),
            )
            .fact("container", &applied.container_name)
            .fact("duration", format!("{elapsed_secs:.1}s"));
            notify::tell(app, run_id, &done).await;
            let release = state.release(release_id)?.expect("the release was just recorded");
            Ok(Released::Done { release: Box::new(release), plan: Box::new(plan), removed: applied.removed, warnings: applied.warnings, elapsed_secs })
        }
        Err(failed) => {
            let checks = failed.health.as_ref().map(|h| serde_json::to_value(&h.checks).unwrap_or_default()).unwrap_or_default();
            state.finish_release(release_id, ReleaseOutcome::Failed, "", "", &checks)?;
            if !failed.logs.is_empty() {
                log.push(format!("output of the new container:\n{}", failed.logs));
            }
            state.finish_run(run_id, Outcome::Failed, &failed.problem, &log.join("\n"))?;
            let back = plan.back_to(&scope);
            let mut message = format!("{} of {} {} failed: {}; {back}", facts.kind.as_str(), facts.service, facts.version, failed.problem);
            if !failed.undo_failures.is_empty() {
                message = format!("{message}; but putting it back failed too, look at it now: {}", failed.undo_failures.join("; "));
            }
            if let Some(last) = failed.logs.lines().rev().find(|l| !l.trim().is_empty()) {
                message.push_str(&format!("; its last output: {}", last.trim()));
            }
            message.push_str(&format!(" (release {release_id}, run {run_id})"));
            let failed_notice = notice("failed", Severity::Failure, format!("{} of {} {} to {} failed", facts.kind.as_str(), facts.service, facts.version, facts.env), message.clone())
                .fact("error", &failed.problem)
                .fact("duration", format!("{:.1}s", started.elapsed().as_secs_f64()));
            notify::tell(app, run_id, &failed_notice).await;
            Err(Failure::failed(message))
        }
    }
}
