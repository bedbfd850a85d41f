//! The engine calls a release makes, each with a one-line error naming what
//! it acted on. Planning reads through them once, into a
//! [`Snapshot`](super::snapshot::Snapshot); applying a plan calls them step by step.

use std::collections::{BTreeMap, HashMap};
use std::pin::pin;

use anyhow::{Result, anyhow};
use bollard::Docker;
use bollard::errors::Error as EngineError;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse, ContainerSummary, ContainerUpdateBody, ImageInspect, RestartPolicy};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, InspectNetworkOptions, ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RenameContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::snapshot::{Container, HostPort, Managed, newest_first};

/// The Docker engine as releases and image commands call it: each call's
/// error is one line naming what it acted on.
#[derive(Clone)]
pub struct DockerClient {
    pub docker: Docker,
}

fn is_not_found(e: &EngineError) -> bool {
    matches!(e, EngineError::DockerResponseServerError { status_code: 404, .. })
}

fn engine_error(what: &str, e: EngineError) -> anyhow::Error {
    match e {
        EngineError::DockerResponseServerError { message, .. } => anyhow!("{what}: {}", message.trim()),
        other => anyhow!("{what}: {}", crate::docker::causes(&other)),
    }
}

impl DockerClient {
    pub async fn open() -> Result<DockerClient> {
        Ok(DockerClient { docker: crate::docker::open().await? })
    }

    /// The engine of host `name` (see `[hosts]`).
    /// Without `[hosts]` in bosun.toml, the environment's engine, as before hosts existed.
    pub async fn for_host(config: &crate::config::Config, name: &str) -> Result<DockerClient> {
        if config.hosts.is_empty() {
            return DockerClient::open().await;
        }
        Ok(DockerClient { docker: crate::ops::hosts::connect(config, name).await?.client })
    }

    /// Containers (running or not) carrying every label in `labels`, newest first.
    pub async fn managed(&self, labels: &BTreeMap<&str, String>) -> Result<Vec<Managed>> {
        let filters: HashMap<&str, Vec<String>> = HashMap::from([("label", labels.iter().map(|(k, v)| format!("{k}={v}")).collect())]);
        let mut managed: Vec<Managed> = self.list(Some(filters)).await?.iter().map(Managed::of).collect();
        newest_first(&mut managed);
        Ok(managed)
    }

    /// Every container on the engine, running or not.
    pub async fn containers(&self) -> Result<Vec<Container>> {
        self.list(None).await
    }

    async fn list(&self, filters: Option<HashMap<&str, Vec<String>>>) -> Result<Vec<Container>> {
        let mut options = ListContainersOptionsBuilder::new().all(true);
        if let Some(filters) = &filters {
            options = options.filters(filters);
        }
        let listed = self.docker.list_containers(Some(options.build())).await.map_err(|e| engine_error("listing containers", e))?;
        Ok(listed.into_iter().map(container).collect())
    }

    /// The engine's `os/arch`, e.g. `linux/amd64`.
    pub async fn platform(&self) -> Result<String> {
        let version = self.docker.version().await.map_err(|e| engine_error("asking the engine its version", e))?;
        Ok(format!("{}/{}", version.os.unwrap_or_default(), version.arch.unwrap_or_default()))
    }

    /// The volume drivers the engine has (`local` and installed plugins).
    pub async fn volume_drivers(&self) -> Result<Vec<String>> {
        let info = self.docker.info().await.map_err(|e| engine_error("asking the engine its plugins", e))?;
        Ok(info.plugins.and_then(|p| p.volume).unwrap_or_default())
    }

    pub async fn network_exists(&self, name: &str) -> Result<bool> {
        match self.docker.inspect_network(name, None::<InspectNetworkOptions>).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(engine_error(&format!("network {name}"), e)),
        }
    }

    /// The driver of volume `name`, or none when there is no such volume.
    pub async fn volume_driver(&self, name: &str) -> Result<Option<String>> {
        match self.docker.inspect_volume(name).await {
            Ok(volume) => Ok(Some(volume.driver)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(engine_error(&format!("volume {name}"), e)),
        }
    }

    /// The image `reference`, or none when it is not on this machine.
    pub async fn image(&self, reference: &str) -> Result<Option<ImageInspect>> {
        match self.docker.inspect_image(reference).await {
            Ok(image) => Ok(Some(image)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(engine_error(&format!("image {reference}"), e)),
        }
    }

    pub async fn container(&self, name: &str) -> Result<Option<ContainerInspectResponse>> {
        match self.docker.inspect_container(name, None::<InspectContainerOptions>).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(engine_error(&format!("container {name}"), e)),
        }
    }

    /// Creates `name`; returns its id.
    pub async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<String> {
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        let created = self.docker.create_container(Some(options), body).await.map_err(|e| engine_error(&format!("creating container {name}"), e))?;
        Ok(created.id)
    }

    pub async fn start(&self, name: &str) -> Result<()> {
        self.docker.start_container(name, None::<StartContainerOptions>).await.map_err(|e| engine_error(&format!("starting container {name}"), e))
    }

    pub async fn stop(&self, name: &str, grace_secs: u32) -> Result<()> {
        let options = StopContainerOptionsBuilder::new().t(i32::try_from(grace_secs).unwrap_or(i32::MAX)).build();
        match self.docker.stop_container(name, Some(options)).await {
            // 304: already stopped.
            Ok(()) | Err(EngineError::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(engine_error(&format!("stopping container {name}"), e)),
        }
    }

    pub async fn rename(&self, name: &str, to: &str) -> Result<()> {
        let options = RenameContainerOptionsBuilder::new().name(to).build();
        self.docker.rename_container(name, options).await.map_err(|e| engine_error(&format!("renaming container {name} to {to}"), e))
    }

    /// Removes `name` (running or not); its named volumes stay.
    pub async fn remove(&self, name: &str) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(engine_error(&format!("removing container {name}"), e)),
        }
    }

    /// Sets the restart policy: a retired container gets `no`, so a daemon
    /// restart does not bring it back beside its successor.
    pub async fn set_restart(&self, name: &str, policy: RestartPolicy) -> Result<()> {
        let body = ContainerUpdateBody { restart_policy: Some(policy), ..Default::default() };
        self.docker.update_container(name, body).await.map_err(|e| engine_error(&format!("updating container {name}"), e))
    }

    /// The last `tail` lines of `name`'s output (stdout and stderr).
    pub async fn logs(&self, name: &str, tail: u32) -> String {
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).tail(&tail.to_string()).build();
        let mut frames = pin!(self.docker.logs(name, Some(options)));
        let mut text = String::new();
        while let Some(frame) = frames.next().await {
            match frame {
                Ok(frame) => text.push_str(&String::from_utf8_lossy(frame.as_ref())),
                Err(e) => {
                    text.push_str(&format!("(logs cut short: {e})"));
                    break;
                }
            }
        }
        text
    }
}

/// A listed container as the snapshot holds it.
fn container(c: ContainerSummary) -> Container {
    let ports = c.ports.unwrap_or_default().into_iter().filter_map(|port| {
        Some(HostPort {
            addr: port.ip.as_deref().and_then(|ip| ip.parse().ok()),
            port: port.public_port?,
            protocol: port.typ.map_or_else(|| "tcp".to_string(), |t| t.to_string()),
        })
    });
    Container {
        id: c.id.unwrap_or_default(),
        name: c.names.into_iter().flatten().next().map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default(),
        image: c.image.unwrap_or_default(),
        image_id: c.image_id.unwrap_or_default(),
        labels: c.labels.unwrap_or_default().into_iter().collect(),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        created: c.created.unwrap_or_default(),
        ports: ports.collect(),
    }
}
