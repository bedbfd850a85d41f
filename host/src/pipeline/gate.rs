//! The release gate and approvals. `gate` passes only when the image a
//! service's version names (by its digest, not its tag) went through a
//! successful run of another pipeline lately ("prod only after the same
//! image passed in test"). `approve` waits for a person: `bosun approve` or
//! `bosun reject`, recorded with who and why.

use std::time::Duration;

use serde_json::json;

use super::args::Args;
use super::step::{StepContext, StepDone, StepError, channels_for, object, send};
use crate::failure::Failure;
use crate::ops::deploy::{self, client::DockerClient};
use crate::ops::notify::{Notice, Severity};
use crate::state::{Decision, now_unix};

/// How far back a gate looks unless `within` says otherwise.
const A_WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often a waiting approval looks for a decision.
const POLL: Duration = Duration::from_millis(250);

pub async fn gate(cx: &StepContext<'_>, args: &Args) -> Result<StepDone, StepError> {
    let pipeline = args.required("pipeline")?;
    let name = args.required("service")?;
    let service = deploy::service(cx.app, &name)?;
    let version = args.text("version")?.or_else(|| service.version.clone()).ok_or_else(|| Failure::failed(format!("gate: no version of {name}; give with.version")))?;
    let within = args.duration("within")?.unwrap_or(A_WEEK);
    let image = format!("{}:{version}", service.image);
    let engine = DockerClient::open().await.map_err(Failure::from)?;
    let Some(digest) = engine.image(&image).await.map_err(Failure::from)?.and_then(|i| i.id) else {
        return Err(Failure::failed(format!("gate: {image} is not on this machine, so its digest is unknown; pull it first (an images.pull step before the gate)")).into());
    };
    let since = now_unix() - within.as_secs() as i64;
    match cx.app.state()?.passed_with_digest(&pipeline, &digest, since)? {
        Some(run) => Ok(StepDone {
            summary: format!("{image} ({digest}) passed pipeline {pipeline} in run {run}"),
            outputs: object(json!({ "digest": digest, "run": run })),
            ..StepDone::default()
        }),
        None => Err(Failure::failed(format!(
            "gate: no successful run of pipeline {pipeline} deployed {image} (image {digest}) in the last {}; run `bosun run {pipeline}` with it first",
            crate::time::elapsed(within)
        ))
        .into()),
    }
}

pub async fn approve(cx: &StepContext<'_>, id: &str, args: &Args) -> Result<StepDone, StepError> {
    let run = cx.run_id;
    let asked = format!("approve: bosun approve {run} -m WHY · reject: bosun reject {run} -m WHY");
    if cx.dry_run {
        return Ok(StepDone { summary: "would wait for an approval".into(), planned: vec![format!("wait for a person ({asked})")], ..StepDone::default() });
    }
    let state = cx.app.state()?;
    // A run resumed after its decision was made does not ask again.
    if let Some(decision) = state.decision(run, id)? {
        return decided(decision, Vec::new());
    }
    state.set_waiting(run, id, true)?;
    let title = format!("run {run} of pipeline {} waits for approval", cx.pipeline);
    let body = [args.text("message")?.unwrap_or_default(), asked].join("\n").trim().to_string();
    let channels = channels_for(cx, "pipeline.approval", &args.list("channels")?);
    let log: Vec<String> = send(cx, Notice::new("pipeline.approval", Severity::Warning, title, body), &channels).await.iter().map(ToString::to_string).collect();
    loop {
        tokio::time::sleep(POLL).await;
        if let Some(decision) = state.decision(run, id)? {
            state.set_waiting(run, id, false)?;
            return decided(decision, log);
        }
    }
}

fn decided(decision: Decision, log: Vec<String>) -> Result<StepDone, StepError> {
    let Decision { approved, who, note, at } = decision;
    let why = if note.is_empty() { String::new() } else { format!(": {note}") };
    let when = crate::time::rfc3339(at.max(0) as u64);
    if !approved {
        return Err(StepError { failure: Failure::failed(format!("rejected by {who} at {when}{why}")), log });
    }
    Ok(StepDone { summary: format!("approved by {who} at {when}{why}"), outputs: object(json!({ "approved_by": who, "note": note })), log, ..StepDone::default() })
}
