//! `[watch]`: samples of the containers and processes bosun keeps an eye
//! on, taken every `interval` by `bosun serve` (or `bosun watch`), kept in
//! the state store and folded into averages as they age.

mod containers;
mod heartbeat;
mod processes;

use std::collections::{BTreeMap, HashMap};

use futures_util::future::join_all;
use serde::Serialize;

use crate::app::App;
use crate::config::watch::Containers;
use crate::config::{Config, Strategy};
use crate::failure::Failure;
use crate::ops::cancel::Cancel;
use crate::ops::deploy::client::DockerClient;
use crate::state::{Folded, Sample, State, now_unix};

/// What one collection found.
#[derive(Debug, Serialize)]
pub struct Collection {
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub samples: Vec<Sample>,
    /// Hosts whose engine did not answer, with why: their containers are `unknown`.
    pub unreachable: Vec<Unreachable>,
    /// Selectors that matched nothing: worth a look, not an error.
    pub unmatched: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unreachable {
    pub host: String,
    pub error: String,
}

/// Keeps what the next collection compares with: CPU counters, who ran,
/// which containers were there.
#[derive(Default)]
pub struct Watcher {
    container_cpu: HashMap<String, containers::CpuCounters>,
    processes: HashMap<String, processes::Seen>,
    /// Per host, each container target sampled so far and its container's name.
    known: BTreeMap<String, BTreeMap<String, String>>,
}

/// The containers `[watch]` selects: as configured, else every service's
/// (compose services excepted: their containers are compose's).
pub fn selectors(config: &Config) -> Containers {
    config.watch.containers.clone().unwrap_or_else(|| Containers {
        services: config.services.iter().filter(|(_, s)| s.strategy != Strategy::Compose).map(|(name, _)| name.clone()).collect(),
        ..Containers::default()
    })
}

/// Whether there is anything to watch.
pub fn anything(config: &Config) -> bool {
    let selected = selectors(config);
    !(selected.services.is_empty() && selected.prefix.is_empty() && selected.label.is_empty() && config.watch.processes.is_empty() && config.processes.is_empty())
}

impl Watcher {
    /// One sample of every target, the hosts' engines asked at once.
    pub async fn collect(&mut self, config: &Config) -> Collection {
        let at = now_unix();
        let selected = selectors(config);
        let mut hosts: Vec<String> = config.hosts_in_use(&[]).unwrap_or_default();
        let by_name_or_label = !(selected.prefix.is_empty() && selected.label.is_empty());
        if by_name_or_label && !hosts.iter().any(|h| h == "local") {
            hosts.push("local".into());
        }
        let engines = join_all(hosts.iter().map(|host| async move {
            let docker = DockerClient::for_host(config, host).await?;
            let listed = docker.containers().await?;
            anyhow::Ok((docker, listed))
        }))
        .await;
        let mut collection = Collection { at, samples: Vec::new(), unreachable: Vec::new(), unmatched: Vec::new() };
        let mut per_host = Vec::new();
        for (host, engine) in hosts.iter().zip(engines) {
            match engine {
                Ok((docker, listed)) => {
                    let picked = containers::pick(config, host, &selected, &listed);
                    per_host.push((host, docker, picked));
                }
                Err(e) => {
                    // Its services' containers, and any seen there before, are unknown: never `exited`.
                    let mut targets = self.known.get(host).cloned().unwrap_or_default();
                    for service in selected.services.iter().filter(|s| config.service_hosts(s).contains(host)) {
                        targets.entry(service.clone()).or_default();
                    }
                    collection.samples.extend(containers::unknown(host, &targets, at));
                    collection.unreachable.push(Unreachable { host: host.clone(), error: format!("{e:#}") });
                }
            }
        }
        let mut cpu = std::mem::take(&mut self.container_cpu);
        for (host, docker, picked) in &per_host {
            let known = self.known.entry(host.to_string()).or_default();
            known.extend(picked.iter().filter(|p| !p.name.is_empty()).map(|p| (p.target.clone(), p.name.clone())));
            collection.samples.extend(containers::sample(docker, host, picked, at, &mut cpu).await);
        }
        self.container_cpu = cpu;
        collection.unmatched.extend(unmatched(&selected, &per_host.iter().flat_map(|(_, _, p)| p).collect::<Vec<_>>()));
        if !(config.watch.processes.is_empty() && config.processes.is_empty()) {
            // /proc is walked once for every process target; a process service is found by the pid bosun started.
            let snapshot = crate::procs::Snapshot::take();
            use crate::ops::processes::Now;
            // A process service not running is `stopped` (on purpose) or `exited` (it ended by itself), never `missing`.
            let services = config.processes.keys().map(|name| match crate::ops::processes::now(config, name) {
                Now::Running { pid, .. } => (name, Some(crate::procs::Find::Pid(pid)), None),
                Now::Stopped => (name, None, Some("stopped")),
                Now::Ended { .. } | Now::Stale { .. } => (name, None, Some("exited")),
            });
            let targets = config.watch.processes.iter().map(|(name, target)| (name, processes::finder(target), None)).chain(services);
            for (name, find, not_running) in targets {
                let mut sample = processes::sample(name, find, at, &snapshot, self.processes.entry(name.clone()).or_default());
                if let Some(state) = not_running {
                    sample.state = state.into();
                }
                    if sample.state == "missing" && config.watch.processes.contains_key(name) {
                    collection.unmatched.push(format!("watch.processes.{name}: no process matches"));
                }
                collection.samples.push(sample);
            }
        }
        collection
    }
}

/// Each prefix and label that picked no container on any reachable host.
fn unmatched(selected: &Containers, picked: &[&containers::Picked]) -> Vec<String> {
    let selectors = selected.prefix.iter().map(|p| format!("prefix {p:?}")).chain(selected.label.iter().map(|l| format!("label {l:?}")));
    selectors.filter(|s| !picked.iter().any(|p| p.by.as_ref() == Some(s))).map(|s| format!("watch.containers {s}: no container matches")).collect()
}

/// Keeps `collection`'s samples and folds the old ones (see [`State::fold_samples`]).
pub fn record(state: &State, config: &Config, collection: &Collection) -> Result<Folded, crate::state::StateError> {
    state.record_samples(&collection.samples)?;
    state.fold_samples(collection.at, config.watch.keep_raw().as_secs() as i64, config.watch.keep_averages().as_secs() as i64)
}

/// Collects every `[watch] interval` until `stop`, keeping each collection,
/// pinging `heartbeat_url`, and handing it to `each`. A store that cannot be
/// written (a full disk) or a heartbeat that fails gets one warning, and
/// watching goes on; another when it works again.
pub async fn run(app: &App, stop: Cancel, mut each: impl AsyncFnMut(&Collection)) -> Result<(), Failure> {
    if !anything(&app.config) && app.config.watch.heartbeat_url.is_none() {
        eprintln!("watch: nothing to watch (no services, no [watch] targets)");
        return Ok(());
    }
    let state = app.state()?;
    let interval = app.config.watch.interval();
    let mut watcher = Watcher::default();
    let (mut storing, mut pinging) = (Streak::default(), Streak::default());
    let mut stopped = std::pin::pin!(stop.cancelled());
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = &mut stopped => return Ok(()),
        }
        let collection = watcher.collect(&app.config).await;
        storing.note(record(state, &app.config, &collection).map(drop).map_err(|e| e.to_string()), "keeping samples", "sampling goes on, keeping nothing until the store can be written");
        if let Some(url) = &app.config.watch.heartbeat_url {
            let pinged = heartbeat::ping(url).await.and_then(|status| match status {
                200..=299 => Ok(()),
                other => Err(format!("answered {other}")),
            });
            pinging.note(pinged, "pinging watch.heartbeat_url", "watching goes on");
        }
        each(&collection).await;
    }
}

/// Whether something done every collection is failing: one warning when it
/// starts to, one when it works again, nothing in between.
#[derive(Default)]
struct Streak {
    failing: bool,
}

impl Streak {
    fn note(&mut self, outcome: Result<(), String>, what: &str, meanwhile: &str) {
        match (outcome, self.failing) {
            (Err(e), false) => {
                tracing::warn!("watch: {what} failed ({e}); {meanwhile}");
                self.failing = true;
            }
            (Ok(()), true) => {
                tracing::warn!("watch: {what} works again");
                self.failing = false;
            }
            _ => {}
        }
    }
}
