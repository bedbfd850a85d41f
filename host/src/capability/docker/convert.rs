//! The engine's answers as the WIT's records.

use std::collections::HashMap;

use bollard::models as api;

use crate::bindings::docker::{ContainerDetails, ContainerState, ContainerSummary, Health, Mount, MountKind, PortBinding};
use crate::bindings::types::{Kv, Timestamp};

pub(super) fn kvs(map: Option<HashMap<String, String>>) -> Vec<Kv> {
    let mut out: Vec<Kv> = map.unwrap_or_default().into_iter().map(|(key, value)| Kv { key, value }).collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// A container's own name: the listed one without a `/` inside (the others are link aliases).
pub(super) fn primary_name(names: Option<Vec<String>>) -> String {
    let names = names.unwrap_or_default();
    let trimmed = || names.iter().map(|n| n.trim_start_matches('/'));
    trimmed().find(|n| !n.contains('/')).or_else(|| trimmed().next()).unwrap_or_default().to_string()
}

/// A state word of the engine's (`docker ps`'s STATE). A word this bosun
/// does not know reads as dead: not running, not to be trusted.
fn container_state(word: &str) -> ContainerState {
    ContainerState::from_word(word).unwrap_or(ContainerState::Dead)
}

/// A mount the engine calls something new is taken for a volume: named, not a host path.
fn mount_kind(word: &str) -> MountKind {
    MountKind::from_word(word).unwrap_or(MountKind::Volume)
}

/// The engine's creation times are seconds since the epoch.
pub(super) fn from_seconds(seconds: i64) -> Timestamp {
    seconds.saturating_mul(1000)
}

/// An RFC 3339 time of the engine's; none for its zero time ("never").
fn from_rfc3339(text: &str) -> Option<Timestamp> {
    let time: jiff::Timestamp = text.parse().ok()?;
    (time.as_second() > 0).then(|| time.as_millisecond())
}

pub(super) fn container_summary(c: api::ContainerSummary) -> ContainerSummary {
    ContainerSummary {
        id: c.id.unwrap_or_default(),
        name: primary_name(c.names),
        image: c.image.unwrap_or_default(),
        image_id: c.image_id.unwrap_or_default(),
        state: container_state(&c.state.map(|s| s.to_string()).unwrap_or_default()),
        status: c.status.unwrap_or_default(),
        labels: kvs(c.labels),
        created: from_seconds(c.created.unwrap_or_default()),
    }
}

pub(super) fn container_details(c: api::ContainerInspectResponse) -> ContainerDetails {
    let state = c.state.unwrap_or_default();
    let config = c.config.unwrap_or_default();
    let network = c.network_settings.unwrap_or_default();
    let health = state.health.and_then(|h| h.status).and_then(|s| Health::from_word(s.as_ref()));
    let started_at = state.started_at.as_deref().and_then(from_rfc3339);
    let mut networks: Vec<String> = network.networks.unwrap_or_default().into_keys().collect();
    networks.sort();
    ContainerDetails {
        id: c.id.unwrap_or_default(),
        name: c.name.unwrap_or_default().trim_start_matches('/').to_string(),
        image: config.image.unwrap_or_default(),
        image_id: c.image.unwrap_or_default(),
        state: container_state(&state.status.map(|s| s.to_string()).unwrap_or_default()),
        running: state.running.unwrap_or(false),
        health,
        exit_code: state.exit_code.unwrap_or_default().clamp(i32::MIN.into(), i32::MAX.into()) as i32,
        restart_count: c.restart_count.unwrap_or_default().clamp(0, u32::MAX.into()) as u32,
        started_at,
        labels: kvs(config.labels),
        env: config.env.unwrap_or_default(),
        mounts: c.mounts.unwrap_or_default().into_iter().map(mount).collect(),
        ports: port_bindings(network.ports.unwrap_or_default()),
        networks,
    }
}

pub(super) fn mount(m: api::MountPoint) -> Mount {
    let kind = mount_kind(&m.typ.map(|t| t.to_string()).unwrap_or_default());
    // A volume is named by its name; anything else by its host path.
    let source = match (kind, m.name) {
        (MountKind::Volume, Some(name)) => name,
        _ => m.source.unwrap_or_default(),
    };
    Mount { kind, source, destination: m.destination.unwrap_or_default(), read_only: !m.rw.unwrap_or(true) }
}

/// Published ports from the engine's `"80/tcp": [{HostIp, HostPort}]` map.
pub(super) fn port_bindings(ports: api::PortMap) -> Vec<PortBinding> {
    let mut out: Vec<PortBinding> = ports
        .into_iter()
        .flat_map(|(key, bindings)| {
            let (port, protocol) = key.split_once('/').unwrap_or((&key, "tcp"));
            let container_port = port.parse().unwrap_or(0);
            let protocol = protocol.to_string();
            bindings.unwrap_or_default().into_iter().map(move |b| PortBinding {
                container_port,
                protocol: protocol.clone(),
                host_ip: b.host_ip.unwrap_or_default(),
                host_port: b.host_port.and_then(|p| p.parse().ok()).unwrap_or(0),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.container_port, &a.protocol, &a.host_ip).cmp(&(b.container_port, &b.protocol, &b.host_ip)));
    out
}

/// CPU use over the engine's two samples, as `docker stats` computes it (100% = one CPU).
pub(super) fn cpu_percent(sample: &api::ContainerStatsResponse) -> f64 {
    let (Some(now), Some(before)) = (&sample.cpu_stats, &sample.precpu_stats) else {
        return 0.0;
    };
    let total = |s: &api::ContainerCpuStats| s.cpu_usage.as_ref().and_then(|u| u.total_usage).unwrap_or(0);
    let cpu_delta = total(now).saturating_sub(total(before)) as f64;
    let system_delta = now.system_cpu_usage.unwrap_or(0).saturating_sub(before.system_cpu_usage.unwrap_or(0)) as f64;
    let per_cpu = now.cpu_usage.as_ref().and_then(|u| u.percpu_usage.as_ref()).map(|p| p.len() as u32);
    let cpus = now.online_cpus.or(per_cpu).unwrap_or(1);
    if cpu_delta > 0.0 && system_delta > 0.0 { cpu_delta / system_delta * f64::from(cpus) * 100.0 } else { 0.0 }
}

/// Memory in use without the reclaimable page cache, as `docker stats` shows it.
pub(super) fn memory_in_use(memory: &api::ContainerMemoryStats) -> u64 {
    let usage = memory.usage.unwrap_or(0);
    let stats = memory.stats.as_ref();
    // cgroup v1 reports total_inactive_file, v2 inactive_file.
    let cache = stats.and_then(|s| s.get("total_inactive_file").or_else(|| s.get("inactive_file"))).copied().unwrap_or(0);
    usage.saturating_sub(cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ports_are_flattened_and_sorted() {
        let binding = |ip: &str, port: &str| api::PortBinding { host_ip: Some(ip.into()), host_port: Some(port.into()) };
        let ports = api::PortMap::from([
            ("8080/tcp".to_string(), Some(vec![binding("0.0.0.0", "18080"), binding("::", "18080")])),
            ("53/udp".to_string(), Some(vec![binding("127.0.0.1", "5353")])),
            ("9000/tcp".to_string(), None),
        ]);
        let out = port_bindings(ports);
        let flat: Vec<_> = out.iter().map(|p| format!("{}:{}->{}/{}", p.host_ip, p.host_port, p.container_port, p.protocol)).collect();
        assert_eq!(flat, ["127.0.0.1:5353->53/udp", "0.0.0.0:18080->8080/tcp", ":::18080->8080/tcp"]);
    }

    #[test]
    fn link_aliases_are_not_names() {
        assert_eq!(primary_name(Some(vec!["/web/db".into(), "/db".into()])), "db");
        assert_eq!(primary_name(None), "");
    }
}
