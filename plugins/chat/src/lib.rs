//! bosun's built-in `chat` notifier: one message per event to a chat robot,
//! in the request each service documents. bosun parses the channel URL and
//! passes its parts as params (`service`, `endpoint`, `token`, `secret`,
//! `key`, `chats`, `webhook_id`); the URL itself is never logged.
//!
//! | service  | request |
//! |----------|---------|
//! | dingtalk | `POST {endpoint}/robot/send?access_token=T[&timestamp=&sign=]`, markdown |
//! | wecom    | `POST {endpoint}/cgi-bin/webhook/send?key=K`, markdown |
//! | feishu   | `POST {endpoint}/open-apis/bot/v2/hook/T`, text, `timestamp`+`sign` when a secret is set |
//! | telegram | `POST {endpoint}/bot{T}/sendMessage` per chat |
//! | slack    | `POST {endpoint}/services/{T}` |
//! | discord  | `POST {endpoint}/api/webhooks/{id}/{T}` |

mod services;
mod sign;

use std::collections::BTreeMap;

use bosun_sdk::http::Request;
use bosun_sdk::{Channel, Context, Error, Event, Notifier};
use serde::Deserialize;

use services::request_for;

#[derive(Deserialize)]
struct Config {
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    10_000
}

struct Chat;

impl Notifier for Chat {
    fn deliver(ctx: &Context, event: &Event, channel: &Channel) -> Result<String, Error> {
        let cfg: Config = ctx.config()?;
        let params: BTreeMap<String, String> = channel.params.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect();
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        // The run's link goes at the end of the text, where every service shows it.
        let body = match &event.link {
            Some(link) => format!("{}\n\n{link}", event.body),
            None => event.body.clone(),
        };
        let requests = request_for(&params, &event.title, &body, now_ms).map_err(|e| Error::invalid_config(format!("channel `{}`: {e}", channel.name)))?;
        let mut answers = Vec::new();
        for outgoing in requests {
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
            answers.push(answer);
        }
        Ok(answers.join("; "))
    }
}

bosun_sdk::export_notifier!(Chat);
