//! `bosun images check`: for each image in use, the local digest against the
//! registry's, asked through the engine's distribution endpoint (no pull),
//! all images at once.

use std::collections::HashMap;

use bollard::models::DistributionInspect;
use bollard::query_parameters::ListImagesOptions;
use futures_util::{StreamExt, stream};
use serde::Serialize;

use super::{ImageUse, split_reference};
use crate::ops::deploy::client::DockerClient;

/// At most this many registry requests in flight.
const CONCURRENCY: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    UpToDate,
    UpdateAvailable,
    /// The registry does not know the image (a local-only build, a deleted tag).
    NotInRegistry,
    /// Not on this machine yet: `bosun images pull` gets it.
    NotLocal,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageCheck {
    /// The `[hosts.*]` whose engine was asked (`local` without hosts).
    pub host: String,
    pub image: String,
    pub services: Vec<String>,
    pub status: Status,
    /// The registry digests the local image was pulled or pushed as.
    pub local_digests: Vec<String>,
    pub registry_digest: Option<String>,
    pub error: Option<String>,
}

/// Checks every image: one listing of the local images, then the registry
/// questions all in flight at once.
pub async fn check_all(engine: &DockerClient, images: Vec<ImageUse>) -> Vec<ImageCheck> {
    let options = ListImagesOptions { digests: true, ..Default::default() };
    let local: Result<HashMap<String, Vec<String>>, String> = match engine.docker.list_images(Some(options)).await {
        Ok(listed) => Ok(listed.into_iter().flat_map(|i| i.repo_tags.into_iter().map(move |tag| (tag, i.repo_digests.clone()))).collect()),
        Err(e) => Err(format!("listing local images: {}", crate::docker::causes(&e))),
    };
    let local = &local;
    let mut checks: Vec<ImageCheck> = stream::iter(images)
        .map(|image| async move {
            let remote = engine.docker.inspect_registry_image(&image.image, None).await;
            let here = local.as_ref().map(|tags| tags.get(&image.image).cloned()).map_err(Clone::clone);
            judge(image, here, remote)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    checks.sort_by(|a, b| a.image.cmp(&b.image));
    checks
}

/// Every image in use on each of `hosts` (see `Config::hosts_in_use`),
/// each host asked through its own engine, all at once; a host that cannot
/// be reached fails the answer, naming it.
pub async fn check_everywhere(config: &crate::config::Config, hosts: &[String]) -> anyhow::Result<Vec<ImageCheck>> {
    let asked = hosts.iter().map(|host| async move {
        let engine = DockerClient::for_host(config, host).await?;
        let mut checks = check_all(&engine, super::in_use_on(config, &engine, host).await?).await;
        checks.iter_mut().for_each(|c| c.host.clone_from(host));
        anyhow::Ok(checks)
    });
    Ok(futures_util::future::try_join_all(asked).await?.into_iter().flatten().collect())
}

/// Checks one image: inspect it here, ask its registry.
pub async fn check_one(engine: &DockerClient, image: ImageUse) -> ImageCheck {
    let (local, remote) = tokio::join!(engine.image(&image.image), engine.docker.inspect_registry_image(&image.image, None));
    let here = local.map(|found| found.map(|i| i.repo_digests.unwrap_or_default())).map_err(|e| format!("{e:#}"));
    judge(image, here, remote)
}

/// The verdict from what is here (the image's repo digests, none when it is
/// not here) and what the registry answered.
fn judge(use_: ImageUse, here: Result<Option<Vec<String>>, String>, remote: Result<DistributionInspect, bollard::errors::Error>) -> ImageCheck {
    let ImageUse { image, services } = use_;
    let mut check = ImageCheck { host: String::new(), image, services, status: Status::Error, local_digests: vec![], registry_digest: None, error: None };
    let local = match here {
        Ok(local) => local,
        Err(e) => {
            check.error = Some(e);
            return check;
        }
    };
    let (repo, _) = split_reference(&check.image);
    check.local_digests = local
        .iter()
        .flatten()
        .filter_map(|d| d.split_once('@').filter(|(r, _)| *r == repo).map(|(_, digest)| digest.to_string()))
        .collect();
    check.status = match remote {
        Err(e) if crate::docker::unknown_to_registry(&e) => Status::NotInRegistry,
        Err(e) => {
            check.error = Some(format!("asking the registry about {}: {}", check.image, crate::docker::causes(&e).replace('\n', " ")));
            Status::Error
        }
        Ok(found) => {
            check.registry_digest = found.descriptor.digest;
            match (&local, &check.registry_digest) {
                (None, _) => Status::NotLocal,
                (Some(_), Some(digest)) if check.local_digests.contains(digest) => Status::UpToDate,
                _ => Status::UpdateAvailable,
            }
        }
    };
    if local.is_none() && check.status == Status::NotInRegistry {
        check.status = Status::Error;
        check.error = Some(format!("{} is neither on this machine nor in its registry", check.image));
    }
    check
}
