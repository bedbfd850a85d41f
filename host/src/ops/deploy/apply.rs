//! Carrying out a [`DeployPlan`]. Every step that changes the engine is
//! remembered, so a failure undoes them in reverse: the new container is
//! removed (its logs kept), names are given back, and the replaced
//! containers run again as before.

use bollard::models::{RestartPolicy, RestartPolicyNameEnum};

use super::client::DockerClient;
use super::snapshot::Managed;
use super::health::{Health, unless_cancelled, wait_healthy};
use super::plan::{DeployPlan, Order};
use super::steps::{OnStep, Step};
use crate::app::App;
use crate::ops::cancel::Cancel;

/// What a successful release left running.
pub struct Applied {
    pub container_id: String,
    pub container_name: String,
    pub health: Health,
    /// Old containers removed beyond `retain`, and anything that could not be tidied.
    pub removed: Vec<String>,
    pub warnings: Vec<String>,
}

/// A failed release, after its changes were undone.
pub struct NotApplied {
    pub problem: String,
    pub health: Option<Health>,
    /// The new container's last output.
    pub logs: String,
    /// Steps of the undo that failed too: the operator must look.
    pub undo_failures: Vec<String>,
}

/// The changes made so far, to undo on failure.
#[derive(Default)]
struct Done {
    renamed: Option<(String, String)>,
    /// Replaced containers stopped, with the restart policy they had.
    retired: Vec<(Managed, Option<RestartPolicy>)>,
    created: Option<String>,
    started_kept: Option<String>,
}

/// The journal of one release: what happened, in order, for the run record.
pub type Log = Vec<String>;

/// Which release is applied (its id labels the containers), in which run.
#[derive(Clone, Copy)]
pub struct ReleaseRun {
    pub release: i64,
    pub run: i64,
}

/// Carries out `plan`; `cancel` is looked at between steps (and ends the
/// health wait), so a cancelled release is undone like a failed one.
pub async fn apply(app: &App, engine: &DockerClient, plan: &DeployPlan, ids: ReleaseRun, log: &mut Log, on_step: OnStep<'_>, cancel: &Cancel) -> Result<Applied, NotApplied> {
    let mut done = Done::default();
    match steps(app, engine, plan, ids, log, &mut done, (on_step, cancel)).await {
        Ok(applied) => Ok(applied),
        Err((problem, health)) => {
            let problem = by_name(&problem, plan, &done);
            log.push(format!("failed: {problem}"));
            let logs = match done.created.as_deref().or(done.started_kept.as_deref()) {
                Some(name) => engine.logs(name, 100).await,
                None => String::new(),
            };
            on_step(&Step::new(format!("undoing: putting {} back", plan.replaces.first().map_or("what ran before", |old| old.name.as_str()))));
            let undo_failures = undo(engine, plan, &done, log).await.iter().map(|f| by_name(f, plan, &done)).collect();
            Err(NotApplied { problem, health, logs, undo_failures })
        }
    }
}

/// `text` with the ids of the release's containers (the engine's own
/// messages carry them) replaced by their names.
fn by_name(text: &str, plan: &DeployPlan, done: &Done) -> String {
    let new = done.created.iter().chain(&done.started_kept).map(|id| (id.as_str(), plan.container.name.as_str()));
    let old = plan.replaces.iter().chain(&plan.remove).chain(plan.set_aside.as_ref().map(|a| &a.container)).map(|m| (m.id.as_str(), m.name.as_str()));
    new.chain(old).filter(|(id, _)| !id.is_empty()).fold(text.to_string(), |text, (id, name)| text.replace(id, name))
}

type StepError = (String, Option<Health>);

fn step_error(e: anyhow::Error) -> StepError {
    (format!("{e:#}"), None)
}

async fn steps(app: &App, engine: &DockerClient, plan: &DeployPlan, ids: ReleaseRun, log: &mut Log, done: &mut Done, (on_step, cancel): (OnStep<'_>, &Cancel)) -> Result<Applied, StepError> {
    let checkpoint = || cancel.check().map_err(|problem| (problem, None));
    checkpoint()?;
    if let Some(aside) = &plan.set_aside {
        on_step(&Step::new(format!("renaming {} to {}", aside.container.name, aside.renamed_to)));
        engine.rename(&aside.container.id, &aside.renamed_to).await.map_err(step_error)?;
        done.renamed = Some((aside.container.id.clone(), aside.container.name.clone()));
        log.push(format!("renamed {} to {}", aside.container.name, aside.renamed_to));
    }
    if plan.order == Order::StopFirst {
        checkpoint()?;
        retire_replaced(engine, plan, log, done, on_step).await.map_err(step_error)?;
    }
    checkpoint()?;
    let name = &plan.container.name;
    let project = &app.config.project.name;
    let body = plan.container.to_engine(&plan.labels(project, ids.release));
    let container_id = match &plan.reuse {
        Some(kept) => {
            if let Some(policy) = body.host_config.as_ref().and_then(|h| h.restart_policy.clone()) {
                engine.set_restart(&kept.id, policy).await.map_err(step_error)?;
            }
            done.started_kept = Some(kept.id.clone());
            on_step(&Step::new(format!("starting the kept container {}", kept.name)));
            engine.start(&kept.id).await.map_err(step_error)?;
            log.push(format!("started kept container {}", kept.name));
            kept.id.clone()
        }
        None => {
            on_step(&Step::new(format!("creating {name}")));
            let id = engine.create(name, body).await.map_err(step_error)?;
            done.created = Some(id.clone());
            on_step(&Step::new(format!("starting {name}")));
            engine.start(&id).await.map_err(step_error)?;
            log.push(format!("created and started {name}"));
            id
        }
    };
    let health = unless_cancelled(cancel, wait_healthy(app, engine, &container_id, name, &plan.health, ids.run, on_step)).await;
    if let Some(problem) = health.problem.clone() {
        return Err((problem, Some(health)));
    }
    log.push(format!("{name} is healthy"));
    checkpoint()?;
    if plan.order == Order::StartFirst {
        retire_replaced(engine, plan, log, done, on_step).await.map_err(step_error)?;
    }
    let (mut removed, mut warnings) = (Vec::new(), Vec::new());
    for old in &plan.remove {
        on_step(&Step::new(format!("removing {} (beyond retain)", old.name)));
        match engine.remove(&old.id).await {
            Ok(()) => removed.push(old.name.clone()),
            Err(e) => warnings.push(by_name(&format!("could not remove {} beyond retain: {e:#}", old.name), plan, done)),
        }
    }
    if !removed.is_empty() {
        log.push(format!("removed beyond retain: {}", removed.join(", ")));
    }
    Ok(Applied { container_id, container_name: name.clone(), health, removed, warnings })
}

/// Stops the containers the release replaces and sets their restart policy
/// to `no`, remembering the old one for an undo or a later rollback.
async fn retire_replaced(engine: &DockerClient, plan: &DeployPlan, log: &mut Log, done: &mut Done, on_step: OnStep<'_>) -> anyhow::Result<()> {
    for old in &plan.replaces {
        on_step(&Step::new(format!("stopping {} (version {})", old.name, old.version)));
        let policy = engine.container(&old.id).await?.and_then(|c| c.host_config).and_then(|h| h.restart_policy);
        engine.stop(&old.id, plan.stop_timeout).await?;
        done.retired.push((old.clone(), policy));
        let never = RestartPolicy { name: Some(RestartPolicyNameEnum::NO), maximum_retry_count: None };
        engine.set_restart(&old.id, never).await?;
        log.push(format!("stopped {} (version {})", old.name, old.version));
    }
    Ok(())
}

/// Puts everything back as it was; returns the steps that failed.
async fn undo(engine: &DockerClient, plan: &DeployPlan, done: &Done, log: &mut Log) -> Vec<String> {
    let mut failures = Vec::new();
    let mut attempt = |result: anyhow::Result<()>, what: String, log: &mut Log| match result {
        Ok(()) => log.push(format!("undo: {what}")),
        Err(e) => failures.push(format!("{what}: {e:#}")),
    };
    if let Some(id) = &done.created {
        attempt(engine.remove(id).await, format!("removed the new container {}", plan.container.name), log);
    }
    if let Some(id) = &done.started_kept {
        let never = RestartPolicy { name: Some(RestartPolicyNameEnum::NO), maximum_retry_count: None };
        let result = async { engine.stop(id, plan.stop_timeout).await?; engine.set_restart(id, never).await }.await;
        attempt(result, format!("stopped the kept container {} again", plan.container.name), log);
    }
    if let Some((id, name)) = &done.renamed {
        attempt(engine.rename(id, name).await, format!("renamed {name} back"), log);
    }
    for (old, policy) in done.retired.iter().rev() {
        let result = async {
            if let Some(policy) = policy.clone() {
                engine.set_restart(&old.id, policy).await?;
            }
            engine.start(&old.id).await
        }
        .await;
        attempt(result, format!("started {} again", old.name), log);
    }
    failures
}
