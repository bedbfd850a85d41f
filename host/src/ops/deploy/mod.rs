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
pub mod rollout;
pub mod snapshot;
mod sockets;
pub mod spec;
pub mod steps;
pub mod swarm;

use serde::Serialize;

pub use compose::ComposePlan;
pub use plan::{DeployPlan, Order, PlanOptions, Refusal, ReleaseFacts, Target};
pub use rollout::{HostTarget, OnHost, Rollout, Skipped};
pub use steps::{Step, StepSink};

use self::naming::{NameFacts, container_name};
use self::snapshot::Snapshot;
use crate::app::App;
use crate::ops::cancel::Cancel;
use crate::config::{Service, check_version};
use crate::failure::Failure;
use crate::state::{ReleaseKind, ReleaseRecord, now_unix};

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
    /// `--hosts`: only these of the service's hosts (none: all of them).
    pub hosts: Vec<String>,
    /// `--from VERSION`: only the hosts whose current release is that version.
    pub from: Option<String>,
}

/// Recorded without a note, applied, never cancelled, every host, told of no step.
impl Default for ReleaseOptions {
    fn default() -> Self {
        ReleaseOptions { note: String::new(), dry_run: false, force: false, on_step: Box::new(|_| {}), cancel: Cancel::never(), by: None, hosts: Vec::new(), from: None }
    }
}

/// A release's plan, by the service's strategy.
#[derive(Serialize)]
#[serde(tag = "strategy", rename_all = "lowercase")]
pub enum ReleasePlan {
    Run(Box<DeployPlan>),
    Compose(Box<ComposePlan>),
    Swarm(Box<swarm::SwarmPlan>),
}

impl ReleasePlan {
    pub fn facts(&self) -> &ReleaseFacts {
        match self {
            ReleasePlan::Run(plan) => &plan.facts,
            ReleasePlan::Compose(plan) => &plan.facts,
            ReleasePlan::Swarm(plan) => &plan.facts,
        }
    }

    /// The version running before this release (and its container's name,
    /// for a `run` service), if any.
    pub fn previous(&self) -> Option<(String, Option<String>)> {
        match self {
            ReleasePlan::Run(plan) => plan.replaces.first().map(|old| (old.version.clone(), Some(old.name.clone()))),
            ReleasePlan::Compose(plan) => plan.previous.clone().map(|version| (version, None)),
            ReleasePlan::Swarm(plan) => plan.previous().map(|version| (version, None)),
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
            ReleasePlan::Swarm(plan) => plan.fmt(f),
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

/// `bosun deploy <service> [version]`: on each of the service's hosts (those
/// in `--hosts`; with `--from`, those running that version).
pub async fn deploy(app: &App, name: &str, version: Option<&str>, options: &ReleaseOptions) -> Result<Rollout, Failure> {
    let service = service(app, name)?;
    let version = version.or(service.version.as_deref()).ok_or_else(|| {
        Failure::bad_input(format!("no version to deploy for {name}: pass one (`bosun deploy {name} 1.4.2`) or set services.{name}.version"))
    })?;
    check_version(version).map_err(|e| Failure::bad_input(format!("version {e}")))?;
    let hosts = hosts_of(app, name, &options.hosts)?;
    let (hosts, skipped) = match &options.from {
        Some(from) => rollout::running(app, name, hosts, from)?,
        None => (hosts, Vec::new()),
    };
    let target = |host: String| HostTarget {
        host,
        target: Target {
            service_name: name.to_string(),
            service: service.clone(),
            version: version.to_string(),
            kind: ReleaseKind::Deploy,
            pinned_image: None,
            from_release: None,
            kept_container: None,
        },
    };
    rollout::run(app, hosts.into_iter().map(target).collect(), skipped, options).await
}

/// `bosun rollback <service> [--to VERSION]`: the newest successful release
/// before the current one, or the newest successful one of VERSION; across
/// hosts, a version every host has run.
pub async fn rollback(app: &App, name: &str, to: Option<&str>, options: &ReleaseOptions) -> Result<Rollout, Failure> {
    service(app, name)?;
    let env = &app.config.project.env;
    let state = app.state()?;
    let hosts = hosts_of(app, name, &options.hosts)?;
    if let [host] = hosts.as_slice() {
        let succeeded = state.succeeded_releases(name, env, Some(host))?;
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
        let target = HostTarget { host: host.clone(), target: rollback_target(chosen)? };
        return rollout::run(app, vec![target], Vec::new(), options).await;
    }
    let history = hosts.iter().map(|host| Ok((host.clone(), state.succeeded_releases(name, env, Some(host))?))).collect::<Result<Vec<_>, Failure>>()?;
    let (targets, skipped) = rollout::back_to(name, env, &history, to)?;
    rollout::run(app, targets, skipped, options).await
}

/// A rollback to the recorded release `chosen`: its config, its image, its container if kept.
fn rollback_target(chosen: &ReleaseRecord) -> Result<Target, Failure> {
    let name = &chosen.service;
    let service: Service = serde_json::from_str(&chosen.service_config)
        .map_err(|e| Failure::failed(format!("release {} of {name}: its recorded config does not parse ({e}); deploy a version instead", chosen.id)))?;
    Ok(Target {
        service_name: name.clone(),
        service,
        version: chosen.version.clone(),
        kind: ReleaseKind::Rollback,
        pinned_image: Some(chosen.image_digest.clone()).filter(|d| !d.is_empty()),
        from_release: Some(chosen.id),
        kept_container: Some(chosen.container_id.clone()).filter(|c| !c.is_empty()),
    })
}

/// The hosts service `name` runs on; only those in `only` when it names any.
fn hosts_of(app: &App, name: &str, only: &[String]) -> Result<Vec<String>, Failure> {
    let hosts = app.config.service_hosts(name);
    if let Some(unknown) = only.iter().find(|h| !hosts.contains(h)) {
        return Err(Failure::bad_input(format!("--hosts: {name} does not run on a host called {unknown}; it runs on: {}", hosts.join(", "))));
    }
    Ok(hosts.into_iter().filter(|h| only.is_empty() || only.contains(h)).collect())
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
