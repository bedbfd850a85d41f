//! `bosun images update`: after a pull, recreate every container created
//! from the image with its config intact. Running containers come back
//! running (and healthy, when they have a healthcheck), stopped ones stay
//! stopped; a failed recreate puts the old container back.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::ListContainersOptionsBuilder;
use serde::Serialize;

use super::recreate::recreate_body;
use crate::ops::notify::{self, Notice, Severity};
use crate::state::NewImageUpdate;
use crate::ops::deploy::client::DockerClient;
use crate::ops::deploy::health::container_healthy;
use crate::ops::deploy::spec::label;

/// How long a recreated container has to be running (and healthy).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_STOP_SECS: u32 = 10;

/// A container created from the image being updated.
#[derive(Debug, Clone, Serialize)]
pub struct Affected {
    pub name: String,
    pub id: String,
    pub running: bool,
    /// `service@env` for a container bosun deployed.
    pub scope: Option<String>,
    #[serde(skip)]
    inspected: Box<ContainerInspectResponse>,
}

/// The containers created from `reference` that run its current local image
/// (`image_id`): the ones a newer image would replace.
pub async fn affected(engine: &DockerClient, reference: &str, image_id: &str) -> anyhow::Result<Vec<Affected>> {
    let filters: HashMap<&str, Vec<String>> = HashMap::from([("ancestor", vec![image_id.to_string()])]);
    let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
    let listed = engine.docker.list_containers(Some(options)).await?;
    let mut affected = Vec::new();
    for summary in listed.into_iter().filter(|c| c.image_id.as_deref() == Some(image_id)) {
        let Some(inspected) = engine.container(summary.id.as_deref().unwrap_or_default()).await? else { continue };
        let config = inspected.config.clone().unwrap_or_default();
        if config.image.as_deref() != Some(reference) {
            continue;
        }
        let labels = config.labels.unwrap_or_default();
        let scope = labels.get(label::SERVICE).zip(labels.get(label::ENV)).map(|(s, e)| format!("{s}@{e}"));
        affected.push(Affected {
            name: inspected.name.as_deref().unwrap_or_default().trim_start_matches('/').to_string(),
            id: inspected.id.clone().unwrap_or_default(),
            running: inspected.state.as_ref().and_then(|s| s.running).unwrap_or(false),
            scope,
            inspected: Box::new(inspected),
        });
    }
    affected.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(affected)
}

/// Recreates `old` from `reference`; returns the new container's id, or why
/// not (after the old container was put back).
pub async fn recreate(engine: &DockerClient, old: &Affected, reference: &str, release: Option<i64>) -> Result<String, String> {
    let old_image_id = old.inspected.image.clone().unwrap_or_default();
    let old_image = engine.image(&old_image_id).await.map_err(|e| format!("{e:#}"))?;
    let mut body = recreate_body(&old.inspected, old_image.as_ref().and_then(|i| i.config.as_ref()), reference);
    if let (Some(release), Some(labels)) = (release, body.labels.as_mut()) {
        labels.insert(label::RELEASE.into(), release.to_string());
    }
    let stop_secs = old.inspected.config.as_ref().and_then(|c| c.stop_timeout).map_or(DEFAULT_STOP_SECS, |s| s.max(0) as u32);
    let aside = format!("{}-bosun-old", old.name);
    let fail = |e: anyhow::Error| format!("{e:#}");
    if old.running {
        engine.stop(&old.id, stop_secs).await.map_err(fail)?;
    }
    if let Err(e) = engine.rename(&old.id, &aside).await {
        return Err(fail(e) + &put_back(engine, old, None).await);
    }
    let new_id = match engine.create(&old.name, body).await {
        Ok(id) => id,
        Err(e) => return Err(fail(e) + &put_back(engine, old, None).await),
    };
    if old.running {
        let started = engine.start(&new_id).await.map_err(fail);
        let healthy = match started {
            Ok(()) => {
                let inspected = engine.container(&new_id).await.ok().flatten();
                let has_healthcheck = inspected.and_then(|c| c.config).and_then(|c| c.healthcheck).and_then(|h| h.test).is_some_and(|t| t.first().is_some_and(|f| f != "NONE"));
                container_healthy(engine, &new_id, &old.name, has_healthcheck, Instant::now() + HEALTH_TIMEOUT, &|_| {}).await
            }
            Err(e) => Err(e),
        };
        if let Err(problem) = healthy {
            let logs = engine.logs(&new_id, 20).await;
            let last = logs.lines().rev().find(|l| !l.trim().is_empty()).map(|l| format!("; its last output: {}", l.trim())).unwrap_or_default();
            return Err(format!("{problem}{last}{}", put_back(engine, old, Some(&new_id)).await));
        }
    }
    engine.remove(&old.id).await.map_err(|e| format!("the new container runs, but removing the old one failed: {e:#}"))?;
    Ok(new_id)
}

/// Removes the new container (if any) and gives the old one its name and
/// state back; returns what failed of that (empty when all went well).
async fn put_back(engine: &DockerClient, old: &Affected, new_id: Option<&str>) -> String {
    let mut failed = Vec::new();
    if let Some(new_id) = new_id
        && let Err(e) = engine.remove(new_id).await
    {
        failed.push(format!("{e:#}"));
    }
    if let Err(e) = engine.rename(&old.id, &old.name).await {
        failed.push(format!("{e:#}"));
    }
    if old.running
        && let Err(e) = engine.start(&old.id).await
    {
        failed.push(format!("{e:#}"));
    }
    match failed.as_slice() {
        [] => String::new(),
        _ => format!("; putting {} back failed too, look at it now: {}", old.name, failed.join("; ")),
    }
}

/// How one container's update went.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerUpdate {
    pub container: String,
    pub was_running: bool,
    pub new_container_id: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Updated {
    /// Dry run: what an update would recreate if the registry has a newer image.
    Planned { image: String, image_id: String, affected: Vec<Affected> },
    UpToDate { image: String, image_id: String },
    Cancelled { image: String, affected: Vec<Affected> },
    Done { image: String, old_image_id: String, new_image_id: String, containers: Vec<ContainerUpdate> },
}

pub struct UpdateOptions<'a> {
    /// The `[hosts.*]` whose engine this is, for the release records.
    pub host: &'a str,
    pub dry_run: bool,
    /// Asked with the containers about to be recreated; false cancels.
    pub confirm: &'a mut dyn FnMut(&str, &[Affected]) -> bool,
    pub on_progress: &'a mut dyn FnMut(&super::pull::Progress),
}

/// Pulls `reference` and recreates the containers that ran the old image.
pub async fn update(app: &crate::app::App, engine: &DockerClient, reference: &str, options: UpdateOptions<'_>) -> Result<Updated, crate::failure::Failure> {
    use crate::failure::Failure;
    let image = reference.to_string();
    let Some(old_id) = engine.image(reference).await?.and_then(|i| i.id) else {
        return Err(Failure::bad_input(format!("{reference} is not on this machine, so nothing runs it; `bosun images pull {reference}` gets it")));
    };
    let affected = affected(engine, reference, &old_id).await?;
    if options.dry_run {
        return Ok(Updated::Planned { image, image_id: old_id, affected });
    }
    let new_id = super::pull::pull(engine, reference, options.on_progress).await?;
    if new_id == old_id {
        return Ok(Updated::UpToDate { image, image_id: new_id });
    }
    if !affected.is_empty() && !(options.confirm)(reference, &affected) {
        return Ok(Updated::Cancelled { image, affected });
    }
    let state = app.state()?;
    let mut scopes: Vec<&str> = affected.iter().filter_map(|a| a.scope.as_deref()).collect();
    scopes.sort();
    scopes.dedup();
    let _locks = scopes.iter().map(|scope| crate::ops::lock::ServiceLock::acquire(state, scope, "", &format!("images update {reference}"))).collect::<Result<Vec<_>, _>>()?;
    let run_id = state.start_run("images update", reference)?;
    let names: Vec<&str> = affected.iter().map(|a| a.name.as_str()).collect();
    let started = format!("{reference}: recreating {} container(s): {}.", names.len(), names.join(", "));
    notify::tell(app, run_id, &notice(app, reference, &names, "image-update.started", Severity::Info, started)).await;
    let mut containers = Vec::new();
    for old in &affected {
        // Only the running container of a service is its current release;
        // a kept (stopped) one is a rollback point and stays in history only.
        let release = match &old.scope {
            Some(_) if old.running => Some(record_update_release(app, options.host, old, reference, &new_id, run_id)?),
            _ => None,
        };
        let result = recreate(engine, old, reference, release).await;
        let (new_container_id, error) = match result {
            Ok(id) => (Some(id), None),
            Err(e) => (None, Some(e)),
        };
        state.record_image_update(&NewImageUpdate {
            image: &image,
            container: &old.name,
            old_image_id: &old_id,
            new_image_id: &new_id,
            was_running: old.running,
            error: error.as_deref(),
            run_id,
        })?;
        if let Some(release) = release {
            let outcome = if error.is_none() { crate::state::ReleaseOutcome::Succeeded } else { crate::state::ReleaseOutcome::Failed };
            let container_id = new_container_id.clone().unwrap_or_default();
            state.finish_release(release, outcome, &container_id, &old.name, &serde_json::Value::Array(vec![]))?;
        }
        containers.push(ContainerUpdate { container: old.name.clone(), was_running: old.running, new_container_id, error });
    }
    let failed: Vec<String> = containers.iter().filter_map(|c| c.error.as_ref().map(|e| format!("{}: {e}", c.container))).collect();
    let outcome = if failed.is_empty() { crate::state::Outcome::Succeeded } else { crate::state::Outcome::Failed };
    let summary = format!("recreated {} of {} container(s)", containers.len() - failed.len(), containers.len());
    state.finish_run(run_id, outcome, &summary, &failed.join("\n"))?;
    let names: Vec<&str> = containers.iter().map(|c| c.container.as_str()).collect();
    let (kind, severity, body) = match failed.as_slice() {
        [] => ("image-update.succeeded", Severity::Success, format!("{reference}: {summary}: {}.", names.join(", "))),
        _ => ("image-update.failed", Severity::Failure, format!("{reference}: {} container(s) kept their old image: {}", failed.len(), failed.join("; "))),
    };
    notify::tell(app, run_id, &notice(app, reference, &names, kind, severity, body.clone())).await;
    if !failed.is_empty() {
        return Err(Failure::failed(format!("images update {body}")));
    }
    Ok(Updated::Done { image, old_image_id: old_id, new_image_id: new_id, containers })
}

/// An `image-update.*` notice about `containers` running `reference`.
fn notice(app: &crate::app::App, reference: &str, containers: &[&str], kind: &str, severity: Severity, body: String) -> Notice {
    let title = match severity {
        Severity::Info => format!("Updating image {reference}"),
        Severity::Failure => format!("Image {reference} update failed"),
        _ => format!("Image {reference} updated"),
    };
    Notice::new(kind, severity, title, body)
        .fact("project", &app.config.project.name)
        .fact("env", &app.config.project.env)
        .fact("image", reference)
        .fact("container", containers.join(", "))
        .fact("who", crate::state::who())
}

/// A managed container's update is a release of its service (kind `update`),
/// with the config of the service's latest successful release.
fn record_update_release(app: &crate::app::App, host: &str, old: &Affected, reference: &str, new_id: &str, run_id: i64) -> Result<i64, crate::failure::Failure> {
    let state = app.state()?;
    let labels = old.inspected.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
    let service = labels.get(label::SERVICE).cloned().unwrap_or_default();
    let env = labels.get(label::ENV).cloned().unwrap_or_default();
    let latest = state.succeeded_releases(&service, &env, Some(host))?.into_iter().next();
    let service_config = latest.map_or_else(|| "{}".to_string(), |r| r.service_config);
    Ok(state.start_release(&crate::state::NewRelease {
        service: &service,
        env: &env,
        host,
        version: labels.get(label::VERSION).map_or("", String::as_str),
        kind: crate::state::ReleaseKind::Update,
        image: reference,
        image_digest: new_id,
        config_hash: labels.get(label::CONFIG_HASH).map_or("", String::as_str),
        service_config: &service_config,
        note: "images update",
        backup_id: None,
        run_id: Some(run_id),
        by: None,
    })?)
}
