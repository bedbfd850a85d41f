//! `bosun images pull`: the engine pulls; each layer's progress is passed on
//! as it arrives.

use std::pin::pin;

use anyhow::{Result, anyhow};
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::split_reference;
use crate::ops::deploy::client::DockerClient;

/// One progress message from the engine.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The layer's short id; empty for messages about the whole image.
    pub layer: String,
    /// `Downloading`, `Extracting`, `Pull complete`, `Already exists`, …
    pub status: String,
    pub current: Option<u64>,
    pub total: Option<u64>,
}

/// Pulls `reference` and returns the pulled image's id.
pub async fn pull(engine: &DockerClient, reference: &str, mut on_progress: impl FnMut(&Progress)) -> Result<String> {
    let (repo, tag) = split_reference(reference);
    let options = CreateImageOptionsBuilder::new().from_image(repo).tag(tag).build();
    let mut events = pin!(engine.docker.create_image(Some(options), None, None));
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| pull_error(reference, &crate::docker::causes(&e)))?;
        if let Some(error) = event.error_detail.and_then(|d| d.message).or(event.error) {
            return Err(pull_error(reference, &error));
        }
        let detail = event.progress_detail.unwrap_or_default();
        on_progress(&Progress {
            layer: event.id.unwrap_or_default(),
            status: event.status.unwrap_or_default(),
            current: detail.current.map(|c| c.max(0) as u64),
            total: detail.total.filter(|t| *t > 0).map(|t| t as u64),
        });
    }
    let image = engine.image(reference).await?.ok_or_else(|| anyhow!("pulling {reference}: the engine reported success but has no such image"))?;
    Ok(image.id.unwrap_or_default())
}

fn pull_error(reference: &str, cause: &str) -> anyhow::Error {
    let cause = cause.trim().replace('\n', " ");
    anyhow!("pulling {reference}: {cause}; check the name and tag, and that the registry is reachable (`bosun images check` asks it without pulling)")
}
