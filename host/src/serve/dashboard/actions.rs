//! The dashboard's forms: run a pipeline, roll back, back up now, verify,
//! run the checks. Each needs the session's CSRF token and the operator
//! role, goes through the API's own code (audited, recorded), and leads to
//! the run's page, or to the failure page saying why not.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;

use super::{Signed, failure};
use crate::pipeline::Task;
use crate::serve::api::{Api, Problem, checks, runs, tasks};
use crate::state::Role;

pub fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/ui/pipelines/{name}/run", post(run_pipeline))
        .route("/ui/services/{service}/rollback", post(rollback))
        .route("/ui/backups", post(back_up))
        .route("/ui/backups/{id}/verify", post(verify))
        .route("/ui/checks/run", post(run_checks))
}

type Shared = State<Arc<Api>>;
/// A form's fields by name (`csrf`, `input.version`, `to`, `set`).
type Fields = Form<HashMap<String, String>>;

/// The form's CSRF token and the operator role, or why not.
fn allowed(signed: &Signed, fields: &HashMap<String, String>) -> Result<(), Problem> {
    signed.check_form(fields.get("csrf").map_or("", String::as_str))?;
    signed.needs(Role::Operator)
}

/// The run's page once it started; the failure page if it did not.
fn to_run(signed: &Signed, started: Result<i64, Problem>) -> Response {
    match started {
        Ok(run) => Redirect::to(&format!("/runs/{run}")).into_response(),
        Err(problem) => failure(signed, problem),
    }
}

async fn run_pipeline(signed: Signed, State(api): Shared, Path(name): Path<String>, Form(fields): Fields) -> Response {
    if let Err(problem) = allowed(&signed, &fields) {
        return failure(&signed, problem);
    }
    let given: Vec<String> = fields.iter().filter_map(|(key, value)| Some(format!("{}={value}", key.strip_prefix("input.")?))).collect();
    to_run(&signed, runs::start_pipeline(&api, &signed.by, &name, Ok(given)).await)
}

async fn rollback(signed: Signed, State(api): Shared, Path(service): Path<String>, Form(fields): Fields) -> Response {
    if let Err(problem) = allowed(&signed, &fields) {
        return failure(&signed, problem);
    }
    let task = crate::ops::deploy::service(&api.app, &service)
        .map_err(|f| Problem::not_found(f.message))
        .map(|_| Task::Rollback { service: service.clone(), to: fields.get("to").filter(|t| !t.is_empty()).cloned(), message: "from the dashboard".into(), hosts: vec![] });
    to_run(&signed, tasks::start_task(&api, &signed.by, task).await)
}

async fn back_up(signed: Signed, State(api): Shared, Form(fields): Fields) -> Response {
    if let Err(problem) = allowed(&signed, &fields) {
        return failure(&signed, problem);
    }
    let set = fields.get("set").cloned().unwrap_or_default();
    let task = crate::ops::backup::set_config(&api.app, &set).map_err(|f| Problem::not_found(f.message)).map(|_| Task::Backup { set });
    to_run(&signed, tasks::start_task(&api, &signed.by, task).await)
}

async fn verify(signed: Signed, State(api): Shared, Path(id): Path<String>, Form(fields): Fields) -> Response {
    if let Err(problem) = allowed(&signed, &fields) {
        return failure(&signed, problem);
    }
    let recorded = api.app.state().map_err(Problem::from).and_then(|s| s.backup(&id).map_err(Problem::from));
    let task = recorded.and_then(|found| found.ok_or_else(|| Problem::not_found(format!("no backup {id}")))).map(|_| Task::Verify { backup: id.clone(), restore_test: false });
    to_run(&signed, tasks::start_task(&api, &signed.by, task).await)
}

async fn run_checks(signed: Signed, State(api): Shared, Form(fields): Fields) -> Response {
    if let Err(problem) = allowed(&signed, &fields) {
        return failure(&signed, problem);
    }
    match checks::run_now(&api, &signed.by, Ok(Vec::new())).await {
        Ok(_) => Redirect::to("/checks").into_response(),
        Err(problem) => failure(&signed, problem),
    }
}
