//! Work that changes things and takes a while: deploy, rollback, back up,
//! verify. Each is checked (the service, set or backup exists) and then
//! runs in the background as a task (see `pipeline::Task`): `202` with its
//! run id, followed at `/api/v1/runs/{id}/events`, cancelled like any run.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Api, Body, Caller, Operator, Problem, RequestBody, Requester, accepted};
use crate::pipeline::{Start, Task};

pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(deploy)).routes(routes!(rollback)).routes(routes!(back_up)).routes(routes!(verify))
}

type Shared = State<Arc<Api>>;

#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DeployRequest {
    /// Default: `services.<name>.version`.
    version: Option<String>,
    #[serde(default)]
    message: String,
    /// Recreate even when this version runs with the same image and config.
    #[serde(default)]
    force: bool,
    /// Only these of the service's hosts (default: all of them).
    #[serde(default)]
    hosts: Vec<String>,
    /// Only the hosts whose current release is this version.
    from: Option<String>,
}

impl RequestBody for DeployRequest {
    const EXAMPLE: &'static str = r#"{"version": "1.4", "message": "fixes the login page"}"#;
}

/// Deploys a version of `service` (as `bosun deploy`), in the background.
#[utoipa::path(post, path = "/api/v1/services/{service}/deploy", tag = "releases", security(("token" = ["operator"])), params(("service" = String, Path)), request_body = DeployRequest,
    responses((status = 202, body = super::Accepted), (status = 400, body = super::ProblemDocument), (status = 404, body = super::ProblemDocument)))]
async fn deploy(caller: Caller<Operator>, State(api): Shared, Path(service): Path<String>, body: Result<Body<DeployRequest>, Problem>) -> Result<Response, Problem> {
    let task = (|| {
        known_service(&api, &service)?;
        let Body(request) = body?;
        Ok(Task::Deploy { service: service.clone(), version: request.version, message: request.message, force: request.force, hosts: request.hosts, from: request.from })
    })();
    start(&api, &caller, task).await
}

#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    /// The version to go back to (default: the release before the current one).
    to: Option<String>,
    #[serde(default)]
    message: String,
    /// Only these of the service's hosts (default: all of them).
    #[serde(default)]
    hosts: Vec<String>,
}

impl RequestBody for RollbackRequest {
    const EXAMPLE: &'static str = r#"{"to": "1.3", "message": "1.4 breaks checkout"}"#;
}

/// Rolls `service` back (as `bosun rollback`), in the background.
#[utoipa::path(post, path = "/api/v1/services/{service}/rollback", tag = "releases", security(("token" = ["operator"])), params(("service" = String, Path)), request_body = RollbackRequest,
    responses((status = 202, body = super::Accepted), (status = 400, body = super::ProblemDocument), (status = 404, body = super::ProblemDocument)))]
async fn rollback(caller: Caller<Operator>, State(api): Shared, Path(service): Path<String>, body: Result<Body<RollbackRequest>, Problem>) -> Result<Response, Problem> {
    let task = (|| {
        known_service(&api, &service)?;
        let Body(request) = body?;
        Ok(Task::Rollback { service: service.clone(), to: request.to, message: request.message, hosts: request.hosts })
    })();
    start(&api, &caller, task).await
}

fn known_service(api: &Api, service: &str) -> Result<(), Problem> {
    crate::ops::deploy::service(&api.app, service).map(|_| ()).map_err(|f| Problem::not_found(f.message))
}

#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BackupRequest {
    set: String,
}

impl RequestBody for BackupRequest {
    const EXAMPLE: &'static str = r#"{"set": "db"}"#;
}

/// Backs up a set now (as `bosun backup run`), in the background.
#[utoipa::path(post, path = "/api/v1/backups", tag = "backups", security(("token" = ["operator"])), request_body = BackupRequest,
    responses((status = 202, body = super::Accepted), (status = 400, body = super::ProblemDocument), (status = 404, body = super::ProblemDocument)))]
async fn back_up(caller: Caller<Operator>, State(api): Shared, body: Result<Body<BackupRequest>, Problem>) -> Result<Response, Problem> {
    let task = (|| {
        let Body(request) = body?;
        if request.set.is_empty() {
            return Err(Problem::bad_request(format!("name the backup set; send e.g. {}", BackupRequest::EXAMPLE)));
        }
        crate::ops::backup::set_config(&api.app, &request.set).map_err(|f| Problem::not_found(f.message))?;
        Ok(Task::Backup { set: request.set })
    })();
    start(&api, &caller, task).await
}

#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    /// Also restore it into a scratch directory and compare.
    #[serde(default)]
    restore_test: bool,
}

impl RequestBody for VerifyRequest {
    const EXAMPLE: &'static str = r#"{"restore_test": true}"#;
}

/// Verifies a recorded backup (as `bosun backup verify`), in the background.
#[utoipa::path(post, path = "/api/v1/backups/{id}/verify", tag = "backups", security(("token" = ["operator"])), params(("id" = String, Path)), request_body = VerifyRequest,
    responses((status = 202, body = super::Accepted), (status = 400, body = super::ProblemDocument), (status = 404, body = super::ProblemDocument)))]
async fn verify(caller: Caller<Operator>, State(api): Shared, Path(id): Path<String>, body: Result<Body<VerifyRequest>, Problem>) -> Result<Response, Problem> {
    let task = (|| {
        // Only a recorded backup: the CLI also takes a directory, the API never a path.
        api.app.state()?.backup(&id)?.ok_or_else(|| Problem::not_found(format!("no backup {id}; GET /api/v1/backups lists them")))?;
        let Body(request) = body?;
        Ok(Task::Verify { backup: id.clone(), restore_test: request.restore_test })
    })();
    start(&api, &caller, task).await
}

/// Starts `task` for `caller` (audited); `202` with its run id.
async fn start(api: &Arc<Api>, caller: &Requester, task: Result<Task, Problem>) -> Result<Response, Problem> {
    Ok(accepted(start_task(api, caller, task).await?))
}

/// Starts `task` for `caller` (audited); its run id. The dashboard's forms
/// start tasks through this too.
pub async fn start_task(api: &Arc<Api>, caller: &Requester, task: Result<Task, Problem>) -> Result<i64, Problem> {
    let started = match task {
        Ok(task) => api.spawn_run(Start::Task { task, by: caller.who() }).await,
        Err(problem) => Err(problem),
    };
    api.audited(caller, started, |id| (format!("accepted: run {id}"), Some(*id)))
}
