//! The engine calls a release makes, each with a one-line error naming what
//! it acted on.

use std::collections::{BTreeMap, HashMap};
use std::pin::pin;

use anyhow::{Result, anyhow};
use bollard::Docker;
use bollard::errors::Error as EngineError;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse, ContainerSummary, ContainerSummaryStateEnum, ContainerUpdateBody, ImageInspect, RestartPolicy};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, InspectNetworkOptions, ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RenameContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;
use serde::Serialize;

use super::spec::label;

/// A container bosun manages, as listed by the engine.
#[derive(Debug, Clone, Serialize)]
pub struct Managed {
    pub id: String,
    pub name: String,
    pub service: String,
    /// The image reference it was created from.
    pub image: String,
    /// The image id it runs (`sha256:…`).
    pub image_id: String,
    pub version: String,
    /// The `bosun.config-hash` label: equal to a plan's means an equal container.
    pub config_hash: String,
    /// The release that created it.
    pub release: Option<i64>,
    pub running: bool,
    /// Seconds since the Unix epoch.
    pub created: i64,
}

impl Managed {
    fn from_summary(c: ContainerSummary) -> Managed {
        let labels = c.labels.unwrap_or_default();
        Managed {
            id: c.id.unwrap_or_default(),
            name: c.names.into_iter().flatten().next().map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default(),
            service: labels.get(label::SERVICE).cloned().unwrap_or_default(),
            image: c.image.unwrap_or_default(),
            image_id: c.image_id.unwrap_or_default(),
            version: labels.get(label::VERSION).cloned().unwrap_or_default(),
            config_hash: labels.get(label::CONFIG_HASH).cloned().unwrap_or_default(),
            release: labels.get(label::RELEASE).and_then(|r| r.parse().ok()),
            running: matches!(c.state, Some(ContainerSummaryStateEnum::RUNNING | ContainerSummaryStateEnum::RESTARTING)),
            created: c.created.unwrap_or_default(),
        }
    }

    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

/// A host port a running container publishes.
#[derive(Debug, Clone)]
pub struct Published {
    pub container: String,
    /// None when the engine lists no address.
    pub addr: Option<std::net::IpAddr>,
    pub port: u16,
    pub protocol: String,
}

pub struct Engine {
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

impl Engine {
    pub async fn open() -> Result<Engine> {
        Ok(Engine { docker: crate::docker::open().await? })
    }

    /// Containers (running or not) carrying every label in `labels`, newest first.
    pub async fn managed(&self, labels: &BTreeMap<&str, String>) -> Result<Vec<Managed>> {
        let filters: HashMap<&str, Vec<String>> = HashMap::from([("label", labels.iter().map(|(k, v)| format!("{k}={v}")).collect())]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let listed = self.docker.list_containers(Some(options)).await.map_err(|e| engine_error("listing containers", e))?;
        let mut managed: Vec<Managed> = listed.into_iter().map(Managed::from_summary).collect();
        managed.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.release.cmp(&a.release)));
        Ok(managed)
    }

    /// Every host port a running container publishes, with its address (one listing).
    pub async fn published_ports(&self) -> Result<Vec<Published>> {
        let options = ListContainersOptionsBuilder::new().all(false).build();
        let listed = self.docker.list_containers(Some(options)).await.map_err(|e| engine_error("listing containers", e))?;
        let mut published = Vec::new();
        for container in listed {
            let ports = container.ports.clone().unwrap_or_default();
            let container = Managed::from_summary(container).name;
            for port in ports {
                let Some(host_port) = port.public_port else { continue };
                let protocol = port.typ.map_or_else(|| "tcp".to_string(), |t| t.to_string());
                let addr = port.ip.as_deref().and_then(|ip| ip.parse().ok());
                published.push(Published { container: container.clone(), addr, port: host_port, protocol });
            }
        }
        Ok(published)
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
