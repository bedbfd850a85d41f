//! Pipelines and their runs: list and show pipelines, start one, list and
//! show runs, cancel a run, approve or reject one that waits.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use serde_json::{Value, json};

use super::{Api, Body, Caller, Operator, Params, Problem, RequestBody, Requester, Viewer, accepted, json, run_id};
use crate::pipeline::{self, Start};
use crate::state::RunFilter;

pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new()
        .routes(routes!(pipelines))
        .routes(routes!(pipeline))
        .routes(routes!(schedules))
        .routes(routes!(start_run))
        .routes(routes!(runs))
        .routes(routes!(run))
        .routes(routes!(cancel_run))
        .routes(routes!(approve_run))
        .routes(routes!(reject_run))
}

type Shared = State<Arc<Api>>;

/// The pipelines in bosun.toml: name, description, step ids, schedule.
#[utoipa::path(get, path = "/api/v1/pipelines", tag = "pipelines", security(("token" = ["viewer"])), responses((status = 200, body = serde_json::Value)))]
async fn pipelines(_: Caller<Viewer>, State(api): Shared) -> Response {
    let listed: Vec<Value> = api.app.config.pipelines.iter().map(|(name, p)| summary(name, p)).collect();
    json(listed)
}

fn summary(name: &str, p: &crate::config::pipeline::Pipeline) -> Value {
    json!({ "name": name, "description": p.description, "steps": p.steps.iter().map(|s| &s.id).collect::<Vec<_>>(), "schedule": p.schedule })
}

/// One pipeline: its inputs, its steps with what each runs and needs.
#[utoipa::path(get, path = "/api/v1/pipelines/{name}", tag = "pipelines", security(("token" = ["viewer"])), params(("name" = String, Path)),
    responses((status = 200, body = serde_json::Value), (status = 404, body = super::ProblemDocument)))]
async fn pipeline(_: Caller<Viewer>, State(api): Shared, Path(name): Path<String>) -> Result<Response, Problem> {
    let p = known_pipeline(&api, &name)?;
    let inputs: serde_json::Map<String, Value> = p
        .inputs
        .iter()
        .map(|(key, input)| (key.clone(), json!({ "type": format!("{:?}", input.kind).to_lowercase(), "default": input.default, "description": input.description, "options": input.options })))
        .collect();
    let step = |s: &crate::config::pipeline::Step| json!({ "id": s.id, "uses": s.label(), "needs": s.needs, "if": s.condition });
    let mut shown = summary(&name, p);
    shown["inputs"] = Value::Object(inputs);
    shown["steps"] = p.steps.iter().map(step).collect();
    shown["on_failure"] = p.on_failure.iter().map(step).collect();
    shown["concurrency"] = json!(p.concurrency);
    Ok(json(shown))
}

/// The scheduled pipelines: when each was last due and is next.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "pipelines", security(("token" = ["viewer"])), responses((status = 200, body = Vec<crate::serve::scheduler::ScheduleRow>)))]
async fn schedules(_: Caller<Viewer>, State(api): Shared) -> Result<Response, Problem> {
    Ok(json(crate::serve::scheduler::rows(&api.app)?))
}

fn known_pipeline<'a>(api: &'a Api, name: &str) -> Result<&'a crate::config::pipeline::Pipeline, Problem> {
    api.app.config.pipelines.get(name).ok_or_else(|| Problem::not_found(format!("no pipeline called {name}; GET /api/v1/pipelines lists them")))
}

#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    /// The pipeline's inputs by name; those left out take their defaults.
    #[serde(default)]
    inputs: serde_json::Map<String, Value>,
}

impl RequestBody for RunRequest {
    const EXAMPLE: &'static str = r#"{"inputs": {"version": "1.4"}}"#;
}

/// Starts a run of pipeline `name`; `202` with its id once it is recorded.
#[utoipa::path(post, path = "/api/v1/pipelines/{name}/runs", tag = "pipelines", security(("token" = ["operator"])), params(("name" = String, Path)), request_body = RunRequest,
    responses((status = 202, body = super::Accepted), (status = 400, body = super::ProblemDocument), (status = 404, body = super::ProblemDocument), (status = 409, description = "A run holds the pipeline's concurrency key", body = super::ProblemDocument)))]
async fn start_run(caller: Caller<Operator>, State(api): Shared, Path(name): Path<String>, body: Result<Body<RunRequest>, Problem>) -> Result<Response, Problem> {
    let given = body.map(|Body(request)| request.inputs.into_iter().map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect());
    Ok(accepted(start_pipeline(&api, &caller, &name, given).await?))
}

/// Starts a run of pipeline `name` with the `key=value` inputs `given`, for
/// `caller` (audited); its id once it is recorded.
pub async fn start_pipeline(api: &Arc<Api>, caller: &Requester, name: &str, given: Result<Vec<String>, Problem>) -> Result<i64, Problem> {
    let started = async {
        let pipeline = known_pipeline(api, name)?;
        let inputs = pipeline::inputs::resolve(name, pipeline, &given?)?;
        api.spawn_run(Start::New { pipeline: name.to_string(), inputs, dry_run: false, by: Some(caller.who()) }).await
    }
    .await;
    api.audited(caller, started, |id| (format!("accepted: run {id}"), Some(*id)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RunsQuery {
    /// At most this many (default 20, at most 500).
    limit: Option<usize>,
    /// `pipeline`, `backup`, `deploy`, `check`, …
    operation: Option<String>,
    /// The pipeline's name, the backup set, the service, …
    target: Option<String>,
    /// `running`, `succeeded`, `failed`, …
    outcome: Option<String>,
}

/// The newest runs, newest first, without their logs.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", security(("token" = ["viewer"])), params(RunsQuery),
    responses((status = 200, body = Vec<crate::state::RunRecord>), (status = 400, body = super::ProblemDocument)))]
async fn runs(_: Caller<Viewer>, State(api): Shared, Params(query): Params<RunsQuery>) -> Result<Response, Problem> {
    let outcome = match query.outcome.as_deref() {
        Some(text) => Some(crate::state::Outcome::from_word(text).ok_or_else(|| Problem::bad_request(format!("outcome {text:?} is not one of: running, waiting, succeeded, failed, skipped, cancelled, interrupted")))?),
        None => None,
    };
    let filter = RunFilter { operation: query.operation, target: query.target, outcome, limit: query.limit.unwrap_or(20).min(500) };
    Ok(json(api.app.state()?.runs(&filter)?))
}

/// One run with its log, and a pipeline run's inputs and steps.
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs", security(("token" = ["viewer"])), params(("id" = i64, Path)),
    responses((status = 200, body = RunShown), (status = 404, body = super::ProblemDocument)))]
async fn run(_: Caller<Viewer>, State(api): Shared, Path(id): Path<String>) -> Result<Response, Problem> {
    let id = run_id(&id)?;
    let state = api.app.state()?;
    let record = state.run(id)?.ok_or_else(|| Problem::not_found(format!("no run {id}; GET /api/v1/runs lists the recent ones")))?;
    let steps = state.pipeline_steps(id)?;
    let inputs = state.pipeline_run(id)?.map(|p| p.inputs);
    Ok(json(RunShown { run: record, inputs, steps }))
}

/// A run, and for a pipeline run its inputs and steps.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct RunShown {
    run: crate::state::RunRecord,
    inputs: Option<Value>,
    steps: Vec<crate::state::StepRecord>,
}

/// Cancels a run this serve started: it winds down as at Ctrl-C (a deploy
/// undoes itself) and is recorded as cancelled.
#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", tag = "runs", security(("token" = ["operator"])), params(("id" = i64, Path)),
    responses((status = 202, body = super::Accepted), (status = 404, description = "Not running in this serve", body = super::ProblemDocument)))]
async fn cancel_run(caller: Caller<Operator>, State(api): Shared, Path(id): Path<String>) -> Result<Response, Problem> {
    let not_running = || Problem::not_found(format!("run {id} is not running in this bosun serve; GET /api/v1/runs/{id} says how it ended"));
    let found = id.parse::<i64>().ok().filter(|run| api.running().get(run).inspect(|c| c.cancel()).is_some()).ok_or_else(not_running);
    let run = api.audited(&caller, found, |run| ("cancelling".into(), Some(*run)))?;
    Ok(accepted(run))
}

#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Decision {
    /// Why: recorded with the decision.
    #[serde(default)]
    message: String,
}

impl RequestBody for Decision {
    const EXAMPLE: &'static str = r#"{"message": "tested in staging"}"#;
}

/// Approves the step a run waits at (`bosun approve`).
#[utoipa::path(post, path = "/api/v1/runs/{id}/approve", tag = "runs", security(("token" = ["operator"])), params(("id" = i64, Path)), request_body = Decision,
    responses((status = 200, body = serde_json::Value), (status = 404, body = super::ProblemDocument), (status = 409, description = "The run waits for no approval", body = super::ProblemDocument)))]
async fn approve_run(caller: Caller<Operator>, api: Shared, id: Path<String>, body: Result<Body<Decision>, Problem>) -> Result<Response, Problem> {
    decide(caller, api, id, body, true)
}

/// Rejects the step a run waits at (`bosun reject`): the step fails.
#[utoipa::path(post, path = "/api/v1/runs/{id}/reject", tag = "runs", security(("token" = ["operator"])), params(("id" = i64, Path)), request_body = Decision,
    responses((status = 200, body = serde_json::Value), (status = 404, body = super::ProblemDocument), (status = 409, description = "The run waits for no approval", body = super::ProblemDocument)))]
async fn reject_run(caller: Caller<Operator>, api: Shared, id: Path<String>, body: Result<Body<Decision>, Problem>) -> Result<Response, Problem> {
    decide(caller, api, id, body, false)
}

/// The decision a run waiting at an `approve` step needs, as `bosun approve`
/// and `bosun reject` give it; recorded with the token's name.
fn decide(caller: Caller<Operator>, State(api): Shared, Path(id): Path<String>, body: Result<Body<Decision>, Problem>, approved: bool) -> Result<Response, Problem> {
    let decided = (|| {
        let Body(request) = body?;
        let run = run_id(&id)?;
        let step = api.app.state()?.decide(run, approved, &request.message, &caller.who())?.map_err(|e| Problem::new(axum::http::StatusCode::CONFLICT, e))?;
        Ok::<_, Problem>((run, step))
    })();
    let verb = if approved { "approved" } else { "rejected" };
    let (run, step) = api.audited(&caller, decided, |(run, step)| (format!("{verb} step {step}"), Some(*run)))?;
    Ok(json(json!({ "run_id": run, "step": step, "approved": approved })))
}
