//! What runs around every backup, whatever the strategy: the `before` hook
//! (exit 75 skips the backup), the containers stopped for the copy and
//! started again right after, also when the copy failed, and the `after` hook.

use std::path::Path;

use bollard::Docker;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::{ListContainersOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder};

use crate::capability::PlannedCall;
use crate::config::{BackupSet, Config};
use crate::failure::{Failure, SKIPPED};

/// Containers carrying this label are stopped during every backup of their project.
pub const STOP_LABEL: &str = "bosun.stop-during-backup";
/// Seconds a container gets to stop before the engine kills it.
const STOP_GRACE_SECS: i32 = 30;

/// Runs a hook with `sh -c` in `dir`. Exit 75 from the `before` hook means
/// "skip this backup" and is reported as skipped, not failed.
pub async fn run_hook(set: &str, which: &str, command: &str, dir: &Path, env: &[(&str, String)]) -> Result<(), Failure> {
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .output()
        .await
        .map_err(|e| Failure::failed(format!("backups.{set}.{which}: cannot run `{command}`: {e}")))?;
    match out.status.code() {
        Some(0) => Ok(()),
        Some(75) if which == "before" => {
            Err(Failure { message: format!("backup {set} skipped: its before hook `{command}` exited 75"), code: SKIPPED })
        }
        code => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
            let code = code.map_or("a signal".to_string(), |c| c.to_string());
            Err(Failure::failed(format!("backups.{set}.{which} `{command}` exited {code}: {last}")))
        }
    }
}

/// The running containers to stop for a backup of `set`: the ones its `stop`
/// list names (which must exist) and the ones of this project labelled
/// `bosun.stop-during-backup=true` (looked for only when the engine answers).
pub async fn containers_to_stop(app_config: &Config, set: &str, config: &BackupSet) -> Result<Vec<String>, Failure> {
    let project = &app_config.project.name;
    let docker = match engine(app_config, config.docker_host.as_deref()).await {
        Ok(docker) => docker,
        Err(e) if !config.stop.is_empty() => return Err(e),
        Err(_) => return Ok(Vec::new()),
    };
    let listed = docker
        .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
        .await
        .map_err(|e| Failure::failed(format!("listing containers to stop for the backup: {e}")))?;
    let name_of = |c: &ContainerSummary| c.names.iter().flatten().next().map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default();
    let running = |c: &ContainerSummary| c.state == Some(ContainerSummaryStateEnum::RUNNING);
    let mut names = Vec::new();
    for wanted in &config.stop {
        let Some(container) = listed.iter().find(|c| name_of(c) == *wanted) else {
            return Err(Failure::bad_input(format!("backups.{set}.stop: no container called {wanted}; `docker ps -a` lists them")));
        };
        if running(container) {
            names.push(wanted.clone());
        }
    }
    for container in listed.iter().filter(|c| running(c)) {
        let labels = container.labels.clone().unwrap_or_default();
        let marked = labels.get(STOP_LABEL).is_some_and(|v| v == "true");
        let ours = labels.get(crate::ops::deploy::spec::label::PROJECT).is_none_or(|p| p == project);
        let name = name_of(container);
        if marked && ours && !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// What a dry run would do around the plugin's calls.
pub fn planned(config: &BackupSet, stop: &[String]) -> (Vec<PlannedCall>, Vec<PlannedCall>) {
    let call = |call: &str, detail: &str| PlannedCall { call: call.into(), detail: detail.into() };
    let mut before: Vec<PlannedCall> = config.before.iter().map(|c| call("hook.before", c)).collect();
    before.extend(stop.iter().map(|c| call("docker.stop", c)));
    let mut after: Vec<PlannedCall> = stop.iter().map(|c| call("docker.start", c)).collect();
    after.extend(config.after.iter().map(|c| call("hook.after", c)));
    (before, after)
}

/// Containers bosun stopped and must start again.
pub struct Stopped {
    docker: Option<Docker>,
    names: Vec<String>,
}

/// Stops `names` in order; if one fails, starts the ones already stopped.
/// (On `docker_host`'s engine, the environment's when none.)
pub async fn stop(app_config: &Config, docker_host: Option<&str>, names: &[String]) -> Result<Stopped, Failure> {
    if names.is_empty() {
        return Ok(Stopped { docker: None, names: Vec::new() });
    }
    let docker = engine(app_config, docker_host).await?;
    let mut stopped = Stopped { docker: Some(docker.clone()), names: Vec::new() };
    for name in names {
        let options = StopContainerOptionsBuilder::new().t(STOP_GRACE_SECS).build();
        if let Err(e) = docker.stop_container(name, Some(options)).await {
            let restarted = stopped.start_again().await;
            let mut message = format!("stopping container {name} for the backup: {e}");
            if !restarted.is_empty() {
                message.push_str(&format!("; and {}", restarted.join("; ")));
            }
            return Err(Failure::failed(message));
        }
        stopped.names.push(name.clone());
    }
    Ok(stopped)
}

impl Stopped {
    /// Starts every stopped container; returns what failed, one line each.
    pub async fn start_again(&mut self) -> Vec<String> {
        let Some(docker) = &self.docker else { return Vec::new() };
        let mut failed = Vec::new();
        for name in self.names.drain(..) {
            if let Err(e) = docker.start_container(&name, None::<StartContainerOptions>).await {
                failed.push(format!("container {name} could not be started again: {e}; start it by hand"));
            }
        }
        failed
    }
}

/// The engine of `docker_host`, else the environment's.
async fn engine(config: &Config, docker_host: Option<&str>) -> Result<Docker, Failure> {
    let connected = match docker_host {
        Some(host) => crate::ops::hosts::connect(config, host).await.map(|c| c.client),
        None => crate::docker::open().await,
    };
    connected.map_err(|e| Failure::failed(format!("backup needs the Docker engine to stop containers: {e:#}")))
}

/// Environment for the `after` hook.
pub fn after_env(id: &str, dir: &Path) -> Vec<(&'static str, String)> {
    vec![("BOSUN_BACKUP_ID", id.to_string()), ("BOSUN_BACKUP_DIR", dir.display().to_string())]
}
