//! Everything planning a release reads from the engine and this host,
//! gathered in one step into a plain value. The plan ([`super::plan`]) and its
//! preflight are computed from it without asking anything while they decide,
//! so they are tested with a snapshot written by hand, without Docker.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use anyhow::Result;
use bollard::models::ImageInspect;
use serde::Serialize;

use super::client::DockerClient;
use super::plan::Target;
use super::sockets;
use super::spec::{ContainerSpec, EnvFiles, label, read_env_files};

/// What the engine and this host say about a release's target.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Images by the reference looked up (`repo:version`, and a rollback's
    /// image id); a reference not here is not on this machine.
    pub images: BTreeMap<String, Image>,
    /// Every container on the engine, running or not.
    pub containers: Vec<Container>,
    /// The networks the service joins that exist.
    pub networks: BTreeSet<String>,
    /// The named volumes the service mounts that exist, with their driver.
    pub volumes: BTreeMap<String, String>,
    /// The volume drivers the engine has (`local` and installed plugins);
    /// asked only when the service mounts a named volume.
    pub volume_drivers: Vec<String>,
    /// The engine's `os/arch`, e.g. `linux/amd64`.
    pub platform: String,
    /// The env files the service names (absolute paths), read.
    pub env_files: EnvFiles,
    /// This machine's sockets and paths when the engine runs here (its
    /// containers bind its ports and mount its paths); none for a remote engine.
    pub host: Option<Host>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `sha256:…`.
    pub id: String,
    /// `os/arch` when the image says both.
    pub platform: Option<String>,
    /// The image's own healthcheck test, `["NONE"]` when it turns one off.
    pub healthcheck: Option<Vec<String>>,
}

impl Image {
    fn of(inspected: &ImageInspect) -> Image {
        let platform = match (inspected.os.as_deref(), inspected.architecture.as_deref()) {
            (Some(os), Some(arch)) => Some(format!("{os}/{arch}")),
            _ => None,
        };
        let healthcheck = inspected.config.as_ref().and_then(|c| c.healthcheck.as_ref()).and_then(|h| h.test.clone());
        Image { id: inspected.id.clone().unwrap_or_default(), platform, healthcheck }
    }
}

/// A container as the engine lists it.
#[derive(Debug, Clone, Default)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// The image reference it was created from.
    pub image: String,
    /// The image id it runs (`sha256:…`).
    pub image_id: String,
    pub labels: BTreeMap<String, String>,
    /// As the engine says it: `running`, `restarting`, `paused`, `exited`, `created`, …
    pub state: String,
    /// Seconds since the Unix epoch.
    pub created: i64,
    /// The host ports it publishes.
    pub ports: Vec<HostPort>,
}

impl Container {
    /// Running, or about to run again.
    pub fn running(&self) -> bool {
        matches!(self.state.as_str(), "running" | "restarting")
    }

    /// Whether its published ports are held (a paused container keeps them).
    fn holds_ports(&self) -> bool {
        self.running() || self.state == "paused"
    }
}

/// A host port a container publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// None when the engine lists no address.
    pub addr: Option<IpAddr>,
    pub port: u16,
    pub protocol: String,
}

/// A container bosun manages: one carrying its labels.
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
    pub fn of(c: &Container) -> Managed {
        let label = |key: &str| c.labels.get(key).cloned().unwrap_or_default();
        Managed {
            id: c.id.clone(),
            name: c.name.clone(),
            service: label(label::SERVICE),
            image: c.image.clone(),
            image_id: c.image_id.clone(),
            version: label(label::VERSION),
            config_hash: label(label::CONFIG_HASH),
            release: c.labels.get(label::RELEASE).and_then(|r| r.parse().ok()),
            running: c.running(),
            created: c.created,
        }
    }

    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

/// Newest first: by creation time, then by release.
pub fn newest_first(managed: &mut [Managed]) {
    managed.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.release.cmp(&a.release)));
}

/// What this machine says, for an engine running on it.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// The sockets bound on the host ports the service publishes at fixed numbers.
    pub sockets: Vec<Socket>,
    /// Each bind source the service mounts.
    pub paths: BTreeMap<String, PathState>,
}

/// A listening TCP or bound UDP socket on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub protocol: String,
    pub addr: IpAddr,
    pub port: u16,
    /// `nginx (pid 812)`; none when the process is not visible.
    pub holder: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathState {
    Present,
    Missing,
    /// Why it cannot be read.
    Unreadable(String),
}

impl Snapshot {
    /// Reads what planning `target` needs. `config_dir` is bosun.toml's
    /// directory, absolute: relative env files and bind sources are under it.
    /// `here`: the engine runs on this machine (its containers bind this
    /// machine's ports and mount its paths), so those are looked at too.
    pub async fn gather(client: &DockerClient, target: &Target, config_dir: &Path, here: bool) -> Result<Snapshot> {
        let service = &target.service;
        let env_files = read_env_files(&service.env_files, config_dir);
        // The container as it would be made, for what it needs; a config that
        // does not build is refused by the plan with the same error.
        let spec = ContainerSpec::build(service, "", &service.image, config_dir, &env_files).ok();
        let (fixed_ports, networks, volumes) = match &spec {
            Some(spec) => (spec.fixed_host_ports(), spec.networks.keys().collect(), spec.volumes.iter().collect()),
            None => (vec![], vec![], vec![]),
        };
        let references = [format!("{}:{}", service.image, target.version)].into_iter().chain(target.pinned_image.clone());
        let mut snapshot = Snapshot { env_files, ..Snapshot::default() };
        for reference in references {
            if let Some(image) = client.image(&reference).await? {
                snapshot.images.insert(reference, Image::of(&image));
            }
        }
        snapshot.containers = client.containers().await?;
        snapshot.platform = client.platform().await?;
        for network in networks {
            if client.network_exists(network).await? {
                snapshot.networks.insert(network.clone());
            }
        }
        let (binds, named): (Vec<_>, Vec<_>) = volumes.into_iter().partition(|v| v.is_bind());
        for volume in &named {
            if let Some(driver) = client.volume_driver(&volume.source).await? {
                snapshot.volumes.insert(volume.source.clone(), driver);
            }
        }
        if !named.is_empty() {
            snapshot.volume_drivers = client.volume_drivers().await?;
        }
        if here {
            let bound = if fixed_ports.is_empty() { vec![] } else { sockets::bound()? };
            let bound: Vec<_> = bound.into_iter().filter(|b| fixed_ports.iter().any(|p| p.protocol == b.protocol && p.host_port == Some(b.port))).collect();
            let holders = sockets::holders(&bound);
            let sockets = bound.iter().zip(holders).map(|(b, holder)| Socket { protocol: b.protocol.to_string(), addr: b.addr, port: b.port, holder }).collect();
            let paths = binds.iter().map(|v| (v.source.clone(), path_state(Path::new(&v.source)))).collect();
            snapshot.host = Some(Host { sockets, paths });
        }
        Ok(snapshot)
    }

    /// The containers carrying every label in `labels`, newest first.
    pub fn managed(&self, labels: &BTreeMap<&str, String>) -> Vec<Managed> {
        let carries = |c: &&Container| labels.iter().all(|(key, value)| c.labels.get(*key) == Some(value));
        let mut managed: Vec<Managed> = self.containers.iter().filter(carries).map(Managed::of).collect();
        newest_first(&mut managed);
        managed
    }

    /// The container called `name`.
    pub fn named(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// Every host port a container holds, with the container's name.
    pub fn published(&self) -> impl Iterator<Item = (&str, &HostPort)> {
        self.containers.iter().filter(|c| c.holds_ports()).flat_map(|c| c.ports.iter().map(|p| (c.name.as_str(), p)))
    }
}

/// A missing bind source would be made by the engine as an empty directory: data silently not there.
fn path_state(path: &Path) -> PathState {
    match std::fs::metadata(path) {
        Ok(_) => PathState::Present,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => PathState::Missing,
        Err(e) => PathState::Unreadable(e.to_string()),
    }
}
