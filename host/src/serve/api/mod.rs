//! The HTTP API under `/api/v1`: JSON, a bearer token on every route but
//! `/healthz`, errors as RFC 9457 problem documents carrying the CLI's
//! one-line messages. Work that takes a while (a pipeline, a deploy, a
//! backup) runs in the background; the answer is `202` with its run id,
//! and `/api/v1/runs/{id}/events` follows it.
//!
//! `auth` says who may call, `problem` how bad input is answered; the
//! routes are grouped by what they touch: `runs` (pipelines and their
//! runs), `events` (following a run), `tasks` (deploy, rollback, backup,
//! verify), `records` (releases, backups, locks, tokens, audit), `checks`,
//! `system` (images, plugins, the status overview), `metrics`
//! (`/metrics`), `hooks` (signed webhooks under `/hooks`). Each route's
//! handler carries its OpenAPI description; `docs` serves the document
//! (`/api/v1/openapi.json`) and a reference page made from it (`/api/docs`).

mod alerts;
mod auth;
pub mod checks;
mod docs;
mod events;
mod hooks;
mod metrics;
mod problem;
mod records;
pub mod runs;
pub mod session;
mod system;
pub mod tasks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

pub use auth::{Admin, Caller, ClientAddr, Operator, Requester, Viewer, client_addr, enough};
pub use problem::{Body, Params, Problem, RequestBody};

use crate::app::App;
use crate::ops::cancel::{self, Canceller};
use crate::pipeline::{self, Event, Start};
use crate::state::AuditEntry;

/// What every handler shares: the app, who may call, and the runs this
/// serve started.
pub struct Api {
    pub app: Arc<App>,
    guard: auth::Guard,
    /// The runs this serve started and has not seen end, by id.
    running: Mutex<HashMap<i64, Canceller>>,
    scraped: metrics::Scraped,
}

impl Api {
    pub fn new(app: Arc<App>) -> Arc<Api> {
        Arc::new(Api { app, guard: auth::Guard::default(), running: Mutex::new(HashMap::new()), scraped: metrics::Scraped::default() })
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Canceller>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many runs started here are still going.
    pub fn runs_going(&self) -> usize {
        self.running().len()
    }

    /// The live token behind a dashboard session (any role).
    pub fn guard_session(&self, from: std::net::IpAddr, session: &session::Session) -> Result<crate::state::TokenRecord, Problem> {
        self.guard.admit_session(&self.app, from, session, crate::state::Role::Viewer)
    }

    /// The live token the `Authorization` header carries (any role), counted
    /// against the client's failures like any.
    pub fn guard_token(&self, from: std::net::IpAddr, headers: &axum::http::HeaderMap) -> Result<crate::state::TokenRecord, Problem> {
        self.guard.admit(&self.app, from, headers, crate::state::Role::Viewer)
    }

    /// Asks every run started here to stop (each winds down as at Ctrl-C).
    pub fn cancel_all(&self) {
        self.running().values().for_each(Canceller::cancel);
    }

    /// Records `caller`'s mutating request in the audit log with how it
    /// went (`said` tells what a success did, and its run), then answers it.
    pub fn audited<T>(&self, caller: &Requester, done: Result<T, Problem>, said: impl FnOnce(&T) -> (String, Option<i64>)) -> Result<T, Problem> {
        let (outcome, run) = match &done {
            Ok(value) => said(value),
            Err(problem) => (problem.detail.clone(), None),
        };
        let entry = AuditEntry::now(caller.who(), "api", caller.action.clone(), caller.from.to_string(), outcome, run);
        self.app.state()?.record_audit(&entry)?;
        done
    }

    /// Starts `start` on a thread of its own (it outlives the request, and
    /// bosun's pipeline code is not `Send`); its run id once it is recorded.
    pub async fn spawn_run(self: &Arc<Api>, start: Start) -> Result<i64, Problem> {
        let (api, app) = (self.clone(), self.app.clone());
        let (began, started) = tokio::sync::oneshot::channel::<Result<i64, crate::failure::Failure>>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
            let began = Mutex::new(Some(began));
            let (canceller, stop) = cancel::pair();
            let canceller = Mutex::new(Some(canceller));
            let id = Mutex::new(None);
            let observe = |event: Event<'_>| {
                if let (Event::Began { run_id }, Some(tell)) = (event, began.lock().unwrap_or_else(PoisonError::into_inner).take()) {
                    if let Some(canceller) = canceller.lock().unwrap_or_else(PoisonError::into_inner).take() {
                        api.running().insert(run_id, canceller);
                    }
                    *id.lock().unwrap_or_else(PoisonError::into_inner) = Some(run_id);
                    let _ = tell.send(Ok(run_id));
                }
            };
            let ran = runtime.block_on(pipeline::run_until(&app, start, &observe, stop));
            if let Some(run_id) = *id.lock().unwrap_or_else(PoisonError::into_inner) {
                api.running().remove(&run_id);
            }
            if let (Err(failure), Some(tell)) = (ran, began.lock().unwrap_or_else(PoisonError::into_inner).take()) {
                let _ = tell.send(Err(failure));
            }
        });
        Ok(started.await.map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the run ended before it was recorded"))??)
    }
}

pub fn router(api: Arc<Api>) -> Router {
    let (routes, openapi) = documented().split_for_parts();
    routes
        .route("/healthz", get(|| async { "ok" }))
        .merge(docs::routes(openapi))
        .fallback(|| async { Problem::not_found("no such route; the API is under /api/v1") })
        .with_state(api)
}

/// Every documented route, with the OpenAPI document their handlers describe.
fn documented() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::with_openapi(docs::base())
        .merge(runs::routes())
        .merge(alerts::routes())
        .merge(events::routes())
        .merge(tasks::routes())
        .merge(records::routes())
        .merge(checks::routes())
        .merge(system::routes())
        .merge(metrics::routes())
        .merge(hooks::routes())
}

/// The answer to a request that started a run in the background.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub run_id: i64,
    /// Where the run is shown.
    pub status: String,
    /// Where its events stream.
    pub events: String,
}

/// An RFC 9457 problem document, as every error is answered.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ProblemDocument {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's name (`Not Found`).
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do, in one line: the CLI's message.
    pub detail: String,
}

/// `work` on a thread of its own (bosun's async code is not `Send`), awaited.
pub async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Problem> {
    let (tell, answer) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tell.send(work());
    });
    answer.await.map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the work ended without an answer"))
}

/// `work` (async, not `Send`) on a thread of its own with its own runtime, awaited.
pub async fn off_thread_async<T: Send + 'static, F: std::future::Future<Output = T>>(work: impl FnOnce() -> F + Send + 'static) -> Result<T, Problem> {
    off_thread(move || tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime").block_on(work())).await
}

/// A JSON answer, every string in it masked (a check's report can quote a
/// secret; masking the serialized text would miss one JSON escapes).
pub fn json(value: impl serde::Serialize) -> axum::response::Response {
    use axum::response::IntoResponse;
    ([(axum::http::header::CONTENT_TYPE, "application/json")], crate::secrets::masked_json_line(&value)).into_response()
}

/// The 202 answer for a run started in the background.
fn accepted(run_id: i64) -> axum::response::Response {
    use axum::response::IntoResponse;
    let answer = Accepted { run_id, status: format!("/api/v1/runs/{run_id}"), events: format!("/api/v1/runs/{run_id}/events") };
    (StatusCode::ACCEPTED, axum::Json(answer)).into_response()
}

/// A run id from a path: 404 for anything but a number.
fn run_id(id: &str) -> Result<i64, Problem> {
    id.parse().map_err(|_| Problem::not_found(format!("no run {id}; GET /api/v1/runs lists the recent ones")))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn answers_are_masked_even_where_json_escapes_a_secret() {
        let secret = "pa\"ss\\word-in-an-answer";
        crate::secrets::register(secret);
        let answer = super::json(serde_json::json!({ "summary": format!("login with {secret} refused") }));
        let body = axum::body::to_bytes(answer.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("login with") && !text.contains("pa\\\"ss"), "{text}");
    }
}
