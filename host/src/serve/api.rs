//! The HTTP API under `/api/v1`: JSON, a bearer token on every route but
//! `/healthz`, errors as RFC 9457 problem documents carrying the CLI's
//! one-line messages. A pipeline started here runs in the background; the
//! answer is `202` with its run id.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::failure::{BAD_INPUT, Failure, LOCKED};
use crate::pipeline::{self, Event, Start};
use crate::state::{Role, TokenRecord};

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/pipelines", get(pipelines))
        .route("/api/v1/pipelines/{name}/runs", post(start_run))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/runs/{id}", get(run))
        .route("/api/v1/tokens", get(tokens))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such route; the API is under /api/v1") })
        .with_state(app)
}

/// An RFC 9457 problem document.
pub struct Problem {
    status: StatusCode,
    detail: String,
}

impl Problem {
    fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem { status, detail: detail.into() }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("error"),
            "status": self.status.as_u16(),
            "detail": crate::secrets::mask(&self.detail),
        });
        (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
    }
}

impl From<Failure> for Problem {
    fn from(failure: Failure) -> Problem {
        let status = match failure.code {
            BAD_INPUT => StatusCode::BAD_REQUEST,
            LOCKED => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Problem::new(status, failure.message)
    }
}

impl From<crate::state::StateError> for Problem {
    fn from(e: crate::state::StateError) -> Problem {
        Failure::from(e).into()
    }
}

/// The caller's token, if it has at least `role`: 401 without a live token,
/// 403 naming the role needed.
fn caller(app: &App, headers: &HeaderMap, role: Role) -> Result<TokenRecord, Problem> {
    let unknown = || Problem::new(StatusCode::UNAUTHORIZED, "missing or unknown token: send `Authorization: Bearer TOKEN` with one from `bosun token create NAME --role viewer`");
    let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).ok_or_else(unknown)?;
    let state = app.state()?;
    let token = state.token(presented.trim())?.ok_or_else(unknown)?;
    if token.role < role {
        return Err(Problem::new(StatusCode::FORBIDDEN, format!("this needs the {} role; token {} has {}", role.as_str(), token.name, token.role.as_str())));
    }
    state.token_used(&token.name)?;
    Ok(token)
}

type Shared = State<Arc<App>>;

async fn pipelines(State(app): Shared, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    caller(&app, &headers, Role::Viewer)?;
    let listed: Vec<Value> = app
        .config
        .pipelines
        .iter()
        .map(|(name, p)| json!({ "name": name, "description": p.description, "steps": p.steps.iter().map(|s| &s.id).collect::<Vec<_>>(), "schedule": p.schedule }))
        .collect();
    Ok(Json(Value::Array(listed)))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    #[serde(default)]
    inputs: serde_json::Map<String, Value>,
}

/// Starts a run of pipeline `name`; `202` with its id once it is recorded.
async fn start_run(State(app): Shared, headers: HeaderMap, Path(name): Path<String>, body: axum::body::Bytes) -> Result<Response, Problem> {
    let token = caller(&app, &headers, Role::Operator)?;
    let pipeline = app.config.pipelines.get(&name).ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, format!("no pipeline called {name}; GET /api/v1/pipelines lists them")))?;
    let request: RunRequest = match body.is_empty() {
        true => RunRequest::default(),
        false => serde_json::from_slice(&body).map_err(|e| Problem::new(StatusCode::BAD_REQUEST, format!("the body is not a run request ({e}); send {{\"inputs\": {{\"version\": \"1.4\"}}}}")))?,
    };
    let given: Vec<String> = request.inputs.into_iter().map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect();
    let inputs = pipeline::inputs::resolve(&name, pipeline, &given)?;
    let (began, started) = tokio::sync::oneshot::channel::<Result<i64, Failure>>();
    // The run has a thread of its own: it outlives this request.
    let by = format!("token {}", token.name);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
        let began = std::sync::Mutex::new(Some(began));
        let observe = |event: Event<'_>| {
            if let (Event::Began { run_id }, Some(tell)) = (event, began.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()) {
                let _ = tell.send(Ok(run_id));
            }
        };
        let ran = runtime.block_on(pipeline::run(&app, Start::New { pipeline: name, inputs, dry_run: false, by: Some(by) }, &observe));
        if let (Err(failure), Some(tell)) = (ran, began.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()) {
            let _ = tell.send(Err(failure));
        }
    });
    let run_id = started.await.map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the run ended before it was recorded"))??;
    Ok((StatusCode::ACCEPTED, Json(json!({ "run_id": run_id, "status": format!("/api/v1/runs/{run_id}") }))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    limit: Option<usize>,
}

async fn runs(State(app): Shared, headers: HeaderMap, Query(query): Query<RunsQuery>) -> Result<Json<Value>, Problem> {
    caller(&app, &headers, Role::Viewer)?;
    let limit = query.limit.unwrap_or(20).min(500);
    Ok(Json(serde_json::to_value(app.state()?.recent_runs(limit)?).expect("runs serialize")))
}

async fn run(State(app): Shared, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>, Problem> {
    caller(&app, &headers, Role::Viewer)?;
    let not_found = || Problem::new(StatusCode::NOT_FOUND, format!("no run {id}; GET /api/v1/runs lists the recent ones"));
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let state = app.state()?;
    let record = state.run(id)?.ok_or_else(not_found)?;
    let steps = state.pipeline_steps(id)?;
    let inputs = state.pipeline_run(id)?.map(|p| p.inputs);
    Ok(Json(json!({ "run": record, "inputs": inputs, "steps": steps })))
}

async fn tokens(State(app): Shared, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    caller(&app, &headers, Role::Admin)?;
    Ok(Json(serde_json::to_value(app.state()?.tokens()?).expect("tokens serialize")))
}
