//! `[hosts.<name>]`: the Docker engines bosun works with, and where each
//! service runs. Without any, there is one host, `local`: the engine the
//! environment names (`DOCKER_HOST`, else the local socket), so a
//! bosun.toml written before hosts existed means what it meant.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::Problems;
use crate::docker::Address;

/// The host a bosun.toml without `[hosts]` has.
pub const LOCAL: &str = "local";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// `unix:///var/run/docker.sock`, `ssh://user@host[:port]` or `tcp://host:2376`.
    pub docker: String,
    /// For `tcp://`: the CA that signed the engine's certificate, and the
    /// client certificate and key bosun presents.
    pub tls: Option<HostTls>,
    /// For `ssh://`: an ssh configuration file to use instead of
    /// `~/.ssh/config` (`ssh -F`): keys, known_hosts, a jump host.
    pub ssh_config: Option<PathBuf>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// What it is for (`web`, `db`): services name roles instead of hosts.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Host {
    pub(super) fn validate(&self, at: &str, resolve: impl Fn(&std::path::Path) -> PathBuf, problems: &mut Problems) {
        let address = Address::parse(&self.docker);
        if let Err(e) = &address {
            problems.add(format!("{at}.docker"), e.clone());
        }
        match (&address, &self.tls) {
            (Ok(Address::Tcp(_)), Some(tls)) => {
                for (key, path) in [("ca", &tls.ca), ("cert", &tls.cert), ("key", &tls.key)] {
                    let path = resolve(path);
                    if let Err(e) = std::fs::File::open(&path) {
                        problems.add(format!("{at}.tls.{key}"), format!("{}: {}; name a readable PEM file", path.display(), crate::words::io_words(&e)));
                    }
                }
            }
            (Ok(Address::Unix(_) | Address::Ssh { .. }), Some(_)) => problems.add(format!("{at}.tls"), "is for tcp:// engines; a unix:// or ssh:// engine needs none"),
            _ => {}
        }
        match (&address, &self.ssh_config) {
            (Ok(Address::Ssh { .. }), Some(file)) => {
                let path = resolve(file);
                if let Err(e) = std::fs::File::open(&path) {
                    problems.add(format!("{at}.ssh_config"), format!("{}: {}; name a readable ssh configuration file", path.display(), crate::words::io_words(&e)));
                }
            }
            (Ok(_), Some(_)) => problems.add(format!("{at}.ssh_config"), "is for ssh:// engines"),
            _ => {}
        }
    }
}

/// Where a service runs: the hosts it names, and those with a role it names.
/// An unknown name is a problem under `at`.
pub fn placement(at: &str, hosts: &[String], roles: &[String], known: &BTreeMap<String, Host>, problems: &mut Problems) {
    // `local` is always there: the environment's engine unless a [hosts.local] says otherwise.
    for name in hosts.iter().filter(|h| h.as_str() != LOCAL && !known.contains_key(*h)) {
        problems.add(format!("{at}.hosts"), format!("no host called {name}; add a [hosts.{name}] table or remove it from the list"));
    }
    for role in roles.iter().filter(|r| !known.values().any(|h| h.roles.contains(r))) {
        problems.add(format!("{at}.roles"), format!("no host has the role {role}; add it to a host's roles or remove it from the list"));
    }
}

/// The hosts a service with these `hosts` and `roles` runs on, in order
/// (named hosts first, then those with a named role, each once); neither
/// named: [`LOCAL`].
pub fn of_service(hosts: &[String], roles: &[String], known: &BTreeMap<String, Host>) -> Vec<String> {
    if hosts.is_empty() && roles.is_empty() {
        return vec![LOCAL.to_string()];
    }
    let mut chosen: Vec<String> = hosts.to_vec();
    for (name, host) in known {
        if host.roles.iter().any(|r| roles.contains(r)) && !chosen.contains(name) {
            chosen.push(name.clone());
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_runs_on_the_hosts_it_names_then_those_with_its_roles() {
        let host = |roles: &[&str]| Host { docker: "unix:///x".into(), tls: None, ssh_config: None, labels: BTreeMap::new(), roles: roles.iter().map(|r| r.to_string()).collect() };
        let known = BTreeMap::from([("db".to_string(), host(&["db"])), ("web1".to_string(), host(&["web"])), ("web2".to_string(), host(&["web"]))]);
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(of_service(&names(&["web2"]), &names(&["web"]), &known), ["web2", "web1"]);
        assert_eq!(of_service(&[], &names(&["db"]), &known), ["db"]);
        assert_eq!(of_service(&[], &[], &known), [LOCAL]);
        let mut problems = Problems::default();
        placement("services.web", &names(&["web3"]), &names(&["cache"]), &known, &mut problems);
        let said = format!("{problems:?}");
        assert!(said.contains("no host called web3") && said.contains("no host has the role cache"), "{said}");
    }
}
