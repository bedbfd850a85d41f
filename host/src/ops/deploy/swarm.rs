//! The `swarm` strategy: the service is a Docker Swarm service, created or
//! updated through the manager's API with the service's image, replicas,
//! env, mounts, networks, published ports, healthcheck and update policy.
//! The swarm replaces the tasks; bosun waits until every task of the new
//! spec runs (healthy, when the image or service has a healthcheck) and the
//! update has completed. A failed release is rolled back to the service's
//! previous spec, or, when it was just created, the service is removed.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointSpec, Limit, Mount, MountTypeEnum, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, ServiceUpdateStatusStateEnum,
    TaskSpec, TaskSpecContainerSpec, TaskSpecResources, TaskState,
};
use bollard::query_parameters::{InspectServiceOptions, ListTasksOptionsBuilder, UpdateServiceOptions};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::apply::{Applied, Log, NotApplied};
use super::client::DockerClient;
use super::health::Health;
use super::plan::{Refusal, ReleaseFacts, Target};
use super::snapshot::Snapshot;
use super::spec::{ContainerSpec, label, read_env_files};
use super::steps::{OnStep, Step};
use crate::app::App;
use crate::config::{FailureAction, SwarmUpdate, UpdateOrder, parse_duration};
use crate::ops::cancel::Cancel;

const POLL: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, Serialize)]
pub struct SwarmPlan {
    #[serde(flatten)]
    pub facts: ReleaseFacts,
    /// The swarm service: `<project>-<env>-<service>`.
    pub name: String,
    pub container: ContainerSpec,
    pub replicas: u64,
    pub update: SwarmUpdate,
    /// The swarm service as it is now; none: it is created.
    pub existing: Option<Existing>,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Existing {
    pub id: String,
    /// The spec's version, which an update names.
    pub index: u64,
    /// The version its spec runs, from bosun's label.
    pub version: Option<String>,
}

impl fmt::Display for SwarmPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let facts = &self.facts;
        writeln!(f, "{} {} {} ({}) as swarm service {}", facts.kind.as_str(), facts.service, facts.version, facts.env, self.name)?;
        writeln!(f, "  image     {}", facts.image)?;
        writeln!(f, "  replicas  {}", self.replicas)?;
        let update = &self.update;
        writeln!(
            f,
            "  update    {} at a time, {} between, on failure {}, {}",
            update.parallelism.unwrap_or(1),
            update.delay.as_deref().unwrap_or("0s"),
            format!("{:?}", update.failure_action.unwrap_or(FailureAction::Pause)).to_lowercase(),
            if update.order == Some(UpdateOrder::StartFirst) { "start-first" } else { "stop-first" }
        )?;
        match &self.existing {
            Some(existing) => writeln!(f, "  then      update the service (now {})", existing.version.as_deref().unwrap_or("unknown"))?,
            None => writeln!(f, "  then      create the service")?,
        }
        writeln!(f, "  healthy   every task of the new spec running within {}s", self.timeout_ms / 1000)
    }
}

/// The swarm service's name for `service` in `project` and `env`.
pub fn service_name(project: &str, env: &str, service: &str) -> String {
    format!("{project}-{env}-{service}").to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect()
}

pub async fn plan(app: &App, engine: &DockerClient, snapshot: &Snapshot, target: Target, config_dir: &Path) -> Result<SwarmPlan, Refusal> {
    let Target { service_name: name, service, version, kind, .. } = target;
    let (project, env) = (&app.config.project.name, &app.config.project.env);
    let scope = format!("{name}@{env}");
    let swarm_name = service_name(project, env, &name);
    let image = format!("{}:{version}", service.image);
    let env_files = read_env_files(&service.env_files, config_dir);
    let container = ContainerSpec::build(&service, &swarm_name, &image, config_dir, &env_files).map_err(|e| Refusal::new(&scope, &format!("{e:#}")))?;
    let existing = match engine.docker.inspect_service(&swarm_name, None::<InspectServiceOptions>).await {
        Ok(found) => Some(Existing {
            id: found.id.unwrap_or_default(),
            index: found.version.and_then(|v| v.index).unwrap_or_default(),
            version: found.spec.and_then(|s| s.labels).and_then(|l| l.get(label::VERSION).cloned()),
        }),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => None,
        Err(bollard::errors::Error::DockerResponseServerError { message, .. }) if message.contains("swarm") => {
            return Err(Refusal::new(&scope, &format!("the engine is not a swarm manager ({}); run `docker swarm init` there or use strategy = \"run\"", message.trim())));
        }
        Err(e) => return Err(Refusal::new(&scope, &format!("asking the swarm for service {swarm_name}: {}", crate::docker::causes(&e)))),
    };
    let update = service.update.clone().unwrap_or_default();
    let replicas = service.replicas.unwrap_or(1);
    let hashed = serde_json::json!({ "container": container.config_hash(), "replicas": replicas, "update": update });
    let timeout = parse_duration(&service.health_timeout).map_err(|e| Refusal::new(&scope, &e))?;
    Ok(SwarmPlan {
        facts: ReleaseFacts {
            service: name,
            env: env.clone(),
            version,
            kind,
            image_id: snapshot.images.get(&image).map(|i| i.id.clone()).unwrap_or_default(),
            image,
            config_hash: hex::encode(Sha256::digest(hashed.to_string().as_bytes())),
            service_config: serde_json::to_string(&service).expect("a service serializes"),
        },
        name: swarm_name,
        container,
        replicas,
        update,
        existing,
        timeout_ms: timeout.as_millis() as u64,
    })
}

impl SwarmPlan {
    pub fn previous(&self) -> Option<String> {
        self.existing.as_ref().and_then(|e| e.version.clone())
    }

    /// The engine's service spec, labelled with the release.
    fn spec(&self, project: &str, release: i64) -> ServiceSpec {
        let c = &self.container;
        let mut labels: HashMap<String, String> = c.labels.clone().into_iter().collect();
        labels.extend([
            (label::PROJECT.to_string(), project.to_string()),
            (label::SERVICE.to_string(), self.facts.service.clone()),
            (label::ENV.to_string(), self.facts.env.clone()),
            (label::VERSION.to_string(), self.facts.version.clone()),
            (label::RELEASE.to_string(), release.to_string()),
            (label::CONFIG_HASH.to_string(), self.facts.config_hash.clone()),
        ]);
        let mounts = c.volumes.iter().map(|v| Mount {
            source: Some(v.source.clone()),
            target: Some(v.target.clone()),
            read_only: Some(v.read_only),
            typ: Some(if v.is_bind() { MountTypeEnum::BIND } else { MountTypeEnum::VOLUME }),
            ..Default::default()
        });
        let ports = c.ports.iter().map(|p| EndpointPortConfig {
            target_port: Some(p.container_port.into()),
            published_port: p.host_port.map(i64::from),
            protocol: Some(if p.protocol == "udp" { EndpointPortConfigProtocolEnum::UDP } else { EndpointPortConfigProtocolEnum::TCP }),
            ..Default::default()
        });
        let networks = c.networks.iter().map(|(network, aliases)| NetworkAttachmentConfig { target: Some(network.clone()), aliases: Some(aliases.clone()), ..Default::default() });
        let update = &self.update;
        ServiceSpec {
            name: Some(self.name.clone()),
            labels: Some(labels.clone()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(c.image.clone()),
                    labels: Some(labels),
                    command: c.entrypoint.clone(),
                    args: c.command.clone(),
                    env: Some(c.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                    mounts: Some(mounts.collect()),
                    health_check: c.health_config(),
                    stop_grace_period: Some(i64::from(c.stop_timeout) * 1_000_000_000),
                    ..Default::default()
                }),
                resources: Some(TaskSpecResources { limits: Some(Limit { nano_cpus: c.nano_cpus, memory_bytes: c.memory_bytes, ..Default::default() }), ..Default::default() }),
                networks: Some(networks.collect()),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode { replicated: Some(ServiceSpecModeReplicated { replicas: Some(self.replicas as i64) }), ..Default::default() }),
            update_config: Some(ServiceSpecUpdateConfig {
                parallelism: Some(update.parallelism.unwrap_or(1) as i64),
                delay: update.delay.as_deref().and_then(|d| parse_duration(d).ok()).map(|d| d.as_nanos() as i64),
                failure_action: Some(match update.failure_action.unwrap_or(FailureAction::Pause) {
                    FailureAction::Pause => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
                    FailureAction::Continue => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
                    FailureAction::Rollback => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
                }),
                order: Some(match update.order {
                    Some(UpdateOrder::StartFirst) => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
                    _ => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
                }),
                ..Default::default()
            }),
            endpoint_spec: Some(EndpointSpec { ports: Some(ports.collect()), ..Default::default() }),
            ..Default::default()
        }
    }
}

/// How many of `name`'s tasks run, and how many should: the tasks the swarm
/// wants running whose spec carries `release` (any release when none).
pub async fn tasks_running(engine: &DockerClient, name: &str, release: Option<i64>) -> anyhow::Result<(usize, usize)> {
    let filters = HashMap::from([("service", vec![name.to_string()]), ("desired-state", vec!["running".to_string()])]);
    let tasks = engine.docker.list_tasks(Some(ListTasksOptionsBuilder::new().filters(&filters).build())).await?;
    let ours = |task: &&bollard::models::Task| {
        let labels = task.spec.as_ref().and_then(|s| s.container_spec.as_ref()).and_then(|c| c.labels.as_ref());
        release.is_none_or(|release| labels.and_then(|l| l.get(label::RELEASE)) == Some(&release.to_string()))
    };
    let wanted: Vec<_> = tasks.iter().filter(ours).collect();
    let running = wanted.iter().filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)).count();
    Ok((running, wanted.len()))
}

pub async fn apply(app: &App, engine: &DockerClient, plan: &SwarmPlan, release: i64, log: &mut Log, on_step: OnStep<'_>, cancel: &Cancel) -> Result<Applied, NotApplied> {
    let failed = |problem: String| NotApplied { problem, health: None, logs: String::new(), undo_failures: vec![] };
    cancel.check().map_err(failed)?;
    let spec = plan.spec(&app.config.project.name, release);
    let id = match &plan.existing {
        Some(existing) => {
            on_step(&Step::new(format!("updating swarm service {} to {}", plan.name, plan.facts.version)));
            let options = UpdateServiceOptions { version: existing.index as i32, ..Default::default() };
            engine.docker.update_service(&plan.name, spec, options, None).await.map_err(|e| failed(format!("updating swarm service {}: {}", plan.name, crate::docker::causes(&e))))?;
            log.push(format!("updated swarm service {} to {}", plan.name, plan.facts.image));
            existing.id.clone()
        }
        None => {
            on_step(&Step::new(format!("creating swarm service {}", plan.name)));
            let created = engine.docker.create_service(spec, None).await.map_err(|e| failed(format!("creating swarm service {}: {}", plan.name, crate::docker::causes(&e))))?;
            log.push(format!("created swarm service {} with {}", plan.name, plan.facts.image));
            created.id.unwrap_or_default()
        }
    };
    match converged(engine, plan, release, on_step, cancel).await {
        Ok(()) => {
            log.push(format!("{} of {} tasks run {}", plan.replicas, plan.replicas, plan.facts.version));
            let health = Health { healthy: true, problem: None, checks: vec![] };
            Ok(Applied { container_id: id, container_name: plan.name.clone(), health, removed: vec![], warnings: vec![] })
        }
        Err(problem) => {
            log.push(format!("failed: {problem}"));
            on_step(&Step::new(format!("undoing: putting swarm service {} back", plan.name)));
            let undo_failures = undo(engine, plan, log).await.err().into_iter().collect();
            Err(NotApplied { problem, health: None, logs: String::new(), undo_failures })
        }
    }
}

/// Waits until every task of the new spec runs and the update completed.
async fn converged(engine: &DockerClient, plan: &SwarmPlan, release: i64, on_step: OnStep<'_>, cancel: &Cancel) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_millis(plan.timeout_ms);
    loop {
        cancel.check()?;
        let service = engine.docker.inspect_service(&plan.name, None::<InspectServiceOptions>).await.map_err(|e| format!("swarm service {}: {}", plan.name, crate::docker::causes(&e)))?;
        let update = service.update_status.unwrap_or_default();
        let message = update.message.unwrap_or_default();
        match update.state {
            Some(ServiceUpdateStatusStateEnum::PAUSED | ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED) => return Err(format!("the swarm paused the update: {message}")),
            Some(ServiceUpdateStatusStateEnum::ROLLBACK_STARTED | ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED) => return Err(format!("the swarm rolled the update back: {message}")),
            _ => {}
        }
        let done = matches!(update.state, None | Some(ServiceUpdateStatusStateEnum::COMPLETED | ServiceUpdateStatusStateEnum::EMPTY));
        let (running, _) = tasks_running(engine, &plan.name, Some(release)).await.map_err(|e| format!("listing the tasks of {}: {e:#}", plan.name))?;
        if done && running as u64 >= plan.replicas {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("{running} of {} tasks of swarm service {} ran {} within {}s", plan.replicas, plan.name, plan.facts.version, plan.timeout_ms / 1000));
        }
        on_step(&Step::waiting(format!("waiting for {} tasks of {} to run ({running} running)", plan.replicas, plan.name), left));
        tokio::time::sleep(POLL).await;
    }
}

/// Back to the previous spec (the swarm's own rollback), or the new service removed.
async fn undo(engine: &DockerClient, plan: &SwarmPlan, log: &mut Log) -> Result<(), String> {
    let Some(existing) = &plan.existing else {
        engine.docker.delete_service(&plan.name).await.map_err(|e| format!("removing swarm service {}: {}", plan.name, crate::docker::causes(&e)))?;
        log.push(format!("removed swarm service {}", plan.name));
        return Ok(());
    };
    let current = engine.docker.inspect_service(&plan.name, None::<InspectServiceOptions>).await.map_err(|e| format!("swarm service {}: {}", plan.name, crate::docker::causes(&e)))?;
    if current.update_status.and_then(|u| u.state).is_some_and(|s| matches!(s, ServiceUpdateStatusStateEnum::ROLLBACK_STARTED | ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED)) {
        log.push(format!("the swarm rolled {} back itself", plan.name));
        return Ok(());
    }
    let spec = current.spec.clone().unwrap_or_default();
    let index = current.version.and_then(|v| v.index).unwrap_or(existing.index);
    let options = UpdateServiceOptions { version: index as i32, rollback: Some("previous".to_string()), ..Default::default() };
    engine.docker.update_service(&plan.name, spec, options, None).await.map_err(|e| format!("rolling swarm service {} back: {}", plan.name, crate::docker::causes(&e)))?;
    log.push(format!("rolled swarm service {} back to its previous spec", plan.name));
    Ok(())
}
