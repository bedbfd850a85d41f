//! The overview an on-call person looks at first: each service's current
//! release, its container's health, its last deploy and its checks; each
//! backup set's last backup; each red, amber or green, with why.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::Serialize;

use crate::app::App;
use crate::failure::Failure;
use crate::config::{Service, Strategy};
use crate::ops::deploy::client::DockerClient;
use crate::ops::deploy::swarm;
use crate::state::{BackupRecord, CheckResult, ReleaseOutcome, ReleaseRecord, Sample, now_unix};

/// A backup set's newest backup older than this is amber.
pub const BACKUP_STALE_SECS: i64 = 2 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Light {
    Green,
    Amber,
    Red,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    pub light: Light,
    pub services: Vec<ServiceStatus>,
    /// The `[watch.processes]`, as last sampled.
    pub processes: Vec<ProcessStatus>,
    pub backups: Vec<SetStatus>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProcessStatus {
    pub name: String,
    pub light: Light,
    pub why: Vec<String>,
    /// The newest sample `[watch]` took of it; none before the first.
    pub sample: Option<Sample>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceStatus {
    pub name: String,
    /// The `[hosts.*]` this row is about (`local` without hosts): a service
    /// on two hosts has a row on each.
    pub host: String,
    pub light: Light,
    /// What is wrong or worth a look, one line each.
    pub why: Vec<String>,
    /// The release that runs now: the newest that succeeded.
    pub current: Option<ReleaseRecord>,
    /// The newest release, whatever its outcome.
    pub last_deploy: Option<ReleaseRecord>,
    /// The current release's container: `running`, `exited`, … with its health.
    pub container: Option<ContainerStatus>,
    /// The newest sample `[watch]` took of it on this host: CPU, memory, restarts, uptime.
    pub sample: Option<Sample>,
    pub checks: Vec<CheckResult>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContainerStatus {
    pub name: String,
    pub state: String,
    pub health: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SetStatus {
    pub name: String,
    pub light: Light,
    pub why: Vec<String>,
    pub last: Option<BackupRecord>,
    pub age_secs: Option<i64>,
}

/// The overview of every host, or of those in `only` (an unknown one is bad input).
pub async fn overview(app: &App, only: &[String]) -> Result<Overview, Failure> {
    let state = app.state()?;
    let env = &app.config.project.env;
    let results = state.check_results()?;
    let hosts = app.config.hosts_in_use(only).map_err(Failure::bad_input)?;
    let engines = join_all(hosts.iter().map(|host| DockerClient::for_host(&app.config, host))).await;
    let engines: BTreeMap<&String, anyhow::Result<DockerClient>> = hosts.iter().zip(engines).collect();
    let samples = state.latest_samples()?;
    // A sample older than three intervals is no longer news: nobody watches.
    let fresh = now_unix() - 3 * app.config.watch.interval().as_secs() as i64;
    let newest = |kind: &str, target: &str, host: &str| samples.iter().find(|s| s.kind == kind && s.target == target && s.host == host && s.at >= fresh).cloned();
    let mut services = Vec::new();
    for (name, service) in &app.config.services {
        let releases = state.releases(Some(name), env)?;
        for host in app.config.service_hosts(name).into_iter().filter(|h| hosts.contains(h)) {
            let sample = newest("container", name, &host);
            services.push(service_status(name, service, host, &engines, &releases, &results, sample).await);
        }
    }
    let watched = app.config.watch.processes.keys().map(|name| judge_process(name, newest("process", name, "local")));
    // A process service is looked at in /proc now; while it runs, its newest sample adds the CPU.
    let services_now = app.config.processes.keys().map(|name| {
        let live = sampled_now(app, name);
        let sampled = newest("process", name, "local").filter(|s| live.state == "running" && s.state == "running");
        judge_process(name, Some(sampled.unwrap_or(live)))
    });
    let processes: Vec<ProcessStatus> = watched.chain(services_now).collect();
    let mut backups = Vec::new();
    for name in app.config.backups.keys() {
        let last = state.latest_backup(name)?;
        let age_secs = last.as_ref().map(|b| now_unix() - b.created_at);
        let mut status = SetStatus { name: name.clone(), light: Light::Green, why: Vec::new(), last, age_secs };
        judge_set(&mut status);
        backups.push(status);
    }
    let light = services.iter().map(|s| s.light).chain(processes.iter().map(|p| p.light)).chain(backups.iter().map(|b| b.light)).max().unwrap_or(Light::Green);
    Ok(Overview { light, services, processes, backups })
}

/// One service on one host, judged. `releases` are the service's, oldest first.
async fn service_status(
    name: &str,
    service: &Service,
    host: String,
    engines: &BTreeMap<&String, anyhow::Result<DockerClient>>,
    releases: &[ReleaseRecord],
    results: &[CheckResult],
    sample: Option<Sample>,
) -> ServiceStatus {
    let docker = &engines[&host];
    let on_host = || releases.iter().filter(|r| r.host == host);
    let current = on_host().rfind(|r| matches!(r.outcome, ReleaseOutcome::Succeeded)).cloned();
    let last_deploy = on_host().next_back().cloned();
    let container = match (&current, docker) {
        (Some(release), Ok(docker)) if service.strategy == Strategy::Swarm => tasks(docker, &release.container_name).await,
        (Some(release), Ok(docker)) => docker.container(&release.container_name).await.ok().map(|found| {
            let state = found.as_ref().and_then(|c| c.state.as_ref());
            ContainerStatus {
                name: release.container_name.clone(),
                state: state.and_then(|s| s.status).map_or_else(|| "missing".to_string(), |s| s.to_string()),
                health: state.and_then(|s| s.health.as_ref()).and_then(|h| h.status).map(|h| h.to_string()),
            }
        }),
        _ => None,
    };
    let checks: Vec<CheckResult> = results.iter().filter(|r| service.checks.contains(&r.check)).cloned().collect();
    let mut status = ServiceStatus { name: name.to_string(), host, light: Light::Green, why: Vec::new(), current, last_deploy, container, sample, checks };
    judge_service(&mut status, docker.as_ref().err().map(|e| format!("{e:#}")));
    status
}

/// A swarm service's tasks as its "container": `running` when every task
/// the swarm wants runs, else how many do.
async fn tasks(docker: &DockerClient, name: &str) -> Option<ContainerStatus> {
    let (running, wanted) = swarm::tasks_running(docker, name, None).await.ok()?;
    let state = if running == wanted && wanted > 0 { "running".to_string() } else { format!("{running} of {wanted} tasks running") };
    Some(ContainerStatus { name: name.to_string(), state, health: None })
}

fn flag(light: &mut Light, why: &mut Vec<String>, level: Light, text: String) {
    *light = (*light).max(level);
    why.push(text);
}

fn judge_service(s: &mut ServiceStatus, docker_error: Option<String>) {
    let (light, why) = (&mut s.light, &mut s.why);
    match (&s.current, &s.container) {
        (None, _) => flag(light, why, Light::Amber, "never deployed: `bosun deploy` makes a release".into()),
        (Some(_), None) => flag(light, why, Light::Amber, format!("container state unknown: {}", docker_error.unwrap_or_else(|| "docker did not answer".into()))),
        (Some(_), Some(c)) if c.state != "running" => flag(light, why, Light::Red, format!("container {} is {}", c.name, c.state)),
        (Some(_), Some(c)) if c.health.as_deref() == Some("unhealthy") => flag(light, why, Light::Red, format!("container {} is unhealthy", c.name)),
        _ => {}
    }
    if let Some(last) = s.last_deploy.as_ref().filter(|r| !matches!(r.outcome, ReleaseOutcome::Succeeded)) {
        flag(light, why, Light::Amber, format!("the last deploy ({} {}, release {}) {}", last.service, last.version, last.id, last.outcome.as_str()));
    }
    for check in s.checks.iter().filter(|c| !c.passed) {
        flag(light, why, Light::Red, format!("check {} failed", check.check));
    }
}

/// A process service as /proc shows it now.
fn sampled_now(app: &App, name: &str) -> Sample {
    let mut sample = Sample { kind: "process".into(), target: name.into(), host: "local".into(), at: now_unix(), ..Sample::default() };
    match crate::ops::processes::now(&app.config, name) {
        crate::ops::processes::Now::Running { pid, uptime_secs, rss_bytes, unit, .. } => {
            sample.state = "running".into();
            sample.pids = Some(1);
            sample.memory_bytes = Some(rss_bytes as i64);
            sample.uptime_secs = Some(uptime_secs as i64);
            sample.detail = Some(match unit {
                Some(unit) => format!("pid {pid}, systemd unit {unit}"),
                None => format!("pid {pid}"),
            });
        }
        crate::ops::processes::Now::Stopped => sample.state = "stopped".into(),
        crate::ops::processes::Now::Ended { pid } => {
            sample.state = "exited".into();
            sample.detail = Some(format!("pid {pid} ended without `bosun stop`"));
        }
        crate::ops::processes::Now::Stale { pid, now_runs } => {
            sample.state = "exited".into();
            sample.detail = Some(format!("stale pidfile: pid {pid} is now `{now_runs}`"));
        }
    }
    sample
}

/// A watched process or process service: red when it is not running (it
/// ended, or nothing matches), amber when stopped on purpose or nothing has
/// sampled it lately.
fn judge_process(name: &str, sample: Option<Sample>) -> ProcessStatus {
    let mut status = ProcessStatus { name: name.to_string(), light: Light::Green, why: Vec::new(), sample };
    let (light, why) = (&mut status.light, &mut status.why);
    match &status.sample {
        None => flag(light, why, Light::Amber, "no recent sample: `bosun serve` (or `bosun watch`) takes them".into()),
        Some(s) if s.state == "stopped" => flag(light, why, Light::Amber, format!("not running: `bosun start {name}` starts it")),
        Some(s) if s.state != "running" => flag(light, why, Light::Red, format!("process {name} is {}{}", s.state, s.detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())),
        Some(_) => {}
    }
    status
}

fn judge_set(s: &mut SetStatus) {
    let (light, why) = (&mut s.light, &mut s.why);
    match (&s.last, s.age_secs) {
        (None, _) => flag(light, why, Light::Amber, format!("no backup of {} yet", s.name)),
        (Some(_), Some(age)) if age > BACKUP_STALE_SECS => flag(light, why, Light::Amber, format!("the last backup is {} old", crate::time::elapsed(std::time::Duration::from_secs(age as u64)))),
        _ => {}
    }
    if let Some(error) = s.last.as_ref().and_then(|b| b.verify_error.as_ref()) {
        flag(light, why, Light::Red, format!("the last backup failed verification: {error}"));
    }
}
