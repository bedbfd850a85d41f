//! bosun's built-in `webhook` notifier: POST the event as JSON to the
//! channel's URL (`http://`, `https://`, or shoutrrr-style `generic+https://`
//! and `generic+http://`):
//!
//! ```json
//! {"kind": "deploy.failed", "severity": "failure", "title": "...", "body": "...",
//!  "facts": {"service": "web"}, "link": null}
//! ```
//!
//! A channel's `json = {...}` (rendered by bosun, `{{title}}` and the rest
//! filled in) is sent instead, for services that want their own shape.
//!
//! Returns `HTTP <status>: <first 200 characters of the body>`; a non-2xx answer
//! is an error with the same text. The URL is never logged (it may hold a token).

use bosun_sdk::http::Request;
use bosun_sdk::serde_json::{Map, Value, json};
use bosun_sdk::{Channel, Context, Error, Event, Notifier};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// Give up after this many milliseconds (default 10000)
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    /// The channel's rendered `json` template.
    json: Option<Value>,
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// The URL to POST to, or why the channel's URL is not one.
fn target_url(channel: &Channel) -> Result<String, Error> {
    let url = channel.url.strip_prefix("generic+").unwrap_or(&channel.url);
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http" | "https") => Ok(url.to_string()),
        Some(other) => Err(Error::invalid_config(format!(
            "channel `{}`: the webhook notifier sends to http://, https://, generic+http:// or \
             generic+https:// URLs, not {other}://",
            channel.name
        ))),
        None => Err(Error::invalid_config(format!("channel `{}`: the URL has no scheme", channel.name))),
    }
}

fn payload(event: &Event) -> Value {
    let facts: Map<String, Value> =
        event.facts.iter().map(|kv| (kv.key.clone(), Value::String(kv.value.clone()))).collect();
    json!({
        "kind": event.kind,
        "severity": event.severity.as_str(),
        "title": event.title,
        "body": event.body,
        "facts": facts,
        "link": event.link,
    })
}

struct Webhook;

impl Notifier for Webhook {
    fn validate(ctx: &Context, channel: &Channel) -> Result<(), Error> {
        ctx.config::<Config>()?;
        target_url(channel).map(drop)
    }

    fn deliver(ctx: &Context, event: &Event, channel: &Channel) -> Result<String, Error> {
        let cfg: Config = ctx.config()?;
        let url = target_url(channel)?;
        let resp = Request::post(url)
            .header("user-agent", concat!("bosun-webhook/", env!("CARGO_PKG_VERSION")))
            .json(&cfg.json.unwrap_or_else(|| payload(event)))
            .timeout_ms(cfg.timeout_ms)
            .send()
            .map_err(|e| e.context(format!("channel `{}`", channel.name)))?;
        let text = resp.text();
        let excerpt: String = text.chars().take(200).collect();
        let answer = format!("HTTP {}: {}", resp.status, excerpt.trim_end());
        if resp.is_success() {
            Ok(answer)
        } else {
            Err(Error::failed(format!("channel `{}`: {answer}", channel.name)))
        }
    }
}

bosun_sdk::export_notifier!(Webhook, config = Config);
