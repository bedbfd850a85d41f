//! The HTTP API under `/api/v1`: JSON, a bearer token on every route but
//! `/healthz`, errors as RFC 9457 problem documents carrying the CLI's
//! one-line messages. A pipeline started here runs in the background; the
//! answer is `202` with its run id.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::failure::{BAD_INPUT, Failure, LOCKED};
use crate::ops::cancel::{self, Canceller};
use crate::pipeline::{self, Event, Start};
use crate::state::{AuditEntry, Role, TokenRecord, now_unix};

/// What every handler shares: the app, and the failed token attempts per
/// client address (too many in a minute are refused before any lookup).
pub struct Api {
    app: Arc<App>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    /// The runs this serve started and has not seen end, by id.
    running: Mutex<HashMap<i64, Canceller>>,
}

/// Failed token attempts a client may make in [`FAILURE_WINDOW`].
const MAX_FAILURES: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

impl Api {
    pub fn new(app: Arc<App>) -> Arc<Api> {
        Arc::new(Api { app, failures: Mutex::new(HashMap::new()), running: Mutex::new(HashMap::new()) })
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Canceller>> {
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many runs started here are still going.
    pub fn runs_going(&self) -> usize {
        self.running().len()
    }

    /// The audit entry of a mutating request `token` made from `from`.
    fn audit(&self, token: &TokenRecord, from: IpAddr, action: String, outcome: String, run: Option<i64>) -> Result<(), Problem> {
        let entry = AuditEntry::now(format!("token {}", token.name), "api", action, from.to_string(), outcome, run);
        Ok(self.app.state()?.record_audit(&entry)?)
    }

    /// Asks every run started here to stop (each winds down as at Ctrl-C).
    pub fn cancel_all(&self) {
        self.running().values().for_each(Canceller::cancel);
    }
}

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/pipelines", get(pipelines))
        .route("/api/v1/pipelines/{name}/runs", post(start_run))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/runs/{id}", get(run))
        .route("/api/v1/runs/{id}/cancel", post(cancel_run))
        .route("/api/v1/runs/{id}/approve", post(approve_run))
        .route("/api/v1/runs/{id}/reject", post(reject_run))
        .route("/api/v1/releases", get(releases))
        .route("/api/v1/backups", get(backups))
        .route("/api/v1/locks", get(locks))
        .route("/api/v1/checks", get(checks))
        .route("/api/v1/checks/run", post(run_checks))
        .route("/api/v1/tokens", get(tokens))
        .route("/api/v1/audit", get(audit))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such route; the API is under /api/v1") })
        .with_state(api)
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

impl Api {
    /// The caller's token, if it has at least `role`: 401 without a live
    /// token, 403 naming the role needed, 429 after too many failures.
    fn caller(&self, from: IpAddr, headers: &HeaderMap, role: Role) -> Result<TokenRecord, Problem> {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.retain(|_, (_, first)| first.elapsed() < FAILURE_WINDOW);
        if failures.get(&from).is_some_and(|(count, _)| *count >= MAX_FAILURES) {
            return Err(Problem::new(StatusCode::TOO_MANY_REQUESTS, format!("too many unknown tokens from {from}; wait a minute")));
        }
        let found = token_of(&self.app, headers, role);
        if matches!(&found, Err(p) if p.status == StatusCode::UNAUTHORIZED) {
            failures.entry(from).or_insert((0, Instant::now())).0 += 1;
        }
        found
    }
}

fn token_of(app: &App, headers: &HeaderMap, role: Role) -> Result<TokenRecord, Problem> {
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

/// A query string as `T`; a bad one is a 400 problem naming the parameter.
struct Params<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(e) => Err(Problem::new(StatusCode::BAD_REQUEST, format!("the query string: {}", e.body_text()))),
        }
    }
}

type Shared = State<Arc<Api>>;
type Client = ConnectInfo<SocketAddr>;

async fn pipelines(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    api.caller(from.ip(), &headers, Role::Viewer)?;
    let app = &api.app;
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
async fn start_run(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap, Path(name): Path<String>, body: axum::body::Bytes) -> Result<Response, Problem> {
    let token = api.caller(from.ip(), &headers, Role::Operator)?;
    let action = format!("POST /api/v1/pipelines/{name}/runs");
    let started = start(&api, &token, name, &body).await;
    let outcome = match &started {
        Ok(run_id) => (format!("accepted: run {run_id}"), Some(*run_id)),
        Err(problem) => (problem.detail.clone(), None),
    };
    api.audit(&token, from.ip(), action, outcome.0, outcome.1)?;
    let run_id = started?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "run_id": run_id, "status": format!("/api/v1/runs/{run_id}") }))).into_response())
}

/// Starts a run of pipeline `name` for `token`; its id once it is recorded.
async fn start(api: &Arc<Api>, token: &TokenRecord, name: String, body: &[u8]) -> Result<i64, Problem> {
    let (api, app) = (api.clone(), api.app.clone());
    let pipeline = app.config.pipelines.get(&name).ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, format!("no pipeline called {name}; GET /api/v1/pipelines lists them")))?;
    let request: RunRequest = parse_body(body, r#"{"inputs": {"version": "1.4"}}"#)?;
    let given: Vec<String> = request.inputs.into_iter().map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect();
    let inputs = pipeline::inputs::resolve(&name, pipeline, &given)?;
    let (began, started) = tokio::sync::oneshot::channel::<Result<i64, Failure>>();
    // The run has a thread of its own: it outlives this request.
    let by = format!("token {}", token.name);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
        let began = Mutex::new(Some(began));
        let (canceller, stop) = cancel::pair();
        let canceller = Mutex::new(Some(canceller));
        let id = Mutex::new(None);
        let observe = |event: Event<'_>| {
            if let (Event::Began { run_id }, Some(tell)) = (event, began.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()) {
                if let Some(canceller) = canceller.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
                    api.running().insert(run_id, canceller);
                }
                *id.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(run_id);
                let _ = tell.send(Ok(run_id));
            }
        };
        let ran = runtime.block_on(pipeline::run_until(&app, Start::New { pipeline: name, inputs, dry_run: false, by: Some(by) }, &observe, stop));
        if let Some(run_id) = *id.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
            api.running().remove(&run_id);
        }
        if let (Err(failure), Some(tell)) = (ran, began.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()) {
            let _ = tell.send(Err(failure));
        }
    });
    Ok(started.await.map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the run ended before it was recorded"))??)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    limit: Option<usize>,
}

async fn runs(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap, Params(query): Params<RunsQuery>) -> Result<Json<Value>, Problem> {
    api.caller(from.ip(), &headers, Role::Viewer)?;
    let app = &api.app;
    let limit = query.limit.unwrap_or(20).min(500);
    Ok(Json(serde_json::to_value(app.state()?.recent_runs(limit)?).expect("runs serialize")))
}

async fn run(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>, Problem> {
    api.caller(from.ip(), &headers, Role::Viewer)?;
    let app = &api.app;
    let not_found = || Problem::new(StatusCode::NOT_FOUND, format!("no run {id}; GET /api/v1/runs lists the recent ones"));
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let state = app.state()?;
    let record = state.run(id)?.ok_or_else(not_found)?;
    let steps = state.pipeline_steps(id)?;
    let inputs = state.pipeline_run(id)?.map(|p| p.inputs);
    Ok(Json(json!({ "run": record, "inputs": inputs, "steps": steps })))
}

/// Cancels a run this serve started: it winds down as at Ctrl-C (a deploy
/// undoes itself) and is recorded as cancelled.
async fn cancel_run(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, Problem> {
    let token = api.caller(from.ip(), &headers, Role::Operator)?;
    let not_running = || Problem::new(StatusCode::NOT_FOUND, format!("run {id} is not running in this bosun serve; GET /api/v1/runs/{id} says how it ended"));
    let found = id.parse::<i64>().ok().filter(|run| api.running().get(run).inspect(|c| c.cancel()).is_some());
    let outcome = if found.is_some() { "cancelling".to_string() } else { not_running().detail };
    api.audit(&token, from.ip(), format!("POST /api/v1/runs/{id}/cancel"), outcome, found)?;
    let run = found.ok_or_else(not_running)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "run_id": run, "status": format!("/api/v1/runs/{run}") }))).into_response())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    /// Why: recorded with the decision.
    #[serde(default)]
    message: String,
}

async fn approve_run(api: Shared, from: Client, headers: HeaderMap, id: Path<String>, body: axum::body::Bytes) -> Result<Json<Value>, Problem> {
    decide(api, from, headers, id, body, true).await
}

async fn reject_run(api: Shared, from: Client, headers: HeaderMap, id: Path<String>, body: axum::body::Bytes) -> Result<Json<Value>, Problem> {
    decide(api, from, headers, id, body, false).await
}

/// The decision a run waiting at an `approve` step needs, as `bosun approve`
/// and `bosun reject` give it; recorded with the token's name.
async fn decide(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap, Path(id): Path<String>, body: axum::body::Bytes, approved: bool) -> Result<Json<Value>, Problem> {
    let token = api.caller(from.ip(), &headers, Role::Operator)?;
    let verb = if approved { "approve" } else { "reject" };
    let by = format!("token {}", token.name);
    let decided = async {
        let request: Decision = parse_body(&body, r#"{"message": "tested in staging"}"#)?;
        let run: i64 = id.parse().map_err(|_| Problem::new(StatusCode::NOT_FOUND, format!("no run {id}")))?;
        let step = api.app.state()?.decide(run, approved, &request.message, &by)?.map_err(|e| Problem::new(StatusCode::CONFLICT, e))?;
        Ok::<_, Problem>((run, step))
    }
    .await;
    let outcome = match &decided {
        Ok((_, step)) => format!("{verb}d step {step}"),
        Err(problem) => problem.detail.clone(),
    };
    let run = decided.as_ref().ok().map(|(run, _)| *run);
    api.audit(&token, from.ip(), format!("POST /api/v1/runs/{id}/{verb}"), outcome, run)?;
    let (run, step) = decided?;
    Ok(Json(json!({ "run_id": run, "step": step, "approved": approved })))
}

async fn tokens(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    api.caller(from.ip(), &headers, Role::Admin)?;
    Ok(Json(serde_json::to_value(api.app.state()?.tokens()?).expect("tokens serialize")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleasesQuery {
    service: Option<String>,
}

async fn releases(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap, Params(query): Params<ReleasesQuery>) -> Result<Json<Value>, Problem> {
    api.caller(from.ip(), &headers, Role::Viewer)?;
    let app = &api.app;
    if let Some(name) = &query.service {
        crate::ops::deploy::service(app, name).map_err(|f| Problem::new(StatusCode::NOT_FOUND, f.message))?;
    }
    let releases = app.state()?.releases(query.service.as_deref(), &app.config.project.env)?;
    Ok(Json(serde_json::to_value(releases).expect("releases serialize")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupsQuery {
    set: Option<String>,
}

async fn backups(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap, Params(query): Params<BackupsQuery>) -> Result<Json<Value>, Problem> {
    api.caller(from.ip(), &headers, Role::Viewer)?;
    if let Some(set) = &query.set {
        crate::ops::backup::set_config(&api.app, set).map_err(|f| Problem::new(StatusCode::NOT_FOUND, f.message))?;
    }
    Ok(Json(serde_json::to_value(api.app.state()?.backups(query.set.as_deref())?).expect("backups serialize")))
}

async fn locks(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    api.caller(from.ip(), &headers, Role::Viewer)?;
    Ok(Json(serde_json::to_value(api.app.state()?.locks()?).expect("locks serialize")))
}

async fn checks(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    api.caller(from.ip(), &headers, Role::Viewer)?;
    let config = &api.app.config;
    let listed: Vec<Value> = config.checks.iter().map(|(name, c)| json!({ "name": name, "plugin": crate::ops::check::plugin_of(c) })).collect();
    Ok(Json(json!({ "checks": listed, "suites": config.suites })))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecksRequest {
    /// Checks or suites (default: every check).
    #[serde(default)]
    names: Vec<String>,
}

/// Runs checks now, as `bosun check` does, and answers their reports.
async fn run_checks(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap, body: axum::body::Bytes) -> Result<Json<Value>, Problem> {
    use crate::ops::check;
    let token = api.caller(from.ip(), &headers, Role::Operator)?;
    let app = &api.app;
    let request: Result<ChecksRequest, Problem> = parse_body(&body, r#"{"names": ["home"]}"#);
    let shared = app.clone();
    // bosun's check code is not `Send`: it runs on a thread of its own.
    let answer = match request {
        Err(problem) => Err(problem),
        Ok(request) => off_thread(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(async {
                let selected = check::select(&shared, &request.names).map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e))?;
                check::validate(&shared, &selected).await.map_err(|problems| Problem::new(StatusCode::BAD_REQUEST, problems.join("; ")))?;
                let reports = check::run_suite(&shared, &selected, check::DEFAULT_JOBS, false).await;
                let failed = reports.iter().filter(|r| r.failed_check()).count();
                Ok::<_, Problem>((failed, json!({ "passed": failed == 0, "reports": reports })))
            })
        })
        .await
        .and_then(|answer| answer),
    };
    let outcome = match &answer {
        Ok((0, _)) => "ok".to_string(),
        Ok((failed, _)) => format!("{failed} check(s) failed"),
        Err(problem) => problem.detail.clone(),
    };
    api.audit(&token, from.ip(), "POST /api/v1/checks/run".into(), outcome, None)?;
    Ok(Json(answer?.1))
}

/// `work` on a thread of its own (bosun's async code is not `Send`), awaited.
async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Problem> {
    let (tell, answer) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tell.send(work());
    });
    answer.await.map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the work ended without an answer"))
}

/// A JSON body as `T` (empty: `T`'s default); 400 showing `example` otherwise.
fn parse_body<T: Default + serde::de::DeserializeOwned>(body: &[u8], example: &str) -> Result<T, Problem> {
    match body.is_empty() {
        true => Ok(T::default()),
        false => serde_json::from_slice(body).map_err(|e| Problem::new(StatusCode::BAD_REQUEST, format!("the body is not what this route takes ({e}); send e.g. {example}"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// Seconds since the Unix epoch (default: a week ago).
    since: Option<i64>,
}

async fn audit(State(api): Shared, ConnectInfo(from): Client, headers: HeaderMap, Params(query): Params<AuditQuery>) -> Result<Json<Value>, Problem> {
    api.caller(from.ip(), &headers, Role::Admin)?;
    let since = query.since.unwrap_or_else(|| now_unix() - 7 * 86_400);
    Ok(Json(serde_json::to_value(api.app.state()?.audit(since)?).expect("audit serializes")))
}
