//! What bosun has recorded: releases, backups, locks, tokens, the audit
//! log; and the admin's one change here, releasing a lock.

use std::sync::Arc;

use axum::response::Response;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use serde_json::json;

use super::{Admin, Api, Caller, Params, Problem, Viewer, json};
use crate::state::now_unix;

pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new()
        .routes(routes!(releases))
        .routes(routes!(backups))
        .routes(routes!(backup))
        .routes(routes!(locks))
        .routes(routes!(release_lock))
        .routes(routes!(tokens))
        .routes(routes!(audit))
}

type Shared = State<Arc<Api>>;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReleasesQuery {
    service: Option<String>,
}

/// The releases of this environment, oldest first.
#[utoipa::path(get, path = "/api/v1/releases", tag = "releases", security(("token" = ["viewer"])), params(ReleasesQuery),
    responses((status = 200, body = Vec<crate::state::ReleaseRecord>), (status = 404, body = super::ProblemDocument)))]
async fn releases(_: Caller<Viewer>, State(api): Shared, Params(query): Params<ReleasesQuery>) -> Result<Response, Problem> {
    let app = &api.app;
    if let Some(name) = &query.service {
        crate::ops::deploy::service(app, name).map_err(|f| Problem::not_found(f.message))?;
    }
    Ok(json(app.state()?.releases(query.service.as_deref(), &app.config.project.env)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct BackupsQuery {
    set: Option<String>,
}

/// The recorded backups.
#[utoipa::path(get, path = "/api/v1/backups", tag = "backups", security(("token" = ["viewer"])), params(BackupsQuery),
    responses((status = 200, body = Vec<crate::state::BackupRecord>), (status = 404, body = super::ProblemDocument)))]
async fn backups(_: Caller<Viewer>, State(api): Shared, Params(query): Params<BackupsQuery>) -> Result<Response, Problem> {
    if let Some(set) = &query.set {
        crate::ops::backup::set_config(&api.app, set).map_err(|f| Problem::not_found(f.message))?;
    }
    Ok(json(api.app.state()?.backups(query.set.as_deref())?))
}

/// One recorded backup.
#[utoipa::path(get, path = "/api/v1/backups/{id}", tag = "backups", security(("token" = ["viewer"])), params(("id" = String, Path)),
    responses((status = 200, body = crate::state::BackupRecord), (status = 404, body = super::ProblemDocument)))]
async fn backup(_: Caller<Viewer>, State(api): Shared, Path(id): Path<String>) -> Result<Response, Problem> {
    let found = api.app.state()?.backup(&id)?.ok_or_else(|| Problem::not_found(format!("no backup {id}; GET /api/v1/backups lists them")))?;
    Ok(json(found))
}

/// The service locks held now.
#[utoipa::path(get, path = "/api/v1/locks", tag = "locks", security(("token" = ["viewer"])), responses((status = 200, body = Vec<crate::state::Lock>)))]
async fn locks(_: Caller<Viewer>, State(api): Shared) -> Result<Response, Problem> {
    Ok(json(api.app.state()?.locks()?))
}

/// Releases a service's lock, whoever holds it (as `bosun lock release`).
#[utoipa::path(delete, path = "/api/v1/locks/{service}", tag = "locks", security(("token" = ["admin"])), params(("service" = String, Path)),
    responses((status = 200, body = serde_json::Value), (status = 404, body = super::ProblemDocument)))]
async fn release_lock(caller: Caller<Admin>, State(api): Shared, Path(service): Path<String>) -> Result<Response, Problem> {
    let released = (|| {
        crate::ops::deploy::service(&api.app, &service).map_err(|f| Problem::not_found(f.message))?;
        let scope = format!("{service}@{}", api.app.config.project.env);
        api.app.state()?.release_lock(&scope)?.ok_or_else(|| Problem::not_found(format!("{scope} is not locked")))
    })();
    let lock = api.audited(&caller, released, |lock| (format!("released {} (held by {}@{})", lock.scope, lock.holder, lock.host), None))?;
    Ok(json(json!({ "released": lock })))
}

/// The API tokens (never their values or hashes).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "admin", security(("token" = ["admin"])), responses((status = 200, body = Vec<crate::state::TokenRecord>)))]
async fn tokens(_: Caller<Admin>, State(api): Shared) -> Result<Response, Problem> {
    Ok(json(api.app.state()?.tokens()?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Seconds since the Unix epoch (default: a week ago).
    since: Option<i64>,
}

/// The audit log since a time, oldest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "admin", security(("token" = ["admin"])), params(AuditQuery),
    responses((status = 200, body = Vec<crate::state::AuditEntry>), (status = 400, body = super::ProblemDocument)))]
async fn audit(_: Caller<Admin>, State(api): Shared, Params(query): Params<AuditQuery>) -> Result<Response, Problem> {
    let since = query.since.unwrap_or_else(|| now_unix() - 7 * 86_400);
    Ok(json(api.app.state()?.audit(since)?))
}
