//! `bosun images prune`: old images of the services' repositories go; what a
//! container uses, the last N released versions, the releases within each
//! service's `retain` (rollback points) and the configured version stay.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::{ListContainersOptionsBuilder, ListImagesOptions, RemoveImageOptions};
use serde::Serialize;

use super::split_reference;
use crate::app::App;
use crate::ops::deploy::client::DockerClient;

#[derive(Debug, Clone, Serialize)]
pub struct PrunedImage {
    pub id: String,
    /// The service repository's tags it carries (empty: untagged).
    pub tags: Vec<String>,
    pub service: String,
    /// Why it stays; none for an image that goes.
    pub kept_because: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrunePlan {
    /// The `[hosts.*]` whose engine holds the images.
    pub host: String,
    pub keep: Vec<PrunedImage>,
    pub remove: Vec<PrunedImage>,
}

/// What goes from host `host` (engine `engine`): its services' images, by
/// the releases made on it.
pub async fn plan(app: &App, engine: &DockerClient, host: &str, keep_versions: usize) -> anyhow::Result<PrunePlan> {
    let state = app.state()?;
    let env = &app.config.project.env;
    let containers = engine.docker.list_containers(Some(ListContainersOptionsBuilder::new().all(true).build())).await?;
    let used_by: HashMap<String, String> = containers
        .into_iter()
        .filter_map(|c| Some((c.image_id?, c.names?.first()?.trim_start_matches('/').to_string())))
        .collect();
    let images = engine.docker.list_images(None::<ListImagesOptions>).await?;
    let mut plan = PrunePlan { host: host.to_string(), keep: vec![], remove: vec![] };
    let placed = |name: &str| app.config.service_hosts(name).iter().any(|h| h == host);
    for (name, service) in app.config.services.iter().filter(|(name, _)| placed(name)) {
        let releases = state.succeeded_releases(name, env, Some(host))?;
        // Image id → why it stays, first reason wins.
        let mut reasons: BTreeMap<String, String> = BTreeMap::new();
        let mut versions_seen: Vec<&str> = Vec::new();
        for release in &releases {
            if !versions_seen.contains(&release.version.as_str()) {
                versions_seen.push(&release.version);
                if versions_seen.len() <= keep_versions {
                    reasons.entry(release.image_digest.clone()).or_insert_with(|| format!("version {} is one of the last {keep_versions} released", release.version));
                }
            }
        }
        // The current release and the `retain` before it can be rolled back to.
        for release in releases.iter().take(service.retain + 1) {
            reasons.entry(release.image_digest.clone()).or_insert_with(|| format!("release {} is a rollback point (retain {})", release.id, service.retain));
        }
        if let Some(version) = &service.version
            && let Some(id) = engine.image(&format!("{}:{version}", service.image)).await?.and_then(|i| i.id)
        {
            reasons.entry(id).or_insert_with(|| format!("services.{name}.version is {version}"));
        }
        let recorded: Vec<&str> = releases.iter().map(|r| r.image_digest.as_str()).collect();
        for image in &images {
            let tags: Vec<String> = image.repo_tags.iter().filter(|t| split_reference(t).0 == service.image).cloned().collect();
            if tags.is_empty() && !recorded.contains(&image.id.as_str()) {
                continue;
            }
            let kept_because = used_by.get(&image.id).map(|c| format!("container {c} uses it")).or_else(|| reasons.get(&image.id).cloned());
            let entry = PrunedImage { id: image.id.clone(), tags, service: name.clone(), kept_because };
            if entry.kept_because.is_some() { plan.keep.push(entry) } else { plan.remove.push(entry) }
        }
    }
    Ok(plan)
}

/// Removes what the plan says; returns the failures (the image stays).
pub async fn apply(engine: &DockerClient, plan: &PrunePlan) -> Vec<String> {
    let mut failures = Vec::new();
    for image in &plan.remove {
        // Untag the service's tags; the image goes with its last tag. Other
        // repositories' tags on the same image are left alone.
        let names = if image.tags.is_empty() { vec![image.id.clone()] } else { image.tags.clone() };
        for name in names {
            if let Err(e) = engine.docker.remove_image(&name, None::<RemoveImageOptions>, None).await {
                failures.push(format!("{name}: {}", crate::docker::causes(&e)));
            }
        }
    }
    failures
}
