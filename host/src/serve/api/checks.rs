//! Checks: which there are (with each one's last result), the last results,
//! and running them now as `bosun check` does.

use std::sync::Arc;

use axum::response::Response;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use serde_json::{Value, json};

use super::{Api, Body, Caller, Operator, Problem, RequestBody, Requester, Viewer, json, off_thread_async};
use crate::ops::check;

pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(checks)).routes(routes!(results)).routes(routes!(run_checks))
}

type Shared = State<Arc<Api>>;

/// The checks and suites in bosun.toml, each check with its last result.
#[utoipa::path(get, path = "/api/v1/checks", tag = "checks", security(("token" = ["viewer"])), responses((status = 200, body = serde_json::Value)))]
async fn checks(_: Caller<Viewer>, State(api): Shared) -> Result<Response, Problem> {
    let config = &api.app.config;
    let results = api.app.state()?.check_results()?;
    let listed: Vec<Value> = config
        .checks
        .iter()
        .map(|(name, c)| {
            let last = results.iter().find(|r| &r.check == name).map(|r| json!({ "at": r.at, "passed": r.passed, "elapsed_ms": r.elapsed_ms, "run_id": r.run_id }));
            json!({ "name": name, "plugin": check::plugin_of(c), "last": last })
        })
        .collect();
    Ok(json(json!({ "checks": listed, "suites": config.suites })))
}

/// Each check's last report, as `bosun check --json` showed it.
#[utoipa::path(get, path = "/api/v1/checks/results", tag = "checks", security(("token" = ["viewer"])), responses((status = 200, body = Vec<crate::state::CheckResult>)))]
async fn results(_: Caller<Viewer>, State(api): Shared) -> Result<Response, Problem> {
    Ok(json(api.app.state()?.check_results()?))
}

#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ChecksRequest {
    /// Checks or suites (default: every check).
    #[serde(default)]
    names: Vec<String>,
}

impl RequestBody for ChecksRequest {
    const EXAMPLE: &'static str = r#"{"names": ["home"]}"#;
}

/// Runs checks now, as `bosun check` does, and answers their reports.
#[utoipa::path(post, path = "/api/v1/checks/run", tag = "checks", security(("token" = ["operator"])), request_body = ChecksRequest,
    responses((status = 200, body = serde_json::Value), (status = 400, body = super::ProblemDocument)))]
async fn run_checks(caller: Caller<Operator>, State(api): Shared, body: Result<Body<ChecksRequest>, Problem>) -> Result<Response, Problem> {
    Ok(json(run_now(&api, &caller, body.map(|Body(request)| request.names)).await?))
}

/// Runs the checks or suites `names` (none: every check) for `caller`
/// (audited): `passed` and each report. The dashboard's "run now" too.
pub async fn run_now(api: &Api, caller: &Requester, names: Result<Vec<String>, Problem>) -> Result<Value, Problem> {
    let shared = api.app.clone();
    let answer = match names {
        Err(problem) => Err(problem),
        Ok(names) => off_thread_async(move || async move {
            let selected = check::select(&shared, &names).map_err(Problem::bad_request)?;
            check::validate(&shared, &selected).await.map_err(|problems| Problem::bad_request(problems.join("; ")))?;
            let reports = check::run_suite(&shared, &selected, check::DEFAULT_JOBS, false).await;
            let failed = reports.iter().filter(|r| r.failed_check()).count();
            Ok::<_, Problem>((failed, json!({ "passed": failed == 0, "reports": reports })))
        })
        .await
        .and_then(|answer| answer),
    };
    let (_, reports) = api.audited(caller, answer, |(failed, _)| {
        let said = if *failed == 0 { "ok".to_string() } else { format!("{failed} check(s) failed") };
        (said, None)
    })?;
    Ok(reports)
}
