//! `[services.<name>]`: what a service's containers look like, in the docker
//! CLI's own notation (`8080:80`, `/srv/data:/data:ro`, `512m`), checked at
//! load so a deploy never starts with a config it cannot apply.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Problems;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// `container` (the default): bosun runs it through Docker. `process`: a
    /// program on this machine, started detached (`bosun start`).
    #[serde(default)]
    pub kind: ServiceKind,
    /// The image repository, without a tag: the version is the tag.
    #[serde(default)]
    pub image: String,
    /// Version deployed when the command line names none.
    pub version: Option<String>,
    #[serde(default)]
    pub strategy: Strategy,
    /// `compose`: the compose file; `${VERSION}` in it is replaced by the version deployed.
    pub file: Option<PathBuf>,
    /// `compose`: the service's name in the compose file (default: this service's name).
    pub compose_service: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `KEY=VALUE` files (docker's `--env-file` format), read at each deploy;
    /// their values are never written to the release record.
    #[serde(default)]
    pub env_files: Vec<PathBuf>,
    /// `[IP:]HOST:CONTAINER[/PROTO]` or `CONTAINER[/PROTO]`.
    #[serde(default)]
    pub ports: Vec<String>,
    /// `SOURCE:TARGET[:ro|rw]`; an absolute (or `./`) SOURCE is a bind, a bare name a volume.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// The driver of the named volumes the container creates (docker's `--volume-driver`; default `local`).
    pub volume_driver: Option<String>,
    /// Networks to join: `["shop"]` or `{ shop = { aliases = ["web"] } }`.
    #[serde(default)]
    pub networks: Networks,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    pub restart: Option<String>,
    pub healthcheck: Option<Healthcheck>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// Memory limit: bytes or `512m`, `2g`.
    pub memory: Option<String>,
    /// CPU limit in cores, e.g. 1.5.
    pub cpus: Option<f64>,
    /// How many replaced containers are kept (stopped) for fast rollback.
    #[serde(default = "default_retain")]
    pub retain: usize,
    /// How long a new container has to become healthy, e.g. `60s`, `2m`.
    #[serde(default = "default_health_timeout")]
    pub health_timeout: String,
    /// `[checks.*]` that must pass before a new container counts as healthy.
    #[serde(default)]
    pub checks: Vec<String>,
    /// Seconds a container gets to stop before it is killed.
    #[serde(default = "default_stop_timeout")]
    pub stop_timeout: u32,
    /// The `[hosts.*]` it runs on…
    #[serde(default)]
    pub hosts: Vec<String>,
    /// …and those with any of these roles (neither: the `local` host).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Across hosts: how many change at once (default: all of them).
    pub parallel: Option<usize>,
    /// `swarm`: how many tasks run (default 1).
    pub replicas: Option<u64>,
    /// `swarm`: how the swarm rolls an update out.
    pub update: Option<SwarmUpdate>,
    /// Across hosts: `{ batch = 1, pause = "10s" }`, a batch at a time.
    pub rolling: Option<Rolling>,
    /// Across hosts, when one fails: `undo` puts back the hosts already
    /// done and starts no more; `continue` goes on with the others.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// `process`: the directory it runs in (relative to bosun.toml's).
    pub workdir: Option<PathBuf>,
    /// `process`: the user it runs as (bosun must run as root to switch).
    pub user: Option<String>,
    /// `process`: the file its output is appended to (default `<state_dir>/logs/<service>.log`).
    pub log: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    #[default]
    Container,
    Process,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rolling {
    #[serde(default = "one")]
    pub batch: usize,
    /// Between batches, e.g. `10s`.
    #[serde(default)]
    pub pause: Option<String>,
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    #[default]
    Undo,
    Continue,
}

fn default_retain() -> usize {
    5
}

fn default_health_timeout() -> String {
    "60s".into()
}

fn default_stop_timeout() -> u32 {
    10
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// bosun creates the containers through the engine's API.
    #[default]
    Run,
    /// bosun drives `docker compose` (or `docker-compose`) on a compose file.
    Compose,
    /// A Docker Swarm service, created and updated through a manager's API;
    /// the swarm schedules its tasks.
    Swarm,
}

/// `update = { … }` of a swarm service: how the swarm replaces its tasks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmUpdate {
    /// Tasks replaced at once (default 1).
    pub parallelism: Option<u64>,
    /// Between batches, e.g. `10s`.
    pub delay: Option<String>,
    pub failure_action: Option<FailureAction>,
    pub order: Option<UpdateOrder>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    Pause,
    Continue,
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    StopFirst,
    StartFirst,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Networks {
    #[default]
    None,
    Names(Vec<String>),
    WithAliases(BTreeMap<String, NetworkAttachment>),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkAttachment {
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl Networks {
    /// Network name → aliases, whichever form was written.
    pub fn attachments(&self) -> BTreeMap<String, Vec<String>> {
        match self {
            Networks::None => BTreeMap::new(),
            Networks::Names(names) => names.iter().map(|n| (n.clone(), vec![])).collect(),
            Networks::WithAliases(map) => map.iter().map(|(n, a)| (n.clone(), a.aliases.clone())).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// `["CMD", "/bin/probe"]`, `["CMD-SHELL", "curl -f …"]`, or a string run by the shell.
    pub test: HealthTest,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<i64>,
    pub start_period: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HealthTest {
    Shell(String),
    Argv(Vec<String>),
}

impl HealthTest {
    /// The engine's form: `["CMD", …]` or `["CMD-SHELL", "…"]`.
    pub fn to_engine(&self) -> Vec<String> {
        match self {
            HealthTest::Shell(line) => vec!["CMD-SHELL".into(), line.clone()],
            HealthTest::Argv(argv) => argv.clone(),
        }
    }
}

/// A published port, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMapping {
    pub host_ip: Option<String>,
    /// None: the engine picks a free port.
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub protocol: String,
}

impl PortMapping {
    pub fn parse(text: &str) -> Result<PortMapping, String> {
        let bad = |why: &str| format!("`{text}`: {why}; expected [IP:]HOST:CONTAINER[/tcp|udp] or CONTAINER[/tcp|udp], e.g. 8080:80");
        let (ports, protocol) = match text.rsplit_once('/') {
            Some((ports, proto)) if ["tcp", "udp", "sctp"].contains(&proto) => (ports, proto),
            Some(_) => return Err(bad("the protocol must be tcp, udp or sctp")),
            None => (text, "tcp"),
        };
        let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad(&format!("`{p}` is not a port number")));
        let parts: Vec<&str> = ports.rsplitn(3, ':').collect();
        let (host_ip, host_port, container_port) = match parts.as_slice() {
            [container] => (None, None, port(container)?),
            [container, host] => (None, Some(port(host)?), port(container)?),
            [container, host, ip] => {
                let ip = ip.trim_start_matches('[').trim_end_matches(']');
                ip.parse::<std::net::IpAddr>().map_err(|_| bad(&format!("`{ip}` is not an IP address")))?;
                let host_port = if host.is_empty() { None } else { Some(port(host)?) };
                (Some(ip.to_string()), host_port, port(container)?)
            }
            _ => return Err(bad("too many parts")),
        };
        Ok(PortMapping { host_ip, host_port, container_port, protocol: protocol.into() })
    }

    /// The engine's key for the container side: `80/tcp`.
    pub fn container_key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }
}

/// docker's notation, address kept: `127.0.0.1:8080:80/tcp`, `[::1]::53/udp`, `80/tcp`.
impl std::fmt::Display for PortMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host_ip {
            Some(ip) if ip.contains(':') => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        match self.host_port {
            Some(port) => write!(f, "{port}:")?,
            None if self.host_ip.is_some() => f.write_str(":")?,
            None => {}
        }
        write!(f, "{}", self.container_key())
    }
}

/// A volume or bind mount, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeMount {
    /// An absolute host path (bind) or a volume name.
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

impl VolumeMount {
    pub fn parse(text: &str) -> Result<VolumeMount, String> {
        let bad = |why: &str| format!("`{text}`: {why}; expected SOURCE:TARGET[:ro|rw], e.g. /srv/data:/data or dbdata:/var/lib/db:ro");
        let parts: Vec<&str> = text.split(':').collect();
        let (source, target, mode) = match parts.as_slice() {
            [source, target] => (*source, *target, "rw"),
            [source, target, mode] => (*source, *target, *mode),
            _ => return Err(bad("it needs a source and a target")),
        };
        if source.is_empty() {
            return Err(bad("the source is empty"));
        }
        if !target.starts_with('/') {
            return Err(bad("the target must be an absolute path inside the container"));
        }
        let read_only = match mode {
            "ro" => true,
            "rw" => false,
            other => return Err(bad(&format!("mode `{other}` is neither ro nor rw"))),
        };
        Ok(VolumeMount { source: source.into(), target: target.into(), read_only })
    }

    pub fn is_bind(&self) -> bool {
        self.source.starts_with('/') || self.source.starts_with('.')
    }
}

/// Bytes from `1073741824`, `512m`, `2g`, `64k` (docker's `--memory` units).
pub fn parse_bytes(text: &str) -> Result<i64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, unit) = match lower.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => lower.split_at(i),
        None => (lower, ""),
    };
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        _ => return Err(format!("`{text}` is not a size; write bytes or a number with k, m or g, e.g. 512m")),
    };
    let n: i64 = digits.parse().map_err(|_| format!("`{text}` is not a size; write bytes or a number with k, m or g, e.g. 512m"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("`{text}` is too large"))
}

/// `60s`, `500ms`, `2m`, `1h30m` (jiff's friendly format).
/// `500ms`, `30s`, `1h30m`, `7d` (a day is 24 hours; months and years, which
/// have no fixed length, are refused).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration; write e.g. 500ms, 30s, 2m, 1h30m or 7d");
    let span: jiff::Span = text.parse().map_err(|_| bad())?;
    let span = span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).map_err(|_| bad())?;
    Duration::try_from(span).map_err(|_| format!("`{text}` is negative"))
}

/// A tag Docker accepts: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn check_version(version: &str) -> Result<(), String> {
    let mut chars = version.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if first_ok && version.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        Ok(())
    } else {
        Err(format!("`{version}` is not a valid image tag (letters, digits, `_`, `.`, `-`; at most 128; not starting with `.` or `-`)"))
    }
}

/// A repository reference without tag or digest: `[host[:port]/]path`, path
/// components lower-case `[a-z0-9._-]`.
pub fn check_repository(image: &str) -> Result<(), String> {
    let hint = "write the repository without a tag, e.g. registry.example/shop-web; the version is the tag";
    if image.contains('@') {
        return Err(format!("`{image}` has a digest; {hint}"));
    }
    let (host, path) = match image.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => (Some(first), rest),
        _ => (None, image),
    };
    if path.contains(':') {
        return Err(format!("`{image}` has a tag; {hint}"));
    }
    if let Some(host) = host
        && !host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
    {
        return Err(format!("`{image}`: `{host}` is not a registry host"));
    }
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
            && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
    };
    if !path.split('/').all(component_ok) {
        return Err(format!("`{image}` is not a valid image repository (lower-case letters, digits, `.`, `_`, `-`, separated by `/`); {hint}"));
    }
    Ok(())
}

const RESTART_POLICIES: &str = "no, always, unless-stopped, on-failure or on-failure:N";

/// The restart policy's name and retry count.
pub fn parse_restart(text: &str) -> Result<(String, Option<i64>), String> {
    match text.split_once(':') {
        None if ["no", "always", "unless-stopped", "on-failure"].contains(&text) => Ok((text.into(), None)),
        Some(("on-failure", n)) => n.parse::<i64>().map(|n| ("on-failure".into(), Some(n))).map_err(|_| format!("`{text}`: `{n}` is not a count")),
        _ => Err(format!("`{text}` is not a restart policy; use {RESTART_POLICIES}")),
    }
}

impl Service {
    /// How many hosts change at once, and the pause between batches; `None`: all at once.
    pub fn batches(&self) -> (Option<usize>, Duration) {
        match &self.rolling {
            Some(rolling) => (Some(rolling.batch), rolling.pause.as_deref().and_then(|p| parse_duration(p).ok()).unwrap_or_default()),
            None => (self.parallel, Duration::ZERO),
        }
    }

    fn validate_rollout(&self, at: &str, problems: &mut Problems) {
        if self.parallel == Some(0) {
            problems.add(format!("{at}.parallel"), "0 hosts at a time would change nothing; use 1 or more, or leave it out for all at once");
        }
        if let Some(rolling) = &self.rolling {
            if self.parallel.is_some() {
                problems.add(format!("{at}.rolling"), "and parallel both say how many hosts change at once; keep one");
            }
            if rolling.batch == 0 {
                problems.add(format!("{at}.rolling.batch"), "0 hosts per batch would change nothing; use 1 or more");
            }
            if let Some(pause) = &rolling.pause {
                problems.check(format!("{at}.rolling.pause"), parse_duration(pause));
            }
        }
    }

    /// A process service: a command, and none of what only containers have.
    fn validate_process(&self, at: &str, problems: &mut Problems) {
        if self.command.as_ref().is_none_or(|c| c.is_empty() || c[0].is_empty()) {
            problems.add(format!("{at}.command"), "a process service needs its command, e.g. command = [\"/usr/bin/worker\", \"--queue\", \"mail\"]");
        }
        let container_only = [
            ("image", !self.image.is_empty()),
            ("ports", !self.ports.is_empty()),
            ("volumes", !self.volumes.is_empty()),
            ("healthcheck", self.healthcheck.is_some()),
            ("restart", self.restart.is_some()),
            ("memory", self.memory.is_some()),
            ("cpus", self.cpus.is_some()),
            ("entrypoint", self.entrypoint.is_some()),
            ("hosts", !self.hosts.is_empty() || !self.roles.is_empty()),
            ("strategy", self.strategy != Strategy::Run),
        ];
        for (key, _) in container_only.iter().filter(|(_, set)| *set) {
            problems.add(format!("{at}.{key}"), "is for containers; a process service (kind = \"process\") runs on this machine as its command says");
        }
    }

    /// Every field parses; each problem goes into `problems` under
    /// `at.<field>` (`at` is the service's own key, `services.web`).
    pub fn validate(&self, at: &str, problems: &mut Problems) {
        if self.kind == ServiceKind::Process {
            return self.validate_process(at, problems);
        }
        for (key, set) in [("workdir", self.workdir.is_some()), ("user", self.user.is_some()), ("log", self.log.is_some())] {
            if set {
                problems.add(format!("{at}.{key}"), "is for kind = \"process\"; a container's is set in its image or by docker");
            }
        }
        match self.image.is_empty() {
            true => problems.add(format!("{at}.image"), format!("missing; add `image = …` to [{at}]")),
            false => problems.check(format!("{at}.image"), check_repository(&self.image)),
        }
        if let Some(version) = &self.version {
            problems.check(format!("{at}.version"), check_version(version));
        }
        for (index, port) in self.ports.iter().enumerate() {
            problems.check(format!("{at}.ports[{index}]"), PortMapping::parse(port));
        }
        for (index, volume) in self.volumes.iter().enumerate() {
            problems.check(format!("{at}.volumes[{index}]"), VolumeMount::parse(volume));
        }
        if let Some(restart) = &self.restart {
            problems.check(format!("{at}.restart"), parse_restart(restart));
        }
        if let Some(memory) = &self.memory {
            problems.check(format!("{at}.memory"), parse_bytes(memory));
        }
        if let Some(cpus) = self.cpus
            && !(cpus > 0.0 && cpus.is_finite())
        {
            problems.add(format!("{at}.cpus"), format!("{cpus} is not a CPU count; use e.g. 0.5 or 2"));
        }
        problems.check(format!("{at}.health_timeout"), parse_duration(&self.health_timeout));
        self.validate_rollout(at, problems);
        if self.strategy != Strategy::Swarm {
            for (key, set) in [("replicas", self.replicas.is_some()), ("update", self.update.is_some())] {
                if set {
                    problems.add(format!("{at}.{key}"), "is for strategy = \"swarm\"; remove it or set the strategy");
                }
            }
        }
        if let Some(delay) = self.update.as_ref().and_then(|u| u.delay.as_ref()) {
            problems.check(format!("{at}.update.delay"), parse_duration(delay));
        }
        if let Some(check) = &self.healthcheck {
            for (key, value) in [("interval", &check.interval), ("timeout", &check.timeout), ("start_period", &check.start_period)] {
                if let Some(value) = value {
                    problems.check(format!("{at}.healthcheck.{key}"), parse_duration(value));
                }
            }
        }
        match (self.strategy, &self.file) {
            (Strategy::Compose, None) => problems.add(format!("{at}.file"), "the compose strategy needs `file`, the compose file to run"),
            (Strategy::Run, Some(_)) => problems.add(format!("{at}.file"), "`file` is for strategy = \"compose\"; remove it or set the strategy"),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_in_docker_notation() {
        let p = PortMapping::parse("8080:80").unwrap();
        assert_eq!((p.host_ip, p.host_port, p.container_port, p.protocol.as_str()), (None, Some(8080), 80, "tcp"));
        let p = PortMapping::parse("127.0.0.1:53:53/udp").unwrap();
        assert_eq!((p.host_ip.as_deref(), p.host_port, p.container_key().as_str()), (Some("127.0.0.1"), Some(53), "53/udp"));
        assert_eq!(PortMapping::parse("9000").unwrap().host_port, None);
        assert_eq!(PortMapping::parse("127.0.0.1::80").unwrap().host_port, None);
        assert!(PortMapping::parse("80:x").unwrap_err().contains("`x` is not a port number"));
        assert!(PortMapping::parse("80/icmp").unwrap_err().contains("tcp, udp or sctp"));
        assert!(PortMapping::parse("host:80:80").unwrap_err().contains("`host` is not an IP address"));
    }

    #[test]
    fn volumes_in_docker_notation() {
        let v = VolumeMount::parse("/srv/data:/data:ro").unwrap();
        assert!(v.read_only && v.is_bind());
        let v = VolumeMount::parse("dbdata:/var/lib/db").unwrap();
        assert!(!v.read_only && !v.is_bind());
        assert!(VolumeMount::parse("/data").unwrap_err().contains("needs a source and a target"));
        assert!(VolumeMount::parse("a:data").unwrap_err().contains("absolute path"));
        assert!(VolumeMount::parse("a:/data:rx").unwrap_err().contains("neither ro nor rw"));
    }

    #[test]
    fn sizes_durations_and_policies() {
        assert_eq!(parse_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_bytes("2G"), Ok(2 << 30));
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert!(parse_bytes("lots").is_err());
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("1mo").is_err(), "a month has no fixed length");
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_restart("on-failure:3"), Ok(("on-failure".into(), Some(3))));
        assert!(parse_restart("sometimes").unwrap_err().contains("unless-stopped"));
    }

    #[test]
    fn repositories_and_tags() {
        for good in ["shop-web", "library/nginx", "registry.example/shop/web", "127.0.0.1:5000/web", "localhost/web"] {
            assert!(check_repository(good).is_ok(), "{good}");
        }
        assert!(check_repository("shop-web:1.0").unwrap_err().contains("has a tag"));
        assert!(check_repository("127.0.0.1:5000/web:2").unwrap_err().contains("has a tag"));
        assert!(check_repository("web@sha256:abc").unwrap_err().contains("has a digest"));
        assert!(check_repository("Shop/Web").unwrap_err().contains("not a valid image repository"));
        assert!(check_version("1.4.2").is_ok() && check_version("v2_rc-1").is_ok());
        assert!(check_version("-1").is_err() && check_version("1/2").is_err() && check_version("").is_err());
    }
}
