//! Signed webhooks: `POST /hooks/<name>` starts the pipeline
//! `[triggers.<name>]` names, with inputs taken from the delivery. The
//! signature is the credential (no token): GitHub's `X-Hub-Signature-256`,
//! GitLab's `X-Gitlab-Token`, or a generic HMAC header. An unsigned or
//! badly signed delivery is refused (and counts towards the client's
//! failures), and so is one whose delivery id was taken before.

use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::auth::ClientAddr;
use super::{Api, Problem, accepted};
use crate::config::serve::{Signature, TRIGGER_CONTEXTS, Trigger};
use crate::expr::{self, JobStatus, Scope};
use crate::pipeline::{self, Start};
use crate::state::AuditEntry;

pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(delivery))
}

/// A webhook delivery for trigger `name`: signed as `[triggers.<name>]`
/// says (no token), it starts the trigger's pipeline.
#[utoipa::path(post, path = "/hooks/{name}", tag = "webhooks", params(("name" = String, Path)), request_body(content = serde_json::Value, description = "The sender's JSON payload"),
    responses((status = 202, body = super::Accepted), (status = 200, description = "Taken and ignored: the trigger's `if` is false", body = serde_json::Value),
        (status = 400, body = super::ProblemDocument), (status = 401, description = "Unsigned or badly signed", body = super::ProblemDocument), (status = 404, body = super::ProblemDocument),
        (status = 409, description = "The delivery was taken before", body = super::ProblemDocument), (status = 429, body = super::ProblemDocument)))]
async fn delivery(State(api): State<Arc<Api>>, ClientAddr(from): ClientAddr, Path(name): Path<String>, headers: HeaderMap, body: Result<axum::body::Bytes, BytesRejection>) -> Result<Response, Problem> {
    api.guard.refuse_if_limited(from)?;
    let body = body.map_err(super::problem::unread)?;
    let Some(trigger) = api.app.config.triggers.get(&name) else {
        return Err(Problem::not_found(format!("no trigger called {name}; add a [triggers.{name}] table to bosun.toml")));
    };
    let delivery = match verify(trigger, &headers, &body) {
        Ok(delivery) => delivery,
        Err(problem) => {
            api.guard.failed(from);
            return Err(problem);
        }
    };
    let taken = take(&api, &name, trigger, &delivery, &headers, &body).await;
    let outcome = match &taken {
        Ok(Taken::Started(run)) => (format!("accepted: run {run}"), Some(*run)),
        Ok(Taken::Ignored(why)) => (format!("ignored: {why}"), None),
        Err(problem) => (problem.detail.clone(), None),
    };
    let entry = AuditEntry::now(format!("trigger {name}"), "webhook", format!("POST /hooks/{name} (delivery {delivery})"), from.to_string(), outcome.0, outcome.1);
    api.app.state()?.record_audit(&entry)?;
    match taken? {
        Taken::Started(run) => {
            api.app.state()?.delivery_run(&name, &delivery, run)?;
            Ok(accepted(run))
        }
        Taken::Ignored(why) => Ok(super::json(json!({ "ignored": why }))),
    }
}

enum Taken {
    Started(i64),
    Ignored(String),
}

async fn take(api: &Arc<Api>, name: &str, trigger: &Trigger, delivery: &str, headers: &HeaderMap, body: &[u8]) -> Result<Taken, Problem> {
    // A delivery refused as not JSON is not taken: the sender may send it again, fixed, under its id.
    let payload: Value = serde_json::from_slice(body).map_err(|e| Problem::bad_request(format!("the delivery is not JSON ({e}); set the webhook's content type to application/json")))?;
    if !api.app.state()?.take_delivery(name, delivery)? {
        return Err(Problem::new(StatusCode::CONFLICT, format!("delivery {delivery} was taken before; a delivery starts one run")));
    }
    let headers: Map<String, Value> = headers.iter().filter_map(|(k, v)| Some((k.as_str().to_string(), Value::from(v.to_str().ok()?)))).collect();
    let scope = Scope::new(JobStatus::Success).with("payload", payload).with("headers", Value::Object(headers));
    if let Some(condition) = &trigger.condition {
        let parsed = expr::condition(condition, TRIGGER_CONTEXTS).map_err(|e| Problem::bad_request(format!("triggers.{name}.if: {e}")))?;
        let holds = expr::evaluate(&parsed, &scope).map_err(|e| Problem::bad_request(format!("triggers.{name}.if: {e}")))?.is_truthy();
        if !holds {
            return Ok(Taken::Ignored(format!("`if` is false ({condition})")));
        }
    }
    let mut given = Vec::new();
    for (input, template) in &trigger.inputs {
        let rendered = expr::Template::parse(template, TRIGGER_CONTEXTS).map_err(|e| e.to_string()).and_then(|t| t.render(&scope).map_err(|e| e.to_string()));
        let value = rendered.map_err(|e| Problem::bad_request(format!("triggers.{name}.inputs.{input}: {e}")))?;
        given.push(format!("{input}={value}"));
    }
    let pipeline = api.app.config.pipelines.get(&trigger.pipeline).ok_or_else(|| Problem::not_found(format!("no pipeline called {}", trigger.pipeline)))?;
    let inputs = pipeline::inputs::resolve(&trigger.pipeline, pipeline, &given)?;
    let run = api.spawn_run(Start::New { pipeline: trigger.pipeline.clone(), inputs, dry_run: false, by: Some(format!("trigger {name}")) }).await?;
    Ok(Taken::Started(run))
}

/// Checks the delivery's signature; its delivery id when it holds.
fn verify(trigger: &Trigger, headers: &HeaderMap, body: &[u8]) -> Result<String, Problem> {
    let secret = crate::config::expand_env(&trigger.secret).map_err(|e| Problem::new(StatusCode::SERVICE_UNAVAILABLE, format!("the trigger's secret: {e}")))?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let unsigned = |name: &str| Problem::new(StatusCode::UNAUTHORIZED, format!("the delivery has no {name} header; configure the webhook's secret"));
    let bad = || Problem::new(StatusCode::UNAUTHORIZED, "the delivery's signature does not match; check the webhook's secret");
    let (signature_header, delivery_header) = match trigger.signature {
        Signature::Github => ("x-hub-signature-256", "x-github-delivery"),
        Signature::Gitlab => ("x-gitlab-token", "x-gitlab-event-uuid"),
        Signature::Hmac => ("x-bosun-signature", "x-bosun-delivery"),
    };
    let presented = header(signature_header).ok_or_else(|| unsigned(signature_header))?;
    let holds = match trigger.signature {
        Signature::Gitlab => bool::from(presented.as_bytes().ct_eq(secret.as_bytes())),
        Signature::Github | Signature::Hmac => hmac_holds(&secret, body, presented),
    };
    if !holds {
        return Err(bad());
    }
    let delivery = header(delivery_header).ok_or_else(|| Problem::bad_request(format!("the delivery has no {delivery_header} header; without it a replay cannot be told apart")))?;
    Ok(delivery.to_string())
}

/// Whether `presented` is `sha256=<hex HMAC-SHA256 of body under secret>`
/// (compared in constant time).
pub fn hmac_holds(secret: &str, body: &[u8], presented: &str) -> bool {
    let Some(hex_digest) = presented.strip_prefix("sha256=") else { return false };
    let Ok(digest) = hex::decode(hex_digest) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&digest).is_ok()
}

#[cfg(test)]
mod tests {
    use super::hmac_holds;

    /// GitHub's own example ("Validating webhook deliveries", docs.github.com).
    #[test]
    fn github_documented_signature_holds() {
        let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(hmac_holds("It's a Secret to Everybody", b"Hello, World!", signature));
        assert!(!hmac_holds("It's a Secret to Everybody", b"Hello, World?", signature), "another body");
        assert!(!hmac_holds("another secret", b"Hello, World!", signature), "another secret");
        assert!(!hmac_holds("It's a Secret to Everybody", b"Hello, World!", "sha1=757107ea"), "another algorithm");
        assert!(!hmac_holds("It's a Secret to Everybody", b"Hello, World!", "sha256=zz"), "not hex");
    }
}
