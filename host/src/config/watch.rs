//! `[watch]`: what `bosun serve` samples between deploys. Containers are
//! picked by name prefix, label or service; processes by name, command line,
//! pidfile or listening port, the same ways the `process` check finds them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Problems, parse_duration};

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
pub const DEFAULT_KEEP_RAW: Duration = Duration::from_secs(24 * 3600);
pub const DEFAULT_KEEP_AVERAGES: Duration = Duration::from_secs(30 * 86_400);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watch {
    /// How often to sample (`15s` unless given).
    pub interval: Option<String>,
    /// How long each sample is kept as taken (`24h`).
    pub keep_raw: Option<String>,
    /// How long the 5-minute averages older samples fold into are kept (`30d`).
    pub keep_averages: Option<String>,
    /// Pinged (GET) after every collection, healthchecks.io style, so someone
    /// learns when bosun itself stops.
    pub heartbeat_url: Option<String>,
    /// None: the containers of every service in bosun.toml.
    pub containers: Option<Containers>,
    /// `[watch.processes.<name>]`: exactly one of `name`, `cmdline`, `pidfile`, `port`.
    #[serde(default)]
    pub processes: BTreeMap<String, ProcessTarget>,
}

/// Which containers: those matching any of the selectors.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Containers {
    /// Names starting with any of these (`web-`).
    #[serde(default)]
    pub prefix: Vec<String>,
    /// Carrying any of these labels (`team=web`, or just `team`).
    #[serde(default)]
    pub label: Vec<String>,
    /// The containers bosun deployed for these services, on their hosts.
    #[serde(default)]
    pub services: Vec<String>,
}

/// How a watched process is found; the `process` check takes the same keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessTarget {
    /// The program's name as the kernel has it (`/proc/PID/comm`).
    Name(String),
    /// A glob over the command line, arguments joined by spaces (`python3 *worker.py*`).
    Cmdline(String),
    /// The pid written in this file.
    Pidfile(PathBuf),
    /// Whoever listens on this TCP port.
    Port(u16),
}

impl Watch {
    pub fn interval(&self) -> Duration {
        self.interval.as_deref().and_then(|t| parse_duration(t).ok()).unwrap_or(DEFAULT_INTERVAL)
    }

    pub fn keep_raw(&self) -> Duration {
        self.keep_raw.as_deref().and_then(|t| parse_duration(t).ok()).unwrap_or(DEFAULT_KEEP_RAW)
    }

    pub fn keep_averages(&self) -> Duration {
        self.keep_averages.as_deref().and_then(|t| parse_duration(t).ok()).unwrap_or(DEFAULT_KEEP_AVERAGES)
    }

    pub(super) fn validate(&self, services: &BTreeMap<String, super::Service>, problems: &mut Problems) {
        if let Some(interval) = &self.interval {
            match parse_duration(interval) {
                Ok(d) if d < Duration::from_secs(1) => problems.add("watch.interval", "must be at least 1s"),
                Ok(_) => {}
                Err(e) => problems.add("watch.interval", e),
            }
        }
        for (key, value) in [("watch.keep_raw", &self.keep_raw), ("watch.keep_averages", &self.keep_averages)] {
            if let Some(text) = value {
                problems.check(key, parse_duration(text).map(drop));
            }
        }
        if let Some(url) = &self.heartbeat_url {
            // Whoever has the URL can report bosun alive: it is masked wherever bosun prints.
            crate::secrets::register(url);
            let parsed = url.parse::<http::Uri>().ok().filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
            if parsed.is_none() {
                problems.add("watch.heartbeat_url", "must be an http(s) URL, e.g. https://hc-ping.com/<uuid>");
            }
        }
        for service in self.containers.iter().flat_map(|c| &c.services) {
            if !services.contains_key(service) {
                problems.add("watch.containers.services", format!("no service called {service}; add a [services.{service}] table or remove it"));
            }
        }
        for (name, target) in &self.processes {
            if let ProcessTarget::Cmdline(pattern) = target
                && let Err(e) = globset::Glob::new(pattern)
            {
                problems.add(format!("watch.processes.{name}.cmdline"), format!("{pattern:?} is not a glob: {e}"));
            }
        }
    }
}
