//! Telling people: each `[notify.<name>]` channel subscribed to an event's
//! kind gets it, through the notifier plugin its URL scheme names, each of
//! its chats on its own. A failed delivery that may pass is retried a few
//! times (a permanent refusal, a 4xx, is not), then reported and recorded per
//! chat; it never fails the operation that raised the event.

mod email;
mod notice;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use globset::Glob;
use serde::Serialize;

pub use notice::{Notice, Severity, render, render_json};

use crate::app::App;
use crate::config::Channel;
use crate::config::notify_url::{Destination, Via, destination};
use crate::plugin::PluginError;
use crate::bindings::notify;
use crate::bindings::types::Kv;

/// Tries per delivery, and the pause before the first retry (doubling).
const ATTEMPTS: u32 = 3;
const FIRST_RETRY: Duration = Duration::from_millis(300);

/// How sending one notice to one channel (one chat of it, for a service
/// with several) went.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub channel: String,
    /// The chat, for a channel that names several (Telegram's `chats`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat: Option<String>,
    pub ok: bool,
    pub attempts: u32,
    /// What the service answered (status and body excerpt).
    pub answer: Option<String>,
    pub error: Option<String>,
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to = match &self.chat {
            Some(chat) => format!("{} (chat {chat})", self.channel),
            None => self.channel.clone(),
        };
        match (&self.answer, &self.error) {
            (Some(answer), _) if self.ok => write!(f, "notified {to}: {answer}"),
            (_, error) => write!(f, "notifying {to} failed after {} attempt(s): {}", self.attempts, error.as_deref().unwrap_or("?")),
        }
    }
}

/// Whether the channel subscribed to `kind` (no `on`: every event).
pub fn subscribed(channel: &Channel, kind: &str) -> bool {
    channel.on.is_empty() || channel.on.iter().any(|pattern| Glob::new(pattern).is_ok_and(|g| g.compile_matcher().is_match(kind)))
}

/// [`notify`] with the run's id and link among the facts, then each
/// delivery's outcome added to run `run_id`'s log.
pub async fn tell(app: &App, run_id: i64, notice: &Notice) -> Vec<Delivery> {
    let notice = of_run(app, run_id, notice.clone());
    let deliveries = notify(app, &notice).await;
    if !deliveries.is_empty() {
        let lines: Vec<String> = deliveries.iter().map(|d| format!("{}: {d}", notice.kind)).collect();
        if let Ok(state) = app.state()
            && let Err(e) = state.append_run_log(run_id, &lines.join("\n"))
        {
            tracing::warn!("recording notifications in run {run_id}: {e}");
        }
    }
    deliveries
}

/// `notice` with run `run_id`'s id and, when `project.runs_url` is set, its link.
pub fn of_run(app: &App, run_id: i64, notice: Notice) -> Notice {
    let notice = notice.fact("run", run_id);
    match app.config.run_link(run_id) {
        Some(link) => notice.fact("link", link),
        None => notice,
    }
}

/// Routes the events a plugin emitted during a call (each already within its
/// `grant.notify`) to the channels subscribed to them, as notices of run
/// `run_id` when the call was part of one.
pub async fn emitted(app: &App, run_id: Option<i64>, plugin: &str, events: &[notify::Event]) {
    for event in events {
        let severity = match event.severity {
            notify::Severity::Info => Severity::Info,
            notify::Severity::Success => Severity::Success,
            notify::Severity::Warning => Severity::Warning,
            notify::Severity::Failure => Severity::Failure,
        };
        let facts = event.facts.iter().map(|kv| (kv.key.as_str(), kv.value.as_str()));
        let notice = facts.fold(Notice::new(&event.kind, severity, &event.title, &event.body), |n, (k, v)| n.fact(k, v));
        let notice = notice.fact("project", &app.config.project.name).fact("env", &app.config.project.env).fact("plugin", plugin);
        match run_id {
            Some(run_id) => tell(app, run_id, &notice).await,
            None => notify(app, &notice).await,
        };
    }
}

/// Sends `notice` to every channel subscribed to it, all at once.
pub async fn notify(app: &App, notice: &Notice) -> Vec<Delivery> {
    let channels = app.config.notify.iter().filter(|(_, channel)| subscribed(channel, &notice.kind));
    futures_util::future::join_all(channels.map(|(name, channel)| deliver(app, name, channel, notice))).await.into_iter().flatten().collect()
}

/// Sends `notice` to one channel: to each of its chats on its own, so one
/// that fails does not stop the others; one delivery per chat.
pub async fn deliver(app: &App, name: &str, channel: &Channel, notice: &Notice) -> Vec<Delivery> {
    let config_dir = app.config.resolve(Path::new(""));
    let (url, destination) = match destination(channel, &config_dir) {
        Ok(found) => found,
        Err(e) => {
            let error = Some(format!("notify.{name}.url: {e}"));
            return vec![Delivery { channel: name.to_string(), chat: None, ok: false, attempts: 1, answer: None, error }];
        }
    };
    let chats: Vec<Option<&str>> = match destination.chats.as_slice() {
        [] => vec![None],
        chats => chats.iter().map(|chat| Some(chat.as_str())).collect(),
    };
    let target = Target { name, channel, url: &url, destination: &destination };
    futures_util::future::join_all(chats.into_iter().map(|chat| target.deliver(app, notice, chat))).await
}

/// Where one channel's deliveries go.
struct Target<'a> {
    name: &'a str,
    channel: &'a Channel,
    url: &'a str,
    destination: &'a Destination,
}

impl Target<'_> {
    /// Sends `notice` to `chat` (or the channel's one destination), retrying a
    /// failure that may pass.
    async fn deliver(&self, app: &App, notice: &Notice, chat: Option<&str>) -> Delivery {
        let name = self.name;
        let mut delivery = Delivery { channel: name.to_string(), chat: chat.map(str::to_string), ok: false, attempts: 0, answer: None, error: None };
        let mut pause = FIRST_RETRY;
        while delivery.attempts < ATTEMPTS {
            delivery.attempts += 1;
            match self.send(app, notice, chat).await {
                Ok(answer) => {
                    delivery.ok = true;
                    delivery.answer = Some(answer);
                    delivery.error = None;
                    break;
                }
                Err((error, retry)) => {
                    tracing::warn!("notifying {name}{} (attempt {}): {error}", chat.map(|c| format!(" (chat {c})")).unwrap_or_default(), delivery.attempts);
                    delivery.error = Some(error);
                    if !retry {
                        break;
                    }
                }
            }
            if delivery.attempts < ATTEMPTS {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        delivery
    }

    /// One attempt; the error says whether trying again may help.
    async fn send(&self, app: &App, notice: &Notice, chat: Option<&str>) -> Result<String, (String, bool)> {
        let Target { name, channel, url, destination } = *self;
        let started = Instant::now();
        // What is sent is text people read: secrets masked, as in every other output.
        let notice = &notice.masked();
        let title = channel.title.as_deref().map_or_else(|| notice.title.clone(), |t| render(t, notice));
        let body = channel.body.as_deref().map_or_else(|| notice.body.clone(), |t| render(t, notice));
        let plugin_name = match (channel.plugin.as_deref(), destination.via) {
            (Some(plugin), _) => plugin,
            (None, Via::Plugin(plugin)) => plugin,
            (None, Via::Email) => {
                let sent = email::send(&destination.params, &title, &body).await;
                return sent.map_err(|e| (format!("{e} ({}ms)", started.elapsed().as_millis()), true));
            }
        };
        let attempt = async {
            let plugin = app.plugin(plugin_name)?;
            let mut settings = channel.settings.clone();
            if let Some(json) = &channel.json {
                settings.insert("json".into(), toml::Value::try_from(render_json(json, notice))?);
            }
            let mut setup = app.setup(&plugin, &settings, false)?;
            // A notice of a run (see `tell`) is delivered as part of it.
            if let Some(run_id) = notice.facts.get("run").and_then(|run| run.parse().ok()) {
                setup = setup.for_run(run_id);
            }
            let policy = (*setup.policy).clone().with_call_origins(std::slice::from_ref(&destination.origin)).map_err(|e| anyhow!(e))?;
            setup.policy = Arc::new(policy);
            let event = notify::Event {
                kind: notice.kind.clone(),
                severity: match notice.severity {
                    Severity::Info => notify::Severity::Info,
                    Severity::Success => notify::Severity::Success,
                    Severity::Warning => notify::Severity::Warning,
                    Severity::Failure => notify::Severity::Failure,
                },
                title: title.clone(),
                body: body.clone(),
                facts: notice.facts.iter().map(|(key, value)| Kv { key: key.clone(), value: value.clone() }).collect(),
                link: notice.facts.get("link").cloned(),
            };
            let chat = chat.map(|chat| ("chat".to_string(), chat.to_string()));
            let params = destination.params.iter().map(|(k, v)| (k.clone(), v.clone())).chain(chat).map(|(key, value)| Kv { key, value }).collect();
            let target = notify::Channel { name: name.to_string(), url: url.to_string(), params };
            // A channel its notifier refuses is not sent to (nor retried).
            app.runtime()?.validate_channel(&plugin, setup.clone(), target.clone()).await?;
            Ok::<String, anyhow::Error>(app.runtime()?.deliver(&plugin, setup, event, target).await?.value)
        };
        attempt.await.map_err(|e| {
            let retry = worth_retrying(e.downcast_ref::<PluginError>());
            (format!("{e:#} ({}ms)", started.elapsed().as_millis()), retry)
        })
    }
}

/// Whether a failed delivery may pass another time: not when bosun.toml or a
/// grant is wrong, nor when the service refused the request for good (a 4xx
/// other than 408 Request Timeout and 429 Too Many Requests).
fn worth_retrying(error: Option<&PluginError>) -> bool {
    match error {
        Some(PluginError::InvalidConfig { .. } | PluginError::CapabilityDenied(_)) => false,
        Some(PluginError::Failed { last_http_status: Some(status), .. }) => !(400..500).contains(status) || [408, 429].contains(status),
        _ => true,
    }
}
