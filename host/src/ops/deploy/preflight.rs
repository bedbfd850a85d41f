//! What the new container needs from the host, checked against the
//! [`Snapshot`] while the plan is made, before anything is stopped: its host
//! ports free (of other processes and of containers the release does not
//! replace), its networks, bind sources and volume drivers present, and its
//! image built for the engine's platform. Every problem found is reported at
//! once.

use std::net::IpAddr;

use super::snapshot::{HostPort, Image, Managed, PathState, Snapshot, Socket};
use super::sockets;
use super::spec::ContainerSpec;
use crate::config::PortMapping;

/// What the preflight looks at.
pub struct Needs<'a> {
    /// `services.<name>`, to point at the key to change.
    pub service: &'a str,
    pub spec: &'a ContainerSpec,
    pub image: &'a str,
    pub image_info: &'a Image,
    /// Running containers the release stops first: their ports are not in the way.
    pub replaces: &'a [Managed],
}

/// The problems that would make the release fail after the switch; empty when there are none.
pub fn problems(snapshot: &Snapshot, needs: &Needs<'_>) -> Vec<String> {
    let mut problems = port_problems(snapshot, needs);
    problems.extend(network_problems(snapshot, needs));
    problems.extend(volume_problems(snapshot, needs));
    problems.extend(platform_problem(snapshot, needs));
    problems
}

fn port_problems(snapshot: &Snapshot, needs: &Needs<'_>) -> Vec<String> {
    let published: Vec<(&str, &HostPort)> = snapshot.published().collect();
    let sockets = snapshot.host.as_ref().map_or(&[][..], |host| &host.sockets);
    let mut problems = Vec::new();
    for port in needs.spec.fixed_host_ports() {
        let want: Option<IpAddr> = port.host_ip.as_deref().and_then(|ip| ip.parse().ok());
        let host_port = port.host_port.unwrap_or_default();
        let same_port = |protocol: &str, number: u16| protocol == port.protocol && number == host_port;
        let other_container = published
            .iter()
            .filter(|(_, p)| same_port(&p.protocol, p.port) && overlaps(want, p.addr))
            .find(|(container, _)| !needs.replaces.iter().any(|old| old.name == *container));
        if let Some((other, _)) = other_container {
            problems.push(format!(
                "{} is published by container {other}, which this release does not replace; stop it or change services.{}.ports",
                at(port),
                needs.service
            ));
            continue;
        }
        // A container's published port shows as the engine's proxy listening; that one is judged above.
        let process = sockets.iter().filter(|s| same_port(&s.protocol, s.port) && sockets::overlaps(want, s.addr)).find(|s| !is_published(&published, s));
        if let Some(process) = process {
            let holder = process.holder.as_deref().unwrap_or("a process");
            problems.push(format!("{} is held by {holder} on this host; stop it or change services.{}.ports", at(port), needs.service));
        }
    }
    problems
}

/// A container's published address: none means every address.
fn overlaps(want: Option<IpAddr>, published: Option<IpAddr>) -> bool {
    published.is_none_or(|addr| sockets::overlaps(want, addr))
}

fn is_published(published: &[(&str, &HostPort)], socket: &Socket) -> bool {
    published.iter().any(|(_, p)| p.protocol == socket.protocol && p.port == socket.port && p.addr.is_none_or(|addr| addr == socket.addr))
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

fn network_problems(snapshot: &Snapshot, needs: &Needs<'_>) -> Vec<String> {
    let missing = needs.spec.networks.keys().filter(|network| !snapshot.networks.contains(*network));
    missing
        .map(|network| format!("network {network} does not exist; create it (`docker network create {network}`) or change services.{}.networks", needs.service))
        .collect()
}

fn volume_problems(snapshot: &Snapshot, needs: &Needs<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let installed = &snapshot.volume_drivers;
    for volume in &needs.spec.volumes {
        if volume.is_bind() {
            if let Some(host) = &snapshot.host {
                problems.extend(bind_problem(host.paths.get(&volume.source), &volume.source, needs.service));
            }
            continue;
        }
        let (driver, what) = match snapshot.volumes.get(&volume.source) {
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
    problems
}

/// A missing bind source would be made by the engine as an empty directory: data silently not there.
fn bind_problem(state: Option<&PathState>, source: &str, service: &str) -> Option<String> {
    match state {
        Some(PathState::Present) => None,
        None | Some(PathState::Missing) => Some(format!("bind source {source} does not exist; create it or change services.{service}.volumes")),
        Some(PathState::Unreadable(e)) => Some(format!("bind source {source} cannot be read ({e}); fix it or change services.{service}.volumes")),
    }
}

fn platform_problem(snapshot: &Snapshot, needs: &Needs<'_>) -> Option<String> {
    let image_platform = needs.image_info.platform.as_deref()?;
    let engine_platform = &snapshot.platform;
    (image_platform != engine_platform).then(|| {
        format!(
            "image {} is built for {image_platform}, but the engine runs {engine_platform}; pull the {engine_platform} image (`bosun images pull {}`) or push one for it",
            needs.image, needs.image
        )
    })
}
