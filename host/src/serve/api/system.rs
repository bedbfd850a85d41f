//! The machine and what runs on it: the status overview, the images the
//! services use (and whether registries have newer ones), the plugins.

use std::sync::Arc;

use axum::response::Response;
use axum::extract::{Path, State};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use serde::Deserialize;

use super::{Api, Caller, Params, Problem, Viewer, json, off_thread_async};
use crate::ops::images;

pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(status)).routes(routes!(images_check)).routes(routes!(images_required)).routes(routes!(plugins)).routes(routes!(plugin))
}

type Shared = State<Arc<Api>>;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct StatusQuery {
    /// Only these hosts, comma-separated (`web1,web2`); default: every host in use.
    hosts: Option<String>,
}

/// Each service (on each of its hosts) and backup set, red, amber or green, with why.
#[utoipa::path(get, path = "/api/v1/status", tag = "status", security(("token" = ["viewer"])), params(StatusQuery),
    responses((status = 200, body = crate::ops::status::Overview), (status = 400, body = super::ProblemDocument)))]
async fn status(_: Caller<Viewer>, State(api): Shared, Params(query): Params<StatusQuery>) -> Result<Response, Problem> {
    let app = api.app.clone();
    let only: Vec<String> = query.hosts.iter().flat_map(|h| h.split(',')).map(str::trim).filter(|h| !h.is_empty()).map(String::from).collect();
    let overview = off_thread_async(move || async move { crate::ops::status::overview(&app, &only).await }).await??;
    Ok(json(overview))
}

/// Whether the registries have newer digests for the images in use on each host (nothing is pulled).
#[utoipa::path(get, path = "/api/v1/images/check", tag = "images", security(("token" = ["viewer"])), responses((status = 200, body = serde_json::Value)))]
async fn images_check(_: Caller<Viewer>, State(api): Shared) -> Result<Response, Problem> {
    let app = api.app.clone();
    let checks = off_thread_async(move || async move {
        let hosts = app.config.hosts_in_use(&[]).map_err(crate::failure::Failure::bad_input)?;
        Ok::<_, crate::failure::Failure>(images::check::check_everywhere(&app.config, &hosts).await?)
    })
    .await??;
    Ok(json(checks))
}

/// Every image the services need on each host, and whether it is there.
#[utoipa::path(get, path = "/api/v1/images/required", tag = "images", security(("token" = ["viewer"])), responses((status = 200, body = serde_json::Value)))]
async fn images_required(_: Caller<Viewer>, State(api): Shared) -> Result<Response, Problem> {
    let app = api.app.clone();
    let required = off_thread_async(move || async move {
        let hosts = app.config.hosts_in_use(&[]).map_err(crate::failure::Failure::bad_input)?;
        Ok::<_, crate::failure::Failure>(images::required_everywhere(&app.config, &hosts).await?)
    })
    .await??;
    Ok(json(required))
}

/// The plugins: built in, then installed.
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins", security(("token" = ["viewer"])), responses((status = 200, body = Vec<crate::ops::plugins::Listed>)))]
async fn plugins(_: Caller<Viewer>, State(api): Shared) -> Result<Response, Problem> {
    Ok(json(crate::ops::plugins::list(&api.app)?))
}

/// A plugin's manifest, digest, and what bosun.toml grants it.
#[utoipa::path(get, path = "/api/v1/plugins/{name}", tag = "plugins", security(("token" = ["viewer"])), params(("name" = String, Path)),
    responses((status = 200, body = serde_json::Value), (status = 404, body = super::ProblemDocument)))]
async fn plugin(_: Caller<Viewer>, State(api): Shared, Path(name): Path<String>) -> Result<Response, Problem> {
    if !crate::plugin::manifest::valid_plugin_name(&name) {
        return Err(Problem::not_found(format!("no plugin called {name}; GET /api/v1/plugins lists them")));
    }
    let (manifest, digest) = crate::ops::plugins::manifest(&api.app, &name).map_err(|f| Problem::not_found(f.message))?;
    let granted = api.app.granted(&manifest.name);
    Ok(json(json!({ "manifest": manifest, "digest": digest, "granted": granted })))
}
