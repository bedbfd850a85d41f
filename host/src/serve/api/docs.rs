//! The API's OpenAPI 3.1 document, made from the handlers' own
//! descriptions (`/api/v1/openapi.json`), and a reference page rendered
//! from it on the server (`/api/docs`): no script, no CDN, nothing fetched.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, OpenApiBuilder, Ref, ResponseBuilder};

use super::{Api, Caller, Viewer};

/// What every document starts from: its title, version and the token scheme.
pub fn base() -> OpenApi {
    let info = utoipa::openapi::InfoBuilder::new()
        .title("bosun")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Backups, deploys, smoke checks and pipelines for Docker services. Every route but /healthz and /hooks needs \
             `Authorization: Bearer TOKEN` (`bosun token create NAME --role viewer|operator|admin`); each operation's \
             security names the role it needs. Errors are RFC 9457 problem documents.",
        ))
        .build();
    let mut openapi = OpenApiBuilder::new().info(info).build();
    let scheme = SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("A token from `bosun token create`")).build());
    openapi.components.get_or_insert_with(Default::default).add_security_scheme("token", scheme);
    openapi
}

/// Adds to each operation that needs a token the answers every such
/// operation may give: 401, 403 naming the role, 429.
fn with_token_answers(mut openapi: OpenApi) -> OpenApi {
    let problem = || ContentBuilder::new().schema(Some(Ref::from_schema_name("ProblemDocument"))).build();
    for item in openapi.paths.paths.values_mut() {
        for operation in operations(item) {
            let Some(role) = role_of(operation) else { continue };
            let answers = [
                ("401", "No token, or an unknown, expired or revoked one".to_string()),
                ("403", format!("The token's role is below {role}")),
                ("429", "Too many failed credentials from this address in the last minute".to_string()),
            ];
            for (status, description) in answers {
                let response = ResponseBuilder::new().description(description).content("application/problem+json", problem()).build();
                operation.responses.responses.entry(status.to_string()).or_insert(response.into());
            }
        }
    }
    openapi
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch].into_iter().filter_map(Option::as_mut)
}

/// The role an operation's security names (`viewer`), if it needs a token.
fn role_of(operation: &Operation) -> Option<String> {
    let security = serde_json::to_value(operation.security.as_ref()?).ok()?;
    security.get(0)?.get("token")?.get(0)?.as_str().map(str::to_string)
}

pub fn routes(openapi: OpenApi) -> Router<Arc<Api>> {
    let openapi = with_token_answers(openapi);
    let json = Arc::new(openapi.to_pretty_json().expect("the document serializes"));
    let page = Arc::new(reference(&openapi).into_string());
    // Like every route but /healthz, they need a token (the dashboard's session will do).
    Router::new()
        .route("/api/v1/openapi.json", get(move |_: Caller<Viewer>| async move { ([(header::CONTENT_TYPE, "application/json")], json.as_str().to_owned()).into_response() }))
        .route("/api/docs", get(move |_: Caller<Viewer>| async move { maud::PreEscaped(page.as_str().to_owned()) }))
}

/// The reference page: operations by tag, then the schemas.
fn reference(openapi: &OpenApi) -> Markup {
    let document = serde_json::to_value(openapi).expect("the document serializes");
    let mut by_tag: BTreeMap<String, Vec<(String, String, &serde_json::Value)>> = BTreeMap::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let tag = operation["tags"][0].as_str().unwrap_or("other").to_string();
            by_tag.entry(tag).or_default().push((method.clone(), path.clone(), operation));
        }
    }
    html! {
        (DOCTYPE)
        html lang="en" {
            (crate::serve::html::head("API reference", false))
            body.docs {
                h1 { "bosun API " (openapi.info.version) }
                p { (openapi.info.description.clone().unwrap_or_default()) }
                p { "The machine-readable document: " a href="/api/v1/openapi.json" { "/api/v1/openapi.json" } " (OpenAPI " (document["openapi"].as_str().unwrap_or("")) ")." }
                @for (tag, operations) in &by_tag {
                    h2 id=(tag) { (tag) }
                    @for (method, path, operation) in operations {
                        (operation_section(method, path, operation))
                    }
                }
                h2 id="schemas" { "Schemas" }
                @for (name, schema) in document["components"]["schemas"].as_object().into_iter().flatten() {
                    h3 id=(format!("schema-{name}")) { (name) }
                    pre { (serde_json::to_string_pretty(schema).unwrap_or_default()) }
                }
            }
        }
    }
}

fn operation_section(method: &str, path: &str, operation: &serde_json::Value) -> Markup {
    let role = operation["security"][0]["token"][0].as_str();
    let schema_name = |content: &serde_json::Value| content.as_object().and_then(|c| c.values().next()).and_then(|c| c["schema"]["$ref"].as_str().or(c["schema"]["items"]["$ref"].as_str())).map(|r| r.rsplit('/').next().unwrap_or(r).to_string());
    html! {
        div.op {
            @if let Some(role) = role { span.role { "needs " (role) } } @else { span.role { "no token" } }
            span.m.(method) { (method) } " " code { (path) }
            @if let Some(summary) = operation["summary"].as_str() { p { (summary) } }
            @if let Some(description) = operation["description"].as_str() { p { (description) } }
            @if let Some(parameters) = operation["parameters"].as_array().filter(|p| !p.is_empty()) {
                table {
                    tr { th { "parameter" } th { "in" } th { "" } }
                    @for parameter in parameters {
                        tr {
                            td { code { (parameter["name"].as_str().unwrap_or("")) } }
                            td { (parameter["in"].as_str().unwrap_or("")) }
                            td { (parameter["description"].as_str().unwrap_or("")) }
                        }
                    }
                }
            }
            @if let Some(name) = schema_name(&operation["requestBody"]["content"]) {
                p { "Body: " a href=(format!("#schema-{name}")) { (name) } }
            }
            table {
                @for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                    tr {
                        td { code { (status) } }
                        td {
                            (response["description"].as_str().unwrap_or(""))
                            @if let Some(name) = schema_name(&response["content"]) { " " a href=(format!("#schema-{name}")) { (name) } }
                        }
                    }
                }
            }
        }
    }
}
