//! What a plugin may do. One module per WIT interface the host implements,
//! each a [`Capability`] of the same shape (as Spin's factors are):
//!
//! - its `Grant`: parses and validates the operator's grant entries (also
//!   what `bosun doctor` runs) and answers "is this allowed?";
//! - its view of a call's store data ([`HasData`], as wasmtime-wasi's
//!   interfaces have): the shared [`CallScope`] plus only its own state;
//! - `link`: adds the interface to the linker, each host call running on
//!   that view, checked against the [`Policy`] (requested by the manifest ∩
//!   granted in bosun.toml) and, when mutating, recorded instead of
//!   executed in a dry run.
//!
//! A new capability is one module and one line in [`capabilities!`].

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
pub(crate) mod scope;
mod state;
mod tail;
pub mod tls;
mod v0_2;

use std::fmt;

use serde::{Deserialize, Serialize};
use wasmtime::component::{HasData, Linker};

pub use log::{LogLine, ProgressSink, ProgressUpdate};
pub use scope::{CallScope, PlannedCall};
pub use state::{HostServices, HostState};

/// One host interface a plugin can be granted.
pub trait Capability: HasData {
    /// Its key in a manifest's `[capabilities]` and in `[plugins.<name>.grant]`,
    /// and the interface named in denials.
    const NAME: &'static str;
    /// Its entries, parsed and validated.
    type Grant: Default + Clone + fmt::Debug;
    /// Parses entries, as a manifest's requests or as the operator's grant.
    fn parse(entries: &[String], side: Side) -> Result<Self::Grant, String>;
    /// Adds the interface's host calls to the linker, each on this
    /// capability's view of the call's store data.
    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()>;
}

/// Whose entries are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A manifest's `[capabilities]`: what the plugin asks for. Commands are
    /// not looked up (a plugin may ask for one this machine lacks).
    Request,
    /// bosun.toml's `[plugins.<name>.grant]`: what the operator allows.
    Operator,
}

/// The capabilities, each under its grant key. Builds [`GrantSpec`] (the
/// entries as written), [`Grants`] (parsed), and the linking of them all.
macro_rules! capabilities {
    ($($key:ident: $capability:ty),* $(,)?) => {
        /// Capability entries in bosun's grammar, one list per capability (each
        /// capability's `Grant` documents its grammar). The same shape serves a
        /// manifest's `[capabilities]` (what the plugin asks for) and
        /// bosun.toml's `[plugins.<name>.grant]` (what the operator allows).
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct GrantSpec {
            $(
                #[serde(default, skip_serializing_if = "Vec::is_empty")]
                pub $key: Vec<String>,
            )*
        }

        /// Parsed, validated capability entries.
        #[derive(Debug, Clone, Default)]
        pub struct Grants {
            $(pub $key: <$capability as Capability>::Grant,)*
        }

        impl GrantSpec {
            /// Each capability's name and entries, in the list's order.
            fn each(&self) -> Vec<(&'static str, &[String])> {
                vec![$((<$capability as Capability>::NAME, &self.$key)),*]
            }

            /// Entries in `self` that `other` does not have, per capability
            /// (for the upgrade diff: what a new plugin version asks for in addition).
            pub fn added_since(&self, other: &GrantSpec) -> GrantSpec {
                let diff = |new: &[String], old: &[String]| new.iter().filter(|e| !old.contains(e)).cloned().collect();
                GrantSpec { $($key: diff(&self.$key, &other.$key),)* }
            }
        }

        impl Grants {
            fn parse_as(spec: &GrantSpec, side: Side) -> Result<Grants, String> {
                Ok(Grants {
                    $($key: <$capability as Capability>::parse(&spec.$key, side)
                        .map_err(|e| format!("{}: {e}", <$capability as Capability>::NAME))?,)*
                })
            }
        }

        /// Every plugin gets the same linker: what it may actually do is
        /// decided per call by its policy, so an import alone grants nothing.
        pub fn link_all(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
            wasmtime_wasi::p2::add_to_linker_async(linker)?;
            // Always there, with no grant: a plugin's log lines and progress.
            log::link(linker)?;
            $(<$capability as Capability>::link(linker)?;)*
            // The previous API's interfaces, served by the same calls.
            v0_2::link(linker)?;
            Ok(())
        }

        #[cfg(test)]
        const KEYS: &[(&str, &str)] = &[$((stringify!($key), <$capability as Capability>::NAME)),*];
    };
}

capabilities! {
    fs: fs::Fs,
    docker: docker::Docker,
    process: process::Process,
    http: http::Http,
    notify: notify::Notify,
    net: net::Net,
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
        self.each().iter().all(|(_, entries)| entries.is_empty())
    }

    /// `capability: entry` lines, for display.
    pub fn lines(&self) -> Vec<String> {
        self.each().into_iter().flat_map(|(name, entries)| entries.iter().map(move |e| format!("{name}: {e}"))).collect()
    }
}

impl Grants {
    /// An operator's grant (bosun.toml).
    pub fn parse(spec: &GrantSpec) -> Result<Grants, String> {
        Grants::parse_as(spec, Side::Operator)
    }

    /// A manifest's requests.
    pub fn parse_requests(spec: &GrantSpec) -> Result<Grants, String> {
        Grants::parse_as(spec, Side::Request)
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
    /// The engine the docker interface reaches: the `[hosts.*]` a check
    /// names (`docker_host = "web1"`), set by bosun, never by the plugin;
    /// none: the environment's.
    pub engine: Option<crate::docker::Endpoint>,
}

impl Policy {
    pub fn new(plugin: &str, requested: &GrantSpec, granted: &GrantSpec) -> Result<Policy, String> {
        Ok(Policy {
            plugin: plugin.to_string(),
            requested: Grants::parse_requests(requested).map_err(|e| format!("plugin {plugin} manifest capabilities: {e}"))?,
            granted: Grants::parse(granted).map_err(|e| format!("[plugins.{plugin}.grant] {e}"))?,
            tls: tls::Trust::default(),
            owners: fs::Owners::default(),
            engine: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_capability_is_listed_under_its_own_name() {
        for (key, name) in KEYS {
            assert_eq!(key, name);
        }
    }

    #[test]
    fn lines_and_upgrade_diffs_cover_every_capability() {
        let old = GrantSpec { fs: vec!["ro:/data".into()], ..Default::default() };
        let new = GrantSpec { fs: vec!["ro:/data".into(), "rw:/backups".into()], net: vec!["db:5432".into()], ..Default::default() };
        let added = new.added_since(&old);
        assert_eq!(added.lines(), vec!["fs: rw:/backups", "net: db:5432"]);
        assert!(old.added_since(&old).is_empty());
    }

    #[test]
    fn a_bad_entry_is_named_by_its_capability() {
        let spec = GrantSpec { docker: vec!["explode:web".into()], ..Default::default() };
        let error = Grants::parse(&spec).unwrap_err();
        assert!(error.starts_with("docker: "), "{error}");
    }
}
