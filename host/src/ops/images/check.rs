//! `bosun images check`: for each image in use, the local digest against the
//! registry's, asked through the engine's distribution endpoint (no pull),
//! all images at once.

use futures_util::{StreamExt, stream};
use serde::Serialize;

use super::{ImageUse, split_reference};
use crate::ops::deploy::engine::Engine;

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
    pub image: String,
    pub services: Vec<String>,
    pub status: Status,
    /// The registry digests the local image was pulled or pushed as.
    pub local_digests: Vec<String>,
    pub registry_digest: Option<String>,
    pub error: Option<String>,
}

pub async fn check_all(engine: &Engine, images: Vec<ImageUse>) -> Vec<ImageCheck> {
    let mut checks: Vec<ImageCheck> = stream::iter(images).map(|image| check_one(engine, image)).buffer_unordered(CONCURRENCY).collect().await;
    checks.sort_by(|a, b| a.image.cmp(&b.image));
    checks
}

pub async fn check_one(engine: &Engine, use_: ImageUse) -> ImageCheck {
    let ImageUse { image, services } = use_;
    let (local, remote) = tokio::join!(engine.image(&image), engine.docker.inspect_registry_image(&image, None));
    let mut check = ImageCheck { image, services, status: Status::Error, local_digests: vec![], registry_digest: None, error: None };
    let local = match local {
        Ok(local) => local,
        Err(e) => {
            check.error = Some(format!("{e:#}"));
            return check;
        }
    };
    let (repo, _) = split_reference(&check.image);
    check.local_digests = local
        .iter()
        .flat_map(|i| i.repo_digests.iter().flatten())
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
