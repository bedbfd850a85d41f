//! bosun's built-in `chat` notifier: one message per event to a chat robot,
//! in the request each service documents. bosun parses the channel URL and
//! passes its parts as params (`service`, `endpoint`, `token`, `secret`,
//! `key`, `chat`, `webhook_id`); the URL itself is never logged. Each message
//! is built to fit the service's size limit ([`limits`]): the body is cut, with
//! "… and N more", never the run's link.
//!
//! | service  | request |
//! |----------|---------|
//! | dingtalk | `POST {endpoint}/robot/send?access_token=T[&timestamp=&sign=]`, markdown |
//! | wecom    | `POST {endpoint}/cgi-bin/webhook/send?key=K`, markdown |
//! | feishu   | `POST {endpoint}/open-apis/bot/v2/hook/T`, text, `timestamp`+`sign` when a secret is set |
//! | telegram | `POST {endpoint}/bot{T}/sendMessage` to `chat` (bosun calls once per chat) |
//! | slack    | `POST {endpoint}/services/{T}` |
//! | discord  | `POST {endpoint}/api/webhooks/{id}/{T}` |

mod fit;
mod limits;
mod services;
mod sign;

use std::collections::BTreeMap;

use bosun_sdk::http::Request;
use bosun_sdk::{Channel, Context, Error, Event, Notifier};
use schemars::JsonSchema;
use serde::Deserialize;

use services::request_for;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// Give up after this many milliseconds (default 10000)
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// The channel's parts as bosun parsed them from its URL.
fn params_of(channel: &Channel) -> BTreeMap<String, String> {
    channel.params.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect()
}

/// Refuses a channel bosun passed the wrong parts for (no request is made).
fn check_parts(channel: &Channel, params: &BTreeMap<String, String>) -> Result<(), Error> {
    request_for(params, "", "", 0).map(drop).map_err(|e| Error::invalid_config(format!("channel `{}`: {e}", channel.name)))
}

struct Chat;

impl Notifier for Chat {
    fn validate(ctx: &Context, channel: &Channel) -> Result<(), Error> {
        ctx.config::<Config>()?;
        check_parts(channel, &params_of(channel))
    }

    fn deliver(ctx: &Context, event: &Event, channel: &Channel) -> Result<String, Error> {
        let cfg: Config = ctx.config()?;
        let params = params_of(channel);
        check_parts(channel, &params)?;
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let service = params.get("service").map(String::as_str).unwrap_or_default();
        // The run's link goes at the end of the text, where every service shows it.
        let with_link = |body: &str| match &event.link {
            Some(link) if body.is_empty() => link.clone(),
            Some(link) => format!("{body}\n\n{link}"),
            None => body.to_string(),
        };
        let request = |title: &str, body: &str| request_for(&params, title, &with_link(body), now_ms);
        let fits = |title: &str, body: &str| request(title, body).is_ok_and(|out| limits::within(service, &out.body));
        let fitted = fit::fit(&event.title, &event.body, fits).and_then(|(title, body)| request(&title, &body).ok());
        let outgoing = fitted.ok_or_else(|| Error::failed(format!("channel `{}`: not even the run's link fits in one {service} message", channel.name)))?;
        let resp = Request::post(outgoing.url)
            .header("user-agent", concat!("bosun-chat/", env!("CARGO_PKG_VERSION")))
            .json(&outgoing.body)
            .timeout_ms(cfg.timeout_ms)
            .send()
            .map_err(|e| e.context(format!("channel `{}`", channel.name)))?;
        let text = resp.text();
        let answer = format!("HTTP {}: {}", resp.status, text.chars().take(200).collect::<String>().trim_end());
        if !resp.is_success() || !services::accepted(&params, &text) {
            return Err(Error::failed(format!("channel `{}`: {answer}", channel.name)));
        }
        Ok(answer)
    }
}

bosun_sdk::export_notifier!(Chat, config = Config);
