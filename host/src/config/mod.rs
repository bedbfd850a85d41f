//! bosun.toml: the model and its validation. Errors name the file, line and key.

pub mod alerts;
mod error;
pub mod hosts;
pub mod notify_template;
pub mod pipeline;
pub mod notify_url;
pub mod retention;
mod secrets;
pub mod serve;
mod service;
pub mod watch;
mod words;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use error::{ConfigError, Problems};
pub use retention::Retention;
pub use secrets::{expand_env, expand_table, secret_key};
pub use service::{ServiceKind, FailureAction, HealthTest, OnFailure, PortMapping, Service, Strategy, SwarmUpdate, UpdateOrder, VolumeMount, parse_bytes, parse_duration, parse_restart, check_version};

use crate::capability::GrantSpec;

pub const DEFAULT_FILE: &str = "bosun.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub project: Project,
    #[serde(default)]
    pub naming: Option<Naming>,
    /// Grants and limits per plugin: `[plugins.<name>]`.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginSettings>,
    /// The engines: `[hosts.<name>]` (none: the environment's, as `local`).
    #[serde(default)]
    pub hosts: BTreeMap<String, hosts::Host>,
    /// The container services (`kind = "process"` ones are in `processes`).
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// `[services.<name>] kind = "process"`: programs on this machine that
    /// `bosun start` runs detached; taken out of `services` at load.
    #[serde(skip)]
    pub processes: BTreeMap<String, Service>,
    #[serde(default)]
    pub checks: BTreeMap<String, PluginUse>,
    /// Named lists of checks: `bosun check smoke`.
    #[serde(default)]
    pub suites: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub backups: BTreeMap<String, BackupSet>,
    #[serde(default)]
    pub notify: BTreeMap<String, Channel>,
    /// `bosun run NAME`: steps as a graph.
    #[serde(default)]
    pub pipelines: BTreeMap<String, pipeline::Pipeline>,
    /// How `bosun serve` listens.
    #[serde(default)]
    pub serve: serve::Serve,
    /// Signed webhooks that start pipelines: `POST /hooks/<name>`.
    #[serde(default)]
    pub triggers: BTreeMap<String, serve::Trigger>,
    /// What `bosun serve` samples: containers and processes.
    #[serde(default)]
    pub watch: watch::Watch,
    /// Conditions over what is watched that tell people: `[alerts.<name>]`.
    #[serde(default)]
    pub alerts: BTreeMap<String, alerts::AlertRule>,
    /// Where the file was read from; none for embedded defaults.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    #[serde(default = "default_project_name")]
    pub name: String,
    #[serde(default = "default_env")]
    pub env: String,
    /// SQLite state, plugin store and compiled cache; relative to the config file.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Where a run can be looked at, `{{run}}` standing for its id (e.g. a
    /// page that shows `bosun runs ID`); notifications link to it.
    pub runs_url: Option<String>,
}

impl Default for Project {
    fn default() -> Project {
        Project { name: default_project_name(), env: default_env(), state_dir: default_state_dir(), runs_url: None }
    }
}

impl Project {
    /// The link to run `run_id`, when `runs_url` is set.
    pub fn run_link(&self, run_id: i64) -> Option<String> {
        self.runs_url.as_ref().map(|url| url.replace("{{run}}", &run_id.to_string()))
    }
}

fn default_project_name() -> String {
    std::env::current_dir().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_else(|| "bosun".into())
}

fn default_env() -> String {
    "prod".into()
}

fn default_state_dir() -> PathBuf {
    ".bosun".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSettings {
    #[serde(default)]
    pub grant: GrantSpec,
    /// Wall-clock budget of one call, host calls included.
    pub timeout_ms: Option<u64>,
    /// Linear-memory cap of one call.
    pub memory_mib: Option<u64>,
    /// Certificates its HTTPS requests trust besides the public roots.
    #[serde(default)]
    pub tls: crate::capability::tls::TlsSettings,
}

/// A table that names a plugin and carries its configuration (the other keys).
#[derive(Debug, Clone, Deserialize)]
pub struct PluginUse {
    pub plugin: Option<String>,
    #[serde(flatten)]
    pub settings: toml::Table,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Naming {
    #[serde(default = "default_naming_plugin")]
    pub plugin: String,
    #[serde(flatten)]
    pub settings: toml::Table,
}

fn default_naming_plugin() -> String {
    "template".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct BackupSet {
    pub strategy: String,
    /// Directory that receives one sub-directory per backup.
    pub dest: PathBuf,
    #[serde(default)]
    pub retention: Option<Retention>,
    /// Directories (e.g. a mounted share) that receive a verified copy of
    /// every backup of the set.
    #[serde(default)]
    pub replicas: Vec<PathBuf>,
    /// Shell command run first; exit 75 skips the backup.
    pub before: Option<String>,
    /// Shell command run after a successful backup (`BOSUN_BACKUP_ID`, `BOSUN_BACKUP_DIR` set).
    pub after: Option<String>,
    /// Containers stopped for the copy and started again right after.
    #[serde(default)]
    pub stop: Vec<String>,
    /// The `[hosts.*]` whose engine the set's containers and volumes are on:
    /// its plugin's docker calls and the `stop` list go there.
    pub docker_host: Option<String>,
    #[serde(flatten)]
    pub settings: toml::Table,
}

/// `[notify.<name>]`: where notices go, which ones, and how they read.
#[derive(Clone, Deserialize)]
pub struct Channel {
    /// shoutrrr-style: `dingtalk://TOKEN?secret=S`, `telegram://TOKEN@telegram?chats=@ops`,
    /// `generic+https://host/path`, …; `${VAR}` is taken from the environment.
    pub url: Option<String>,
    /// A file holding the URL (for secrets mounted as files).
    pub url_file: Option<PathBuf>,
    /// Send to this origin instead of the service's own (a proxy; a test server).
    pub endpoint: Option<String>,
    /// The notifier plugin (default: the one for the URL's scheme).
    pub plugin: Option<String>,
    /// Event-kind globs this channel receives (`deploy.failed`, `backup.*`); default all.
    #[serde(default)]
    pub on: Vec<String>,
    /// Templates with `{{service}}`, `{{version}}`, `{{error}}`, … (default: bosun's text).
    pub title: Option<String>,
    pub body: Option<String>,
    /// webhook channels: the JSON body to send instead of bosun's own, a
    /// table whose strings are templates like `title`'s.
    pub json: Option<toml::Table>,
    #[serde(flatten)]
    pub settings: toml::Table,
}

/// A channel's URL holds secrets: never print it.
impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").field("plugin", &self.plugin).field("on", &self.on).finish_non_exhaustive()
    }
}

impl Config {
    /// Reads `path`, or the embedded defaults when `path` is the default name
    /// and does not exist.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(Config::embedded()),
            Err(e) => return Err(ConfigError::unreadable(path, &e)),
        };
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let document = toml::de::DeTable::parse(text).map_err(|e| ConfigError::syntax(path, text, &e))?;
        let deserializer = toml::de::Deserializer::from(document.clone());
        let mut config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| ConfigError::shape(path, text, document.get_ref(), &e))?;
        config.source = Some(path.to_path_buf());
        let mut problems = Problems::default();
        config.validate(&mut problems);
        let (processes, containers) = std::mem::take(&mut config.services).into_iter().partition(|(_, s)| s.kind == ServiceKind::Process);
        (config.processes, config.services) = (processes, containers);
        match problems.is_empty() {
            true => Ok(config),
            false => Err(ConfigError::problems(path, text, document.get_ref(), problems)),
        }
    }

    /// Local Docker, SQLite state in ./.bosun, built-in plugins, nothing granted.
    pub fn embedded() -> Config {
        Config {
            project: Project::default(),
            naming: None,
            plugins: BTreeMap::new(),
            hosts: BTreeMap::new(),
            services: BTreeMap::new(),
            processes: BTreeMap::new(),
            checks: BTreeMap::new(),
            suites: BTreeMap::new(),
            backups: BTreeMap::new(),
            notify: BTreeMap::new(),
            pipelines: BTreeMap::new(),
            serve: serve::Serve::default(),
            triggers: BTreeMap::new(),
            watch: watch::Watch::default(),
            alerts: BTreeMap::new(),
            source: None,
        }
    }

    /// The state directory, relative to the config file's directory.
    pub fn state_dir(&self) -> PathBuf {
        self.resolve(&self.project.state_dir)
    }

    /// `path` relative to the config file's directory (the current directory
    /// for embedded defaults); absolute paths stay as they are.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        let base = self.source.as_deref().and_then(Path::parent).filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        base.join(path)
    }

    /// Grants parse, limits are sane, names refer to something: every
    /// problem, under its dotted key.
    fn validate(&self, problems: &mut Problems) {
        if let Some(url) = &self.project.runs_url
            && (!url.contains("{{run}}") || !(url.starts_with("https://") || url.starts_with("http://")))
        {
            problems.add("project.runs_url", format!("{url:?} must be an http(s) URL with {{{{run}}}} where the run id goes"));
        }
        for (name, settings) in &self.plugins {
            problems.check(format!("plugins.{name}.grant"), crate::capability::Grants::parse(&settings.grant));
            problems.check(format!("plugins.{name}.tls"), crate::capability::tls::Trust::load(&settings.tls, |p| self.resolve(p)));
            if settings.timeout_ms == Some(0) {
                problems.add(format!("plugins.{name}.timeout_ms"), "must be more than 0");
            }
            if let Some(mib) = settings.memory_mib {
                let max = (crate::plugin::runtime::MAX_MEMORY_BYTES >> 20) as u64;
                if mib == 0 || mib > max {
                    problems.add(format!("plugins.{name}.memory_mib"), format!("must be between 1 and {max}"));
                }
            }
        }
        for (name, host) in &self.hosts {
            host.validate(&format!("hosts.{name}"), |p| self.resolve(p), problems);
        }
        for (name, service) in &self.services {
            let named_well = name.starts_with(|c: char| c.is_ascii_alphanumeric()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !named_well {
                problems.add(format!("services.{name}"), "a service's name is letters, digits, '-', '_' and '.', starting with a letter or digit: it names containers, systemd units and files");
            }
            service.validate(&format!("services.{name}"), problems);
            hosts::placement(&format!("services.{name}"), &service.hosts, &service.roles, &self.hosts, problems);
            if service.strategy == Strategy::Compose && self.service_hosts(name) != [hosts::LOCAL] {
                problems.add(format!("services.{name}.hosts"), "a compose service is deployed on the local engine only; use strategy = \"run\" to deploy to other hosts");
            }
            if service.strategy == Strategy::Swarm && self.service_hosts(name).len() != 1 {
                problems.add(format!("services.{name}.hosts"), "a swarm service is deployed through one manager; name one host, and the swarm places the tasks");
            }
            service.env.iter().filter(|(key, _)| secrets::secret_key(key)).for_each(|(_, value)| crate::secrets::register(value));
            for check in service.checks.iter().filter(|c| !self.checks.contains_key(*c)) {
                problems.add(format!("services.{name}.checks"), format!("no check called {check}; add a [checks.{check}] table or remove it from the list"));
            }
        }
        for (name, check) in &self.checks {
            problems.check(format!("checks.{name}"), expand_table(&check.settings));
            match check.settings.get("docker_host") {
                None => {}
                Some(toml::Value::String(host)) => self.known_host(&format!("checks.{name}.docker_host"), host, problems),
                Some(_) => problems.add(format!("checks.{name}.docker_host"), "is a host's name, e.g. docker_host = \"web1\""),
            }
        }
        for (name, checks) in &self.suites {
            for missing in checks.iter().filter(|c| !self.checks.contains_key(*c)) {
                problems.add(format!("suites.{name}"), format!("no check called {missing}; add a [checks.{missing}] table or remove it from the suite"));
            }
            if self.checks.contains_key(name) {
                problems.add(format!("suites.{name}"), format!("{name} is also a check's name; give the suite another"));
            }
        }
        for (name, set) in &self.backups {
            if let Some(host) = &set.docker_host {
                self.known_host(&format!("backups.{name}.docker_host"), host, problems);
            }
            if let Some(retention) = &set.retention {
                problems.check(format!("backups.{name}.retention"), retention.validate());
            }
            if let Some(replica) = set.replicas.iter().find(|r| **r == set.dest) {
                problems.add(format!("backups.{name}.replicas"), format!("{} is the set's own dest; a replica must be another directory", replica.display()));
            }
        }
        let config_dir = self.resolve(Path::new(""));
        for (name, channel) in &self.notify {
            let destination = notify_url::destination(channel, &config_dir);
            if let Err(e) = &destination {
                problems.add(format!("notify.{name}.url"), e.clone());
            }
            for pattern in &channel.on {
                if let Err(e) = globset::Glob::new(pattern) {
                    problems.add(format!("notify.{name}.on"), format!("`{pattern}` is not an event-kind pattern: {e}"));
                }
            }
            for (key, template) in [("title", &channel.title), ("body", &channel.body)] {
                if let Some(template) = template {
                    problems.check(format!("notify.{name}.{key}"), notify_template::check_template(template));
                }
            }
            if let Some(json) = &channel.json {
                let webhook = channel.plugin.is_some() || matches!(&destination, Ok((_, d)) if matches!(d.via, notify_url::Via::Plugin("webhook")));
                if !webhook {
                    problems.add(format!("notify.{name}.json"), "a JSON body is for webhook channels (generic+https://…); chat services get title and body");
                }
                if let Err((path, e)) = notify_template::check_json_template(json) {
                    problems.add(format!("notify.{name}.json{path}"), e);
                }
            }
        }
        for (name, pipeline) in &self.pipelines {
            pipeline::validate(name, pipeline, self, problems);
        }
        self.serve.validate(problems);
        self.watch.validate(&self.services, problems);
        let channels: Vec<&String> = self.notify.keys().collect();
        for (name, rule) in &self.alerts {
            rule.validate(name, &channels, problems);
        }
        for (name, trigger) in &self.triggers {
            trigger.validate(&format!("triggers.{name}"), &self.pipelines, problems);
        }
    }

    /// The hosts service `name` runs on (`local` for one that names none).
    /// `host` names `local` or a `[hosts.*]`; else a problem under `at`.
    fn known_host(&self, at: &str, host: &str, problems: &mut Problems) {
        if host != hosts::LOCAL && !self.hosts.contains_key(host) {
            problems.add(at.to_string(), format!("no host called {host}; add a [hosts.{host}] table"));
        }
    }

    pub fn service_hosts(&self, name: &str) -> Vec<String> {
        match self.services.get(name) {
            Some(service) => hosts::of_service(&service.hosts, &service.roles, &self.hosts),
            None => Vec::new(),
        }
    }

    /// Every host a service runs on, by name; only those in `only` when it
    /// names any (an unknown one is an error).
    pub fn hosts_in_use(&self, only: &[String]) -> Result<Vec<String>, String> {
        let hosts: Vec<String> = self.services.keys().flat_map(|name| self.service_hosts(name)).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        if let Some(unknown) = only.iter().find(|h| !hosts.contains(h)) {
            return Err(format!("--hosts: no service runs on a host called {unknown}; they run on: {}", hosts.join(", ")));
        }
        Ok(hosts.into_iter().filter(|h| only.is_empty() || only.contains(h)).collect())
    }

    /// Where run `run_id` can be looked at: `project.runs_url`, else the
    /// dashboard's page when `serve.base_url` is set.
    pub fn run_link(&self, run_id: i64) -> Option<String> {
        self.project.run_link(run_id).or_else(|| self.serve.run_link(run_id))
    }

    pub fn plugin_settings(&self, plugin: &str) -> Option<&PluginSettings> {
        self.plugins.get(plugin)
    }
}

/// A TOML table as the JSON object string plugins receive in `run-context.config`.
pub fn table_to_json(table: &toml::Table) -> String {
    serde_json::to_string(table).expect("TOML values are JSON-representable")
}
