//! The engine of each `[hosts.<name>]`: its endpoint from bosun.toml (or,
//! for `local` without a `[hosts.local]`, the environment's), connected with
//! errors that name the host and point at its table.

use anyhow::{anyhow, bail};

use crate::config::Config;
use crate::config::hosts::LOCAL;
use crate::docker::{Address, Connection, Endpoint};
use crate::plugin::CallSetup;

/// Where host `name` of `config` has its engine.
pub fn endpoint(config: &Config, name: &str) -> anyhow::Result<Endpoint> {
    let Some(host) = config.hosts.get(name) else {
        return match name == LOCAL {
            true => Endpoint::from_env(),
            false => bail!("no host called {name}; add a [hosts.{name}] table to bosun.toml"),
        };
    };
    Ok(match Address::parse(&host.docker).map_err(|e| anyhow!("hosts.{name}.docker: {e}"))? {
        Address::Unix(path) => Endpoint::Unix(format!("unix://{path}")),
        Address::Ssh { destination, port } => Endpoint::Ssh { destination, port, config: host.ssh_config.as_ref().map(|c| config.resolve(c)) },
        Address::Tcp(addr) => match &host.tls {
            Some(tls) => Endpoint::Tls { addr, ca: config.resolve(&tls.ca), cert: config.resolve(&tls.cert), key: config.resolve(&tls.key) },
            None => Endpoint::Tcp(addr),
        },
    })
}

/// `setup` with its plugin's docker interface pointed at host `host`'s
/// engine, when one is named (a check's or backup set's `docker_host`).
pub fn aim(config: &Config, mut setup: CallSetup, host: Option<&str>) -> anyhow::Result<CallSetup> {
    if let Some(host) = host {
        std::sync::Arc::make_mut(&mut setup.policy).engine = Some(endpoint(config, host)?);
    }
    Ok(setup)
}

/// Connects to host `name`'s engine; errors are one line naming the host
/// and its endpoint.
pub async fn connect(config: &Config, name: &str) -> anyhow::Result<Connection> {
    let endpoint = endpoint(config, name)?;
    // A configured host is fixed in bosun.toml, not by DOCKER_HOST.
    let hint = match config.hosts.contains_key(name) {
        true => format!("check hosts.{name}.docker in bosun.toml"),
        false => crate::docker::HINT.to_string(),
    };
    crate::docker::connect_to(endpoint, &hint).await.map_err(|e| anyhow!("host {name}: {e}"))
}
