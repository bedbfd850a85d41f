//! The container a release runs, as a plain value: built from the service's
//! bosun.toml table, hashed for the release record, shown by dry-run (env
//! values hidden), and turned into the engine's create body.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use bollard::models::{ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::config::{PortMapping, Service, VolumeMount, parse_bytes, parse_duration, parse_restart};

/// Labels on every container bosun manages, so it finds its own without parsing names.
pub mod label {
    pub const PROJECT: &str = "bosun.project";
    pub const SERVICE: &str = "bosun.service";
    pub const ENV: &str = "bosun.env";
    pub const VERSION: &str = "bosun.version";
    pub const RELEASE: &str = "bosun.release";
    pub const CONFIG_HASH: &str = "bosun.config-hash";
}

#[derive(Debug, Clone, Serialize)]
pub struct ContainerSpec {
    pub name: String,
    /// What the container is created from: `repo:version`, or the image id
    /// when the tag no longer points at the recorded image.
    pub image: String,
    #[serde(serialize_with = "keys_only")]
    pub env: BTreeMap<String, String>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub ports: Vec<PortMapping>,
    pub volumes: Vec<VolumeMount>,
    /// Kept out of the hash when unset, so existing releases keep theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_driver: Option<String>,
    /// Network → aliases.
    pub networks: BTreeMap<String, Vec<String>>,
    pub labels: BTreeMap<String, String>,
    pub restart: Option<String>,
    pub healthcheck: Option<Vec<String>>,
    #[serde(skip)]
    healthcheck_timing: [Option<i64>; 4],
    pub memory_bytes: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub stop_timeout: u32,
}

/// Env values can be secrets: plans and JSON show only the names.
fn keys_only<S: Serializer>(env: &BTreeMap<String, String>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(env.keys())
}

impl ContainerSpec {
    /// The container for `service` at `image`, named `name`. `config_dir`
    /// resolves relative env files (read beforehand into `env_files`) and
    /// bind sources.
    pub fn build(service: &Service, name: &str, image: &str, config_dir: &Path, env_files: &EnvFiles) -> Result<ContainerSpec> {
        let mut env = BTreeMap::new();
        for file in &service.env_files {
            let path = env_file_path(config_dir, file)?;
            match env_files.get(&path) {
                Some(Ok(vars)) => env.extend(vars.clone()),
                Some(Err(problem)) => bail!("{problem}"),
                None => bail!("env file {} was not read before planning", path.display()),
            }
        }
        env.extend(service.env.clone());
        let nanos = |d: &Option<String>| d.as_deref().map(|d| parse_duration(d).map(|d| d.as_nanos() as i64)).transpose();
        let healthcheck_timing = match &service.healthcheck {
            Some(h) => [nanos(&h.interval), nanos(&h.timeout), Ok(h.retries), nanos(&h.start_period)].map(|v| v.unwrap_or_default()),
            None => [None; 4],
        };
        let volumes = service
            .volumes
            .iter()
            .map(|v| {
                let mut mount = VolumeMount::parse(v).map_err(anyhow::Error::msg)?;
                if mount.source.starts_with('.') {
                    // The engine wants absolute bind sources; `./x` is relative to bosun.toml.
                    mount.source = std::path::absolute(config_dir.join(&mount.source))?.to_string_lossy().into_owned();
                }
                Ok(mount)
            })
            .collect::<Result<_>>()?;
        Ok(ContainerSpec {
            name: name.into(),
            image: image.into(),
            env,
            command: service.command.clone(),
            entrypoint: service.entrypoint.clone(),
            ports: service.ports.iter().map(|p| PortMapping::parse(p)).collect::<Result<_, _>>().map_err(anyhow::Error::msg)?,
            volumes,
            volume_driver: service.volume_driver.clone(),
            networks: service.networks.attachments(),
            labels: service.labels.clone(),
            restart: service.restart.clone(),
            healthcheck: service.healthcheck.as_ref().map(|h| h.test.to_engine()),
            healthcheck_timing,
            memory_bytes: service.memory.as_deref().map(parse_bytes).transpose().map_err(anyhow::Error::msg)?,
            nano_cpus: service.cpus.map(|c| (c * 1e9) as i64),
            stop_timeout: service.stop_timeout,
        })
    }

    /// sha256 of everything that shapes the container except its name and
    /// bosun's own labels: equal hashes mean an equal container.
    pub fn config_hash(&self) -> String {
        let mut hashed = self.clone();
        hashed.name.clear();
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let body = serde_json::json!({ "spec": hashed, "env": env, "healthcheck_timing": self.healthcheck_timing });
        hex::encode(Sha256::digest(body.to_string().as_bytes()))
    }

    /// Host ports this container publishes at fixed numbers: two containers
    /// cannot both hold them, so the old one has to stop first.
    pub fn fixed_host_ports(&self) -> Vec<&PortMapping> {
        self.ports.iter().filter(|p| p.host_port.is_some()).collect()
    }

    /// The healthcheck the service sets, with its timing.
    pub fn health_config(&self) -> Option<HealthConfig> {
        let [interval, timeout, retries, start_period] = self.healthcheck_timing;
        self.healthcheck.as_ref().map(|test| HealthConfig { test: Some(test.clone()), interval, timeout, retries, start_period, ..Default::default() })
    }

    /// The engine's create body, with bosun's labels added.
    pub fn to_engine(&self, bosun_labels: &BTreeMap<&str, String>) -> ContainerCreateBody {
        let mut labels: HashMap<String, String> = self.labels.clone().into_iter().collect();
        labels.extend(bosun_labels.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for p in &self.ports {
            let binding = PortBinding { host_ip: p.host_ip.clone(), host_port: p.host_port.map(|h| h.to_string()) };
            port_bindings.entry(p.container_key()).or_insert_with(|| Some(vec![])).get_or_insert_with(Vec::new).push(binding);
        }
        let exposed: HashMap<String, HashMap<(), ()>> = port_bindings.keys().map(|k| (k.clone(), HashMap::new())).collect();
        let binds: Vec<String> =
            self.volumes.iter().map(|v| format!("{}:{}{}", v.source, v.target, if v.read_only { ":ro" } else { "" })).collect();
        let restart_policy = self.restart.as_deref().and_then(|r| parse_restart(r).ok()).map(|(name, retries)| RestartPolicy {
            name: Some(match name.as_str() {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                _ => RestartPolicyNameEnum::NO,
            }),
            maximum_retry_count: retries,
        });
        let endpoints: HashMap<String, EndpointSettings> = self
            .networks
            .iter()
            .map(|(net, aliases)| (net.clone(), EndpointSettings { aliases: (!aliases.is_empty()).then(|| aliases.clone()), ..Default::default() }))
            .collect();
        ContainerCreateBody {
            image: Some(self.image.clone()),
            env: Some(self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            cmd: self.command.clone(),
            entrypoint: self.entrypoint.clone(),
            labels: Some(labels),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            healthcheck: self.health_config(),
            stop_timeout: Some(self.stop_timeout.into()),
            host_config: Some(HostConfig {
                binds: (!binds.is_empty()).then_some(binds),
                port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
                restart_policy,
                volume_driver: self.volume_driver.clone(),
                memory: self.memory_bytes,
                nano_cpus: self.nano_cpus,
                network_mode: self.networks.keys().next().cloned(),
                ..Default::default()
            }),
            networking_config: (!endpoints.is_empty()).then_some(NetworkingConfig { endpoints_config: Some(endpoints) }),
            ..Default::default()
        }
    }
}

/// The env files a service names, by absolute path: each one's variables,
/// or why it cannot be read.
pub type EnvFiles = BTreeMap<PathBuf, Result<BTreeMap<String, String>, String>>;

/// Reads the env `files` (relative to `config_dir`).
pub fn read_env_files(files: &[PathBuf], config_dir: &Path) -> EnvFiles {
    let read = |path: &Path| read_env_file(path).map_err(|e| format!("{e:#}"));
    files.iter().filter_map(|file| env_file_path(config_dir, file).ok()).map(|path| (path.clone(), read(&path))).collect()
}

fn env_file_path(config_dir: &Path, file: &Path) -> std::io::Result<PathBuf> {
    std::path::absolute(config_dir.join(file))
}

/// docker's `--env-file` format: `KEY=VALUE` lines, `#` comments, and a bare
/// `KEY` taking bosun's own environment value. Values are registered as
/// secrets to mask.
pub fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("env file {} cannot be read ({e}); fix env_files in bosun.toml", path.display()))?;
    let mut env = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key, value.to_string()),
            None => match std::env::var(line.trim()) {
                Ok(value) => (line.trim(), value),
                Err(_) => continue,
            },
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            bail!("{}:{}: `{key}` is not a variable name; lines are KEY=VALUE", path.display(), number + 1);
        }
        crate::secrets::register(&value);
        env.insert(key.to_string(), value);
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(toml_text: &str) -> Service {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn env_files_then_inline_env_and_values_hidden_in_json() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web.env"), "# secrets\nDB_PASSWORD=hunter2\nMODE=file\n\n").unwrap();
        let svc = service("image = \"web\"\nenv_files = [\"web.env\"]\nenv = { MODE = \"inline\" }\nports = [\"8080:80\", \"9000\"]\nvolumes = [\"./data:/data:ro\"]");
        let spec = ContainerSpec::build(&svc, "web-1", "web:1", dir.path(), &read_env_files(&svc.env_files, dir.path())).unwrap();
        assert_eq!(spec.env["DB_PASSWORD"], "hunter2");
        assert_eq!(spec.env["MODE"], "inline", "inline env wins over the file");
        let json = serde_json::to_string(&spec).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains("\"env\":[\"DB_PASSWORD\",\"MODE\"]"), "{json}");
        assert_eq!(spec.fixed_host_ports().len(), 1);
        assert_eq!(spec.volumes[0].source, dir.path().join("data").to_string_lossy());
        let body = spec.to_engine(&BTreeMap::from([(label::SERVICE, "web".to_string())]));
        let host = body.host_config.unwrap();
        assert_eq!(host.binds.unwrap(), vec![format!("{}/data:/data:ro", dir.path().display())]);
        assert_eq!(host.port_bindings.unwrap()["80/tcp"].as_ref().unwrap()[0].host_port.as_deref(), Some("8080"));
        assert_eq!(body.labels.unwrap()["bosun.service"], "web");
    }

    #[test]
    fn the_hash_ignores_the_name_but_not_the_env() {
        let dir = tempfile::tempdir().unwrap();
        let a = ContainerSpec::build(&service("image = \"web\"\nenv = { A = \"1\" }"), "web-1", "web:1", dir.path(), &EnvFiles::new()).unwrap();
        let mut renamed = a.clone();
        renamed.name = "web-2".into();
        assert_eq!(a.config_hash(), renamed.config_hash());
        let b = ContainerSpec::build(&service("image = \"web\"\nenv = { A = \"2\" }"), "web-1", "web:1", dir.path(), &EnvFiles::new()).unwrap();
        assert_ne!(a.config_hash(), b.config_hash());
    }

    #[test]
    fn a_missing_env_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service("image = \"web\"\nenv_files = [\"nope.env\"]");
        let err = ContainerSpec::build(&svc, "w", "web:1", dir.path(), &read_env_files(&svc.env_files, dir.path())).unwrap_err();
        assert!(format!("{err:#}").contains("nope.env cannot be read (No such file or directory (os error 2)); fix env_files in bosun.toml"), "{err:#}");
    }
}
