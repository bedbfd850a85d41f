//! What a plugin may do. One module per WIT interface the host implements, each
//! with the same three parts:
//!
//! - `Grant`: parses and validates the operator's grant entries (also what
//!   `bosun doctor` runs) and answers "is this allowed?";
//! - `link`: adds the interface to the linker;
//! - the `Host` impl: the calls themselves, each checked against the [`Policy`]
//!   (requested by the manifest ∩ granted in bosun.toml) and, when mutating,
//!   recorded instead of executed in a dry run.

pub mod artifact;
pub mod docker;
pub mod fs;
mod held;
pub mod http;
pub mod log;
pub mod net;
pub mod notify;
pub mod process;
pub mod read_ahead;
mod state;
mod tail;
pub mod tls;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use state::{CallState, HostServices, HostState, LogLine, PlannedCall};

/// Capability entries in bosun's grammar. The same shape serves a manifest's
/// `[capabilities]` (what the plugin asks for) and bosun.toml's
/// `[plugins.<name>.grant]` (what the operator allows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSpec {
    /// `ro:/path` or `rw:/path` (`*` for any path, in requests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fs: Vec<String>,
    /// `action[,action]:name-glob`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docker: Vec<String>,
    /// `run:<command> <argv pattern>` (`*` one argument, `**` the rest,
    /// `{path:ro}` a granted path), `env:NAME,…` or `find:<name-glob>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub process: Vec<String>,
    /// `scheme://host[:port]`, host may start with `*.`; `*` for any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<String>,
    /// Event-kind globs a plugin may emit (`check.*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    /// `host:port` a plugin may probe (TCP connect, TLS certificate); `*` for
    /// any host or port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub net: Vec<String>,
}

/// What a manifest asks for.
pub type Requests = GrantSpec;

impl GrantSpec {
    /// Checks a manifest's requests (commands are not looked up: a plugin may
    /// ask for one this machine lacks).
    pub fn validate(&self) -> Result<(), String> {
        Grants::parse_requests(self).map(|_| ())
    }

    pub fn is_empty(&self) -> bool {
        self.lines().is_empty()
    }

    /// Entries in `self` that `other` does not have, per interface (for the
    /// upgrade diff: what a new plugin version asks for in addition).
    pub fn added_since(&self, other: &GrantSpec) -> GrantSpec {
        let diff = |new: &[String], old: &[String]| new.iter().filter(|e| !old.contains(e)).cloned().collect();
        GrantSpec {
            fs: diff(&self.fs, &other.fs),
            docker: diff(&self.docker, &other.docker),
            process: diff(&self.process, &other.process),
            http: diff(&self.http, &other.http),
            notify: diff(&self.notify, &other.notify),
            net: diff(&self.net, &other.net),
        }
    }

    /// `interface: entry` lines, for display.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, entries) in [("fs", &self.fs), ("docker", &self.docker), ("process", &self.process), ("http", &self.http), ("notify", &self.notify), ("net", &self.net)] {
            out.extend(entries.iter().map(|e| format!("{name}: {e}")));
        }
        out
    }
}

/// Parsed, validated capability entries.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub fs: fs::Grant,
    pub docker: docker::Grant,
    pub process: process::Grant,
    pub http: http::Grant,
    pub notify: notify::Grant,
    pub net: net::Grant,
}

impl Grants {
    /// An operator's grant (bosun.toml).
    pub fn parse(spec: &GrantSpec) -> Result<Grants, String> {
        Grants::parse_with(spec, process::Grant::parse)
    }

    /// A manifest's requests.
    pub fn parse_requests(spec: &GrantSpec) -> Result<Grants, String> {
        Grants::parse_with(spec, process::Grant::parse_requests)
    }

    fn parse_with(spec: &GrantSpec, process: fn(&[String]) -> Result<process::Grant, String>) -> Result<Grants, String> {
        Ok(Grants {
            fs: fs::Grant::parse(&spec.fs).map_err(|e| format!("fs: {e}"))?,
            docker: docker::Grant::parse(&spec.docker).map_err(|e| format!("docker: {e}"))?,
            process: process(&spec.process).map_err(|e| format!("process: {e}"))?,
            http: http::Grant::parse(&spec.http).map_err(|e| format!("http: {e}"))?,
            notify: notify::Grant::parse(&spec.notify).map_err(|e| format!("notify: {e}"))?,
            net: net::Grant::parse(&spec.net).map_err(|e| format!("net: {e}"))?,
        })
    }
}

/// What one plugin may do: requested by its manifest ∩ granted by the operator.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub plugin: String,
    pub requested: Grants,
    pub granted: Grants,
    /// Which certificates its HTTPS requests trust (`[plugins.<name>.tls]`).
    pub tls: tls::Trust,
    /// Whether what `fs.extract` unpacks gets the owners its archive records
    /// (`backup restore --no-owners` / `--same-owner`).
    pub owners: fs::Owners,
}

impl Policy {
    pub fn new(plugin: &str, requested: &GrantSpec, granted: &GrantSpec) -> Result<Policy, String> {
        Ok(Policy {
            plugin: plugin.to_string(),
            requested: Grants::parse_requests(requested).map_err(|e| format!("plugin {plugin} manifest capabilities: {e}"))?,
            granted: Grants::parse(granted).map_err(|e| format!("[plugins.{plugin}.grant] {e}"))?,
            tls: tls::Trust::default(),
            owners: fs::Owners::default(),
        })
    }

    /// Grants fs entries for one operation only: the directories bosun itself
    /// hands the plugin (a backup's directory, a restore target). The manifest
    /// must still request them.
    pub fn with_call_paths(mut self, fs_entries: &[String]) -> Result<Policy, String> {
        self.granted.fs.extend(fs_entries)?;
        Ok(self)
    }

    /// Names the scratch database of a restore test, which `{scratch-db}` in
    /// process grants stands for during this call.
    pub fn with_scratch_db(mut self, name: &str) -> Policy {
        self.requested.process.set_scratch_db(name);
        self.granted.process.set_scratch_db(name);
        self
    }

    /// How this call's extractions treat the owners archives record.
    pub fn with_owners(mut self, owners: fs::Owners) -> Policy {
        self.owners = owners;
        self
    }

    /// Adds HTTP origins for one call: the destination of the channel a
    /// notifier delivers to, which the operator chose by configuring it.
    pub fn with_call_origins(mut self, origins: &[String]) -> Result<Policy, String> {
        self.granted.http.extend(origins)?;
        Ok(self)
    }

    /// Whether a place the plugin says it will connect to (an `http(s)://` URL
    /// or a `host:port` probe target) is allowed, before any call is made.
    pub fn check_reach(&self, place: &str) -> Result<(), String> {
        if !place.starts_with("http://") && !place.starts_with("https://") {
            return net::check_probe(self, place);
        }
        let uri: ::http::Uri = place.parse().map_err(|e| format!("{place:?} is not a URL: {e}"))?;
        http::check_request(self, &format!("GET {place}"), &uri).map_err(|d| d.to_string())
    }

    /// Allowed only when both the manifest and the grant allow it. `entry` is the
    /// grant entry that would allow the call, quoted in the denial.
    pub fn check(
        &self,
        call: &str,
        target: &str,
        interface: &'static str,
        entry: String,
        allows: impl Fn(&Grants) -> bool,
    ) -> Result<(), Denial> {
        let reason = if !allows(&self.requested) {
            DenialReason::NotRequested
        } else if !allows(&self.granted) {
            DenialReason::NotGranted { interface, entry }
        } else {
            return Ok(());
        };
        Err(Denial { plugin: self.plugin.clone(), call: call.to_string(), target: target.to_string(), reason })
    }
}

/// A refused host call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub plugin: String,
    /// `fs.read-small`, `http.request`, ...
    pub call: String,
    /// The path, URL, argv or name the call was about.
    pub target: String,
    pub reason: DenialReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenialReason {
    /// The plugin's own manifest does not ask for this; no grant can allow it.
    NotRequested,
    /// The operator has not granted it; `entry` under `interface` would.
    NotGranted { interface: &'static str, entry: String },
    /// It is bosun's own state (compiled cache, plugin store, lockfile,
    /// state database), which no grant can reach.
    Protected,
    /// No grant can ever allow it, for this reason.
    Forbidden(String),
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Denial { plugin, call, target, reason } = self;
        match reason {
            DenialReason::NotRequested => write!(
                f,
                "plugin {plugin} denied {call} {target}: its manifest does not request that capability, so no grant can allow it"
            ),
            DenialReason::Forbidden(why) => write!(f, "plugin {plugin} denied {call} {target}: {why}; no grant can allow it"),
            DenialReason::NotGranted { interface, entry } => write!(
                f,
                "plugin {plugin} denied {call} {target}: not granted; to allow it add to bosun.toml: [plugins.{plugin}.grant] {interface} = [{entry:?}]"
            ),
            DenialReason::Protected => write!(
                f,
                "plugin {plugin} denied {call} {target}: that is bosun's own state (compiled plugins, plugin store, lockfile, state database), which no grant can reach"
            ),
        }
    }
}

impl std::error::Error for Denial {}
