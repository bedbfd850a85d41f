//! Alerts: the ones that fire and the silences in force (viewer), and
//! silencing or unsilencing a rule (operator), as `bosun alert` does.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Api, Body, Caller, Operator, Problem, RequestBody, Viewer, json};
use crate::ops::alerts;
use crate::state::now_unix;

pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(silence)).routes(routes!(unsilence))
}

type Shared = State<Arc<Api>>;

/// The alerts that fire now and the silences in force.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("token" = ["viewer"])), responses((status = 200, body = serde_json::Value)))]
async fn list(_: Caller<Viewer>, State(api): Shared) -> Result<Response, Problem> {
    let state = api.app.state()?;
    Ok(json(json!({ "firing": state.firing_alerts()?, "silences": state.silences(now_unix())? })))
}

#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SilenceRequest {
    /// The `[alerts.<rule>]` (or `engine-unreachable`).
    rule: String,
    /// Only this target of it.
    target: Option<String>,
    /// How long, e.g. `2h`.
    #[serde(rename = "for")]
    duration: String,
    /// Why.
    message: String,
}

impl RequestBody for SilenceRequest {
    const EXAMPLE: &'static str = r#"{"rule": "web-down", "for": "2h", "message": "moving the database"}"#;
}

/// Holds the telling of a rule's alerts back for a while (they still fire and resolve).
#[utoipa::path(post, path = "/api/v1/alerts/silences", tag = "alerts", security(("token" = ["operator"])), request_body = SilenceRequest,
    responses((status = 200, body = crate::state::Silence), (status = 400, body = super::ProblemDocument)))]
async fn silence(caller: Caller<Operator>, State(api): Shared, body: Result<Body<SilenceRequest>, Problem>) -> Result<Response, Problem> {
    let made = body.and_then(|Body(r)| Ok(alerts::silence(&api.app, &r.rule, r.target.as_deref(), &r.duration, &r.message, &caller.who())?));
    let silence = api.audited(&caller, made, |s| (format!("silence {}: {} until {}", s.id, s.rule, crate::time::rfc3339(s.until.max(0) as u64)), None))?;
    Ok(json(silence))
}

/// Ends a silence now.
#[utoipa::path(delete, path = "/api/v1/alerts/silences/{id}", tag = "alerts", security(("token" = ["operator"])), params(("id" = i64, Path)),
    responses((status = 200, body = serde_json::Value), (status = 400, body = super::ProblemDocument)))]
async fn unsilence(caller: Caller<Operator>, State(api): Shared, Path(id): Path<i64>) -> Result<Response, Problem> {
    let ended = alerts::unsilence(&api.app, id).map_err(Problem::from);
    api.audited(&caller, ended, |()| (format!("silence {id} ended"), None))?;
    Ok(json(json!({ "expired": id })))
}
