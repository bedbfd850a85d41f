//! The image steps: `images.pull`, `images.update` (no question asked: a
//! pipeline is the operator's `--yes`) and `images.prune`, through the same
//! `ops::images` code as `bosun images`.

use serde_json::{Value, json};

use super::args::Args;
use super::step::{StepContext, StepDone, StepError, object};
use crate::failure::Failure;
use crate::ops::deploy::client::DockerClient;
use crate::ops::images::update::{self, UpdateOptions, Updated};
use crate::ops::images::{prune, pull, split_reference};

pub async fn run(cx: &StepContext<'_>, id: &str, uses: &str, args: &Args) -> Result<StepDone, StepError> {
    let engine = DockerClient::open().await.map_err(Failure::from)?;
    match uses {
        "images.pull" => {
            let image = args.required("image")?;
            if cx.dry_run {
                return Ok(StepDone { summary: format!("would pull {image}"), planned: vec![format!("pull {image}")], ..StepDone::default() });
            }
            let label = format!("pulling {image}");
            let mut layers = Layers::default();
            let image_id = pull::pull(&engine, &image, |p| layers.show(cx, id, &label, p)).await.map_err(Failure::from)?;
            let digest = repo_digest(&engine, &image).await;
            let summary = format!("pulled {image} ({image_id})");
            Ok(StepDone { outputs: object(json!({ "image_id": image_id, "digest": digest })), summary, ..StepDone::default() })
        }
        "images.update" => {
            let image = args.required("image")?;
            let (label, mut layers) = (format!("pulling {image}"), Layers::default());
            let mut confirm = |_: &str, _: &[update::Affected]| true;
            let mut on_progress = |p: &pull::Progress| layers.show(cx, id, &label, p);
            let updated = update::update(cx.app, &engine, &image, UpdateOptions { host: crate::config::hosts::LOCAL, dry_run: cx.dry_run, confirm: &mut confirm, on_progress: &mut on_progress }).await?;
            match updated {
                Updated::Planned { image_id, affected, .. } => Ok(StepDone {
                    summary: format!("would pull {image} and recreate {} container(s)", affected.len()),
                    planned: affected.iter().map(|a| format!("recreate {} if {image} has a newer image", a.name)).collect(),
                    outputs: object(json!({ "image_id": image_id, "updated": false, "recreated": 0 })),
                    ..StepDone::default()
                }),
                Updated::UpToDate { image_id, .. } => {
                    Ok(StepDone { summary: format!("{image} is up to date"), outputs: object(json!({ "image_id": image_id, "updated": false, "recreated": 0 })), ..StepDone::default() })
                }
                Updated::Cancelled { .. } => Err(Failure::failed(format!("{image}: the update was not confirmed")).into()),
                Updated::Done { new_image_id, containers, .. } => {
                    let log: Vec<String> = containers.iter().map(|c| format!("{}: {}", c.container, c.error.as_deref().unwrap_or("recreated"))).collect();
                    let failed: Vec<&str> = containers.iter().filter(|c| c.error.is_some()).map(|c| c.container.as_str()).collect();
                    if !failed.is_empty() {
                        return Err(StepError { failure: Failure::failed(format!("{image} pulled; recreating {} failed (the old ones run again)", failed.join(", "))), log });
                    }
                    let outputs = object(json!({ "image_id": new_image_id, "updated": true, "recreated": containers.len() }));
                    Ok(StepDone { summary: format!("{image} updated; {} container(s) recreated", containers.len()), outputs, log, ..StepDone::default() })
                }
            }
        }
        _ => {
            let keep = args.text("keep")?.map(|k| k.parse::<usize>()).transpose().map_err(|_| Failure::failed("with.keep is not a whole number"))?.unwrap_or(3);
            let plan = prune::plan(cx.app, &engine, crate::config::hosts::LOCAL, keep).await.map_err(Failure::from)?;
            let names: Vec<String> = plan.remove.iter().map(|i| if i.tags.is_empty() { i.id.clone() } else { i.tags.join(", ") }).collect();
            let outputs = object(json!({ "removed": plan.remove.len(), "kept": plan.keep.len() }));
            if cx.dry_run {
                return Ok(StepDone { summary: format!("would remove {} image(s)", names.len()), planned: names.iter().map(|n| format!("remove image {n}")).collect(), outputs, ..StepDone::default() });
            }
            let failures = prune::apply(&engine, &plan).await;
            if !failures.is_empty() {
                return Err(StepError { failure: Failure::failed(format!("{} image(s) could not be removed", failures.len())), log: failures });
            }
            Ok(StepDone { summary: format!("{} image(s) removed, {} kept", plan.remove.len(), plan.keep.len()), outputs, log: names, ..StepDone::default() })
        }
    }
}

/// An image pull's bytes, summed over its layers as the engine reports them.
#[derive(Default)]
struct Layers(std::collections::HashMap<String, (u64, u64)>);

impl Layers {
    fn show(&mut self, cx: &StepContext<'_>, step: &str, label: &str, progress: &pull::Progress) {
        if let Some((done, total)) = self.add(progress) {
            (cx.observe)(super::run::Event::Progress { step, label, done, total: Some(total) });
        }
    }

    /// Bytes done and in all, once `progress` says something about a layer's size.
    fn add(&mut self, progress: &pull::Progress) -> Option<(u64, u64)> {
        let total = progress.total.filter(|_| !progress.layer.is_empty())?;
        self.0.insert(progress.layer.clone(), (progress.current.unwrap_or(0), total));
        Some(self.0.values().fold((0, 0), |(d, t), (ld, lt)| (d + ld, t + lt)))
    }
}

/// The registry digest the engine recorded for `image`'s repository, if any.
async fn repo_digest(engine: &DockerClient, image: &str) -> Value {
    let (repository, _) = split_reference(image);
    let digests = engine.image(image).await.ok().flatten().and_then(|i| i.repo_digests).unwrap_or_default();
    digests.iter().find(|d| d.split('@').next() == Some(repository)).and_then(|d| d.split('@').nth(1)).map_or(Value::Null, |d| Value::from(d.to_string()))
}

#[cfg(test)]
mod tests {
    use super::{Layers, pull};

    #[test]
    fn a_pull_is_the_sum_of_its_layers() {
        let p = |layer: &str, current, total| pull::Progress { layer: layer.into(), status: "Downloading".into(), current, total };
        let mut layers = Layers::default();
        assert_eq!(layers.add(&p("", None, None)), None, "a message about the whole image has no size");
        assert_eq!(layers.add(&p("a1", Some(10), Some(100))), Some((10, 100)));
        assert_eq!(layers.add(&p("b2", Some(5), Some(50))), Some((15, 150)));
        assert_eq!(layers.add(&p("a1", Some(100), Some(100))), Some((105, 150)));
    }
}
