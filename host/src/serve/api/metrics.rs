//! `/metrics` in Prometheus' text format (a viewer token, as Prometheus'
//! `authorization` scrape setting sends it). What the state store holds is
//! read at scrape time, so runs started anywhere count; what this process
//! measures (plugin calls, scheduler lag) comes from `crate::metrics`. A
//! scrape within a second of the last gets the same text.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{Api, Caller, Problem, Viewer};
use crate::app::App;

pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// How long a rendered scrape is served again.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// The last scrape's text, and when it was rendered.
#[derive(Default)]
pub struct Scraped(Mutex<Option<(Instant, Arc<String>)>>);

/// Runs, backups, checks, releases, plugin calls and scheduler lag in
/// Prometheus' text format.
#[utoipa::path(get, path = "/metrics", tag = "status", security(("token" = ["viewer"])),
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String)))]
async fn metrics(_: Caller<Viewer>, State(api): State<Arc<Api>>) -> Result<Response, Problem> {
    let text = {
        let mut last = api.scraped.0.lock().unwrap_or_else(PoisonError::into_inner);
        match last.as_ref().filter(|(at, _)| at.elapsed() < FRESH_FOR) {
            Some((_, text)) => text.clone(),
            None => {
                let text = Arc::new(render(&api.app)?);
                *last = Some((Instant::now(), text.clone()));
                text
            }
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text.as_str().to_owned()).into_response())
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineLabels {
    pipeline: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SetLabels {
    set: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    check: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReleaseLabels {
    service: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReleaseCountLabels {
    service: String,
    kind: String,
    outcome: String,
}

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// Seconds, from a second to six hours: how long a pipeline runs.
fn run_buckets() -> Histogram {
    Histogram::new([1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 21600.0])
}

fn render(app: &App) -> Result<String, Problem> {
    let state = app.state()?;
    let mut registry = Registry::default();

    let runs = Family::<RunLabels, Counter>::default();
    for (operation, outcome, count) in state.run_tally()? {
        runs.get_or_create(&RunLabels { operation, outcome }).inc_by(count);
    }
    registry.register("bosun_runs", "Finished runs by operation and outcome", runs);
    let going = Family::<OperationLabels, Gauge>::default();
    for (operation, count) in state.runs_going()? {
        going.get_or_create(&OperationLabels { operation }).set(count as i64);
    }
    registry.register("bosun_runs_going", "Runs under way (or waiting for an approval) by operation", going);
    let times = Family::<PipelineLabels, Histogram, fn() -> Histogram>::new_with_constructor(run_buckets);
    for (pipeline, outcome, secs) in state.pipeline_run_times()? {
        times.get_or_create(&PipelineLabels { pipeline, outcome }).observe(secs);
    }
    registry.register("bosun_pipeline_run_duration_seconds", "Finished pipeline runs by pipeline and outcome, and how long they took", times);

    let (backup_at, backup_bytes) = (Family::<SetLabels, Gauge>::default(), Family::<SetLabels, Gauge>::default());
    for set in app.config.backups.keys() {
        if let Some(last) = state.latest_backup(set)? {
            backup_at.get_or_create(&SetLabels { set: set.clone() }).set(last.created_at);
            backup_bytes.get_or_create(&SetLabels { set: set.clone() }).set(last.bytes as i64);
        }
    }
    registry.register("bosun_backup_last_timestamp_seconds", "When each backup set's newest backup was taken", backup_at);
    registry.register("bosun_backup_last_size_bytes", "The size of each backup set's newest backup", backup_bytes);

    let (up, took, checked) = (Family::<CheckLabels, Gauge>::default(), Family::<CheckLabels, FloatGauge>::default(), Family::<CheckLabels, Gauge>::default());
    for result in state.check_results()? {
        let labels = CheckLabels { check: result.check };
        up.get_or_create(&labels).set(i64::from(result.passed));
        took.get_or_create(&labels).set(result.elapsed_ms as f64 / 1000.0);
        checked.get_or_create(&labels).set(result.at);
    }
    registry.register("bosun_check_up", "Whether each check passed when it last ran (1) or not (0)", up);
    registry.register("bosun_check_duration_seconds", "How long each check took when it last ran", took);
    registry.register("bosun_check_last_timestamp_seconds", "When each check last ran", checked);

    let env = &app.config.project.env;
    let current = Family::<ReleaseLabels, Gauge>::default();
    for service in app.config.services.keys() {
        if let Some(release) = state.succeeded_releases(service, env, None)?.into_iter().next() {
            current.get_or_create(&ReleaseLabels { service: service.clone(), version: release.version }).set(1);
        }
    }
    registry.register("bosun_release_current", "The version each service runs (1 for its current release)", current);
    let releases = Family::<ReleaseCountLabels, Counter>::default();
    for (service, kind, outcome, count) in state.release_tally(env)? {
        releases.get_or_create(&ReleaseCountLabels { service, kind, outcome }).inc_by(count);
    }
    registry.register("bosun_releases", "Deploys and rollbacks by service, kind and outcome", releases);

    crate::metrics::register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).map_err(|e| Problem::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, format!("encoding the metrics: {e}")))?;
    Ok(text)
}
