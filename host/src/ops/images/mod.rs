//! Images the services use: which ones, whether the registry has newer ones
//! (`check`), getting them (`pull`), recreating the containers that run them
//! (`update`), and removing old ones (`prune`). Nothing is ever downloaded
//! unless a command asks for it.

pub mod check;
pub mod prune;
pub mod pull;
pub mod recreate;
pub mod update;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Config;
use crate::ops::deploy::client::DockerClient;
use crate::ops::deploy::spec::label;

/// `repo[:tag]` split into the repository and the tag (`latest` when none);
/// a digest reference (`repo@sha256:…`) keeps its digest as the "tag".
pub fn split_reference(reference: &str) -> (&str, &str) {
    if let Some((repo, digest)) = reference.split_once('@') {
        return (repo, digest);
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(colon) => (&reference[..last_slash + colon], &reference[last_slash + colon + 1..]),
        None => (reference, "latest"),
    }
}

/// An image reference and the services that use it.
#[derive(Debug, Clone, Serialize)]
pub struct ImageUse {
    pub image: String,
    pub services: Vec<String>,
}

/// Every image a service uses on host `host` (whose engine `engine` is):
/// its configured `image:version`, and the image each running container of
/// the service was created from.
pub async fn in_use_on(config: &Config, engine: &DockerClient, host: &str) -> anyhow::Result<Vec<ImageUse>> {
    let mut uses: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |image: String, service: &str| {
        let services = uses.entry(image).or_default();
        if !services.iter().any(|s| s == service) {
            services.push(service.to_string());
        }
    };
    let placed = |name: &str| config.service_hosts(name).iter().any(|h| h == host);
    for (name, service) in config.services.iter().filter(|(name, _)| placed(name)) {
        if let Some(version) = &service.version {
            add(format!("{}:{version}", service.image), name);
        }
    }
    let project = BTreeMap::from([(label::PROJECT, config.project.name.clone()), (label::ENV, config.project.env.clone())]);
    for container in engine.managed(&project).await? {
        if container.running && config.services.contains_key(&container.service) && placed(&container.service) {
            add(container.image.clone(), &container.service);
        }
    }
    Ok(uses.into_iter().map(|(image, services)| ImageUse { image, services }).collect())
}

/// [`in_use_on`] the `local` host (the environment's engine).
pub async fn in_use(config: &Config, engine: &DockerClient) -> anyhow::Result<Vec<ImageUse>> {
    in_use_on(config, engine, crate::config::hosts::LOCAL).await
}

/// An image in use on a host and whether it is there.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Required {
    pub host: String,
    pub image: String,
    pub services: Vec<String>,
    pub present: bool,
}

/// Every image the services use on host `host` (engine `engine`), present or missing.
pub async fn required_on(config: &Config, engine: &DockerClient, host: &str) -> anyhow::Result<Vec<Required>> {
    let mut out = Vec::new();
    for ImageUse { image, services } in in_use_on(config, engine, host).await? {
        let present = engine.image(&image).await?.is_some();
        out.push(Required { host: host.to_string(), image, services, present });
    }
    Ok(out)
}

/// [`required_on`] the `local` host.
pub async fn required(config: &Config, engine: &DockerClient) -> anyhow::Result<Vec<Required>> {
    required_on(config, engine, crate::config::hosts::LOCAL).await
}

/// `bosun images required [--hosts]`: each of `hosts` (see
/// `Config::hosts_in_use`), asked at once; a host that cannot be reached
/// fails the whole answer, naming it.
pub async fn required_everywhere(config: &Config, hosts: &[String]) -> anyhow::Result<Vec<Required>> {
    let asked = hosts.iter().map(|host| async move {
        let engine = DockerClient::for_host(config, host).await?;
        required_on(config, &engine, host).await
    });
    Ok(futures_util::future::try_join_all(asked).await?.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(split_reference("web"), ("web", "latest"));
        assert_eq!(split_reference("web:1.4"), ("web", "1.4"));
        assert_eq!(split_reference("127.0.0.1:5000/shop/web"), ("127.0.0.1:5000/shop/web", "latest"));
        assert_eq!(split_reference("127.0.0.1:5000/shop/web:2"), ("127.0.0.1:5000/shop/web", "2"));
        assert_eq!(split_reference("web@sha256:ab"), ("web", "sha256:ab"));
    }
}
