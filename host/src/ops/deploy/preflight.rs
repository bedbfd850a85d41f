//! What the new container needs from the host, checked while the plan is
//! made, before anything is stopped: its host ports free (of other processes
//! and of containers the release does not replace), its networks, bind
//! sources and volume drivers present, and its image built for the engine's
//! platform. Every problem found is reported at once.

use std::net::IpAddr;
use std::path::Path;

use anyhow::Result;
use bollard::models::ImageInspect;

use super::engine::{Engine, Managed, Published};
use super::sockets::{self, Bound};
use super::spec::ContainerSpec;
use crate::config::PortMapping;

/// What the preflight looks at.
pub struct Needs<'a> {
    /// `services.<name>`, to point at the key to change.
    pub service: &'a str,
    pub spec: &'a ContainerSpec,
    pub image: &'a str,
    pub image_info: &'a ImageInspect,
    /// Running containers the release stops first: their ports are not in the way.
    pub replaces: &'a [Managed],
}

/// The problems that would make the release fail after the switch; empty when there are none.
pub async fn problems(engine: &Engine, needs: &Needs<'_>) -> Result<Vec<String>> {
    // Host paths and sockets are this machine's only when the engine runs here.
    let local = matches!(crate::docker::Endpoint::from_env(), Ok(crate::docker::Endpoint::Unix(_)));
    let mut problems = port_problems(engine, needs, local).await?;
    problems.extend(network_problems(engine, needs).await?);
    problems.extend(volume_problems(engine, needs, local).await?);
    problems.extend(platform_problem(engine, needs).await?);
    Ok(problems)
}

async fn port_problems(engine: &Engine, needs: &Needs<'_>, local: bool) -> Result<Vec<String>> {
    let fixed = needs.spec.fixed_host_ports();
    if fixed.is_empty() {
        return Ok(vec![]);
    }
    let published = engine.published_ports().await?;
    let bound = if local { sockets::bound()? } else { vec![] };
    let mut problems = Vec::new();
    for port in fixed {
        let want: Option<IpAddr> = port.host_ip.as_deref().and_then(|ip| ip.parse().ok());
        let host_port = port.host_port.unwrap_or_default();
        let same_port = |protocol: &str, number: u16| protocol == port.protocol && number == host_port;
        let other_container = published
            .iter()
            .filter(|p| same_port(&p.protocol, p.port) && overlaps(want, p.addr))
            .find(|p| !needs.replaces.iter().any(|old| old.name == p.container));
        if let Some(other) = other_container {
            problems.push(format!(
                "{} is published by container {}, which this release does not replace; stop it or change services.{}.ports",
                at(port),
                other.container,
                needs.service
            ));
            continue;
        }
        // A container's published port shows as the engine's proxy listening; that one is judged above.
        let process = bound.iter().filter(|b| same_port(b.protocol, b.port) && sockets::overlaps(want, b.addr)).find(|b| !is_published(&published, b));
        if let Some(process) = process {
            let holder = process.holder().unwrap_or_else(|| "a process".to_string());
            problems.push(format!("{} is held by {holder} on this host; stop it or change services.{}.ports", at(port), needs.service));
        }
    }
    Ok(problems)
}

/// A container's published address: none means every address.
fn overlaps(want: Option<IpAddr>, published: Option<IpAddr>) -> bool {
    published.is_none_or(|addr| sockets::overlaps(want, addr))
}

fn is_published(published: &[Published], socket: &Bound) -> bool {
    published.iter().any(|p| p.protocol == socket.protocol && p.port == socket.port && p.addr.is_none_or(|addr| addr == socket.addr))
}

/// `port 8080`, `127.0.0.1:8080`, `[::1]:53/udp`.
fn at(port: &PortMapping) -> String {
    let number = port.host_port.unwrap_or_default();
    let address = match port.host_ip.as_deref() {
        None => format!("port {number}"),
        Some(ip) if ip.contains(':') => format!("[{ip}]:{number}"),
        Some(ip) => format!("{ip}:{number}"),
    };
    if port.protocol == "tcp" { address } else { format!("{address}/{}", port.protocol) }
}

async fn network_problems(engine: &Engine, needs: &Needs<'_>) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for network in needs.spec.networks.keys() {
        if !engine.network_exists(network).await? {
            problems.push(format!("network {network} does not exist; create it (`docker network create {network}`) or change services.{}.networks", needs.service));
        }
    }
    Ok(problems)
}

async fn volume_problems(engine: &Engine, needs: &Needs<'_>, local: bool) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let any_named = needs.spec.volumes.iter().any(|v| !v.is_bind());
    let installed = if any_named { engine.volume_drivers().await? } else { vec![] };
    for volume in &needs.spec.volumes {
        if volume.is_bind() {
            if local {
                problems.extend(bind_problem(&volume.source, needs.service));
            }
            continue;
        }
        let driver = engine.volume_driver(&volume.source).await?;
        let (driver, what) = match &driver {
            Some(driver) => (driver.as_str(), "uses"),
            None => (needs.spec.volume_driver.as_deref().unwrap_or("local"), "would be created with"),
        };
        if !installed.iter().any(|d| d == driver) {
            let key = if what == "uses" { "volumes" } else { "volume_driver" };
            problems.push(format!(
                "volume {} {what} the driver {driver}, which this engine does not have (it has {}); install the plugin (`docker plugin install`) or change services.{}.{key}",
                volume.source,
                installed.join(", "),
                needs.service
            ));
        }
    }
    Ok(problems)
}

/// A missing bind source would be made by the engine as an empty directory: data silently not there.
fn bind_problem(source: &str, service: &str) -> Option<String> {
    match std::fs::metadata(Path::new(source)) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(format!("bind source {source} does not exist; create it or change services.{service}.volumes")),
        Err(e) => Some(format!("bind source {source} cannot be read ({e}); fix it or change services.{service}.volumes")),
    }
}

async fn platform_problem(engine: &Engine, needs: &Needs<'_>) -> Result<Option<String>> {
    let info = needs.image_info;
    let (Some(os), Some(arch)) = (info.os.as_deref(), info.architecture.as_deref()) else { return Ok(None) };
    let image_platform = format!("{os}/{arch}");
    let engine_platform = engine.platform().await?;
    Ok((image_platform != engine_platform).then(|| {
        format!(
            "image {} is built for {image_platform}, but the engine runs {engine_platform}; pull the {engine_platform} image (`bosun images pull {}`) or push one for it",
            needs.image, needs.image
        )
    }))
}
