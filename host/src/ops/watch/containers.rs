//! Containers, through each host's engine: which ones `[watch]` selects,
//! and one sample of each, its inspect and its one-shot stats asked at once.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{ContainerInspectResponse, ContainerStatsResponse};
use bollard::query_parameters::StatsOptionsBuilder;
use futures_util::StreamExt;
use futures_util::future::join_all;

use crate::config::Config;
use crate::config::watch::Containers;
use crate::ops::deploy::client::DockerClient;
use crate::ops::deploy::snapshot::Container;
use crate::ops::deploy::spec::label;
use crate::state::Sample;

/// A container `[watch]` selected: what its samples are filed under.
pub struct Picked {
    /// The service it runs, or its own name.
    pub target: String,
    /// The container's name now (empty: the service has none).
    pub name: String,
    /// The prefix or label that picked it (`prefix "web-"`); none for a service's.
    pub by: Option<String>,
}

/// What one container's CPU counters were at the last collection.
#[derive(Clone, Copy)]
pub struct CpuCounters {
    total: u64,
    system: u64,
}

/// The containers on one host that `selectors` pick: a service's newest
/// (running first), and every container a prefix or label matches.
pub fn pick(config: &Config, host: &str, selectors: &Containers, listed: &[Container]) -> Vec<Picked> {
    let mut picked = Vec::new();
    for service in &selectors.services {
        if !config.service_hosts(service).iter().any(|h| h == host) {
            continue;
        }
        let wanted = [(label::PROJECT, &config.project.name), (label::SERVICE, service), (label::ENV, &config.project.env)];
        let mut mine: Vec<&Container> = listed.iter().filter(|c| wanted.iter().all(|(k, v)| c.labels.get(*k) == Some(*v))).collect();
        // Running before stopped, then newest first.
        mine.sort_by_key(|c| (c.state != "running", std::cmp::Reverse(c.created)));
        let name = mine.first().map(|c| c.name.clone()).unwrap_or_default();
        picked.push(Picked { target: service.clone(), name, by: None });
    }
    for c in listed {
        let by_prefix = selectors.prefix.iter().find(|p| c.name.starts_with(p.as_str())).map(|p| format!("prefix {p:?}"));
        let by_label = || {
            selectors.label.iter().find(|l| match l.split_once('=') {
                Some((k, v)) => c.labels.get(k).map(String::as_str) == Some(v),
                None => c.labels.contains_key(l.as_str()),
            })
        };
        if let Some(by) = by_prefix.or_else(|| by_label().map(|l| format!("label {l:?}"))) {
            picked.push(Picked { target: c.name.clone(), name: c.name.clone(), by: Some(by) });
        }
    }
    picked
}

/// One sample of each picked container, all asked at once. `previous`
/// holds each container's CPU counters from the last collection (CPU is
/// the change since then) and is updated.
pub async fn sample(docker: &DockerClient, host: &str, picked: &[Picked], at: i64, previous: &mut HashMap<String, CpuCounters>) -> Vec<Sample> {
    let asked = join_all(picked.iter().map(|p| async move {
        if p.name.is_empty() {
            return (None, None);
        }
        let inspect = docker.container(&p.name);
        let stats = async {
            let options = StatsOptionsBuilder::new().stream(false).one_shot(true).build();
            docker.docker.stats(&p.name, Some(options)).next().await.and_then(Result::ok)
        };
        let (inspect, stats) = futures_util::join!(inspect, stats);
        (inspect.ok().flatten(), stats)
    }))
    .await;
    picked.iter().zip(asked).map(|(p, (inspect, stats))| one(host, p, at, inspect, stats, previous)).collect()
}

fn one(host: &str, picked: &Picked, at: i64, inspect: Option<ContainerInspectResponse>, stats: Option<ContainerStatsResponse>, previous: &mut HashMap<String, CpuCounters>) -> Sample {
    let mut sample = Sample { kind: "container".into(), target: picked.target.clone(), host: host.to_string(), at, state: "missing".into(), ..Sample::default() };
    let Some(inspect) = inspect else { return sample };
    sample.detail = Some(picked.name.clone());
    sample.restarts = inspect.restart_count;
    if let Some(state) = &inspect.state {
        sample.state = state.status.map_or_else(|| "unknown".into(), |s| s.to_string());
        sample.health = state.health.as_ref().and_then(|h| h.status).map(|h| h.to_string()).filter(|h| h != "none");
        if state.running == Some(true) {
            sample.uptime_secs = state.started_at.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok()).map(|t| (at - t.as_second()).max(0));
        }
    }
    let Some(stats) = stats else { return sample };
    let cpu = stats.cpu_stats.as_ref();
    let now = cpu.and_then(|c| Some(CpuCounters { total: c.cpu_usage.as_ref()?.total_usage?, system: c.system_cpu_usage? }));
    let key = format!("{host}/{}", picked.name);
    if let (Some(now), Some(before)) = (now, previous.get(&key)) {
        let (used, elapsed) = (now.total.saturating_sub(before.total) as f64, now.system.saturating_sub(before.system) as f64);
        let cpus = cpu.and_then(|c| c.online_cpus).unwrap_or(1).max(1) as f64;
        // As `docker stats` counts it: 100% is one core.
        sample.cpu_percent = (elapsed > 0.0).then(|| used / elapsed * cpus * 100.0);
    }
    match now {
        Some(now) => previous.insert(key, now),
        None => previous.remove(&key),
    };
    if let Some(memory) = &stats.memory_stats {
        // As `docker stats` counts it: the page cache the kernel can drop is not use.
        let cache = memory.stats.as_ref().and_then(|s| s.get("inactive_file").or_else(|| s.get("total_inactive_file")).copied()).unwrap_or(0);
        sample.memory_bytes = memory.usage.map(|u| u.saturating_sub(cache) as i64);
        sample.memory_limit = memory.limit.map(|l| l as i64);
    }
    if let Some(networks) = &stats.networks {
        sample.net_rx = Some(networks.values().filter_map(|n| n.rx_bytes).sum::<u64>() as i64);
        sample.net_tx = Some(networks.values().filter_map(|n| n.tx_bytes).sum::<u64>() as i64);
    }
    if let Some(io) = stats.blkio_stats.as_ref().and_then(|b| b.io_service_bytes_recursive.as_ref()) {
        let total = |op: &str| io.iter().filter(|e| e.op.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(op))).filter_map(|e| e.value).sum::<u64>() as i64;
        sample.block_read = Some(total("read"));
        sample.block_write = Some(total("write"));
    }
    sample.pids = stats.pids_stats.as_ref().and_then(|p| p.current).map(|p| p as i64);
    sample
}

/// `targets` (and their containers' names, when known) on a host whose
/// engine does not answer: each `unknown`, never `exited` (bosun cannot tell).
pub fn unknown(host: &str, targets: &BTreeMap<String, String>, at: i64) -> Vec<Sample> {
    targets
        .iter()
        .map(|(target, name)| {
            let detail = (!name.is_empty()).then(|| name.clone());
            Sample { kind: "container".into(), target: target.clone(), host: host.to_string(), at, state: "unknown".into(), detail, ..Sample::default() }
        })
        .collect()
}
