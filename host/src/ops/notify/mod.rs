//! Telling people: each `[notify.<name>]` channel subscribed to an event's
//! kind gets it, through the notifier plugin its URL scheme names. A failed
//! delivery is retried a few times, then reported; it never fails the
//! operation that raised the event.

pub mod channel;
mod email;
mod notice;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use globset::Glob;
use serde::Serialize;

pub use channel::{Destination, Via};
pub use notice::{Notice, PLACEHOLDERS, Severity, check_json_template, check_template, render, render_json};

use crate::app::App;
use crate::config::Channel;
use crate::plugin::PluginError;
use crate::plugin::bindings::notify;
use crate::plugin::bindings::types::Kv;

/// Tries per delivery, and the pause before the first retry (doubling).
const ATTEMPTS: u32 = 3;
const FIRST_RETRY: Duration = Duration::from_millis(300);

/// How sending one notice to one channel went.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub channel: String,
    pub ok: bool,
    pub attempts: u32,
    /// What the service answered (status and body excerpt).
    pub answer: Option<String>,
    pub error: Option<String>,
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.answer, &self.error) {
            (Some(answer), _) if self.ok => write!(f, "notified {}: {answer}", self.channel),
            (_, error) => write!(f, "notifying {} failed after {} attempt(s): {}", self.channel, self.attempts, error.as_deref().unwrap_or("?")),
        }
    }
}

/// The channel's URL with secrets filled in: `url_file` read, `${VAR}`
/// replaced from the environment.
pub fn resolve_url(channel: &Channel, config_dir: &Path) -> Result<String, String> {
    let raw = match (&channel.url, &channel.url_file) {
        (Some(_), Some(_)) => return Err("set either url or url_file, not both".into()),
        (Some(url), None) => url.clone(),
        (None, Some(file)) => {
            let path = config_dir.join(file);
            let url = std::fs::read_to_string(&path).map_err(|e| format!("cannot read url_file {}: {e}", path.display()))?.trim().to_string();
            crate::secrets::register(&url);
            url
        }
        (None, None) => return Err("needs url (e.g. dingtalk://TOKEN) or url_file (a file holding it)".into()),
    };
    crate::config::expand_env(&raw).map_err(|e| format!("the URL {e}"))
}

/// The channel's URL and destination, checked (at config load and before
/// sending); the URL's secret parts are registered for masking.
pub fn destination(channel: &Channel, config_dir: &Path) -> Result<(String, Destination), String> {
    let url = resolve_url(channel, config_dir)?;
    let destination = channel::parse(&url, channel.endpoint.as_deref()).map_err(|e| format!("{e}"))?;
    destination.secrets.iter().for_each(|s| crate::secrets::register(s));
    Ok((url, destination))
}

/// Whether the channel subscribed to `kind` (no `on`: every event).
pub fn subscribed(channel: &Channel, kind: &str) -> bool {
    channel.on.is_empty() || channel.on.iter().any(|pattern| Glob::new(pattern).is_ok_and(|g| g.compile_matcher().is_match(kind)))
}

/// [`notify`] with the run's id and link among the facts, then each
/// delivery's outcome added to run `run_id`'s log.
pub async fn tell(app: &App, run_id: i64, notice: &Notice) -> Vec<Delivery> {
    let mut notice = notice.clone().fact("run", run_id);
    if let Some(link) = app.config.project.run_link(run_id) {
        notice = notice.fact("link", link);
    }
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

/// Sends `notice` to every channel subscribed to it, all at once.
pub async fn notify(app: &App, notice: &Notice) -> Vec<Delivery> {
    let channels = app.config.notify.iter().filter(|(_, channel)| subscribed(channel, &notice.kind));
    futures_util::future::join_all(channels.map(|(name, channel)| deliver(app, name, channel, notice))).await
}

/// Sends `notice` to one channel, retrying a failure that may pass.
pub async fn deliver(app: &App, name: &str, channel: &Channel, notice: &Notice) -> Delivery {
    let mut delivery = Delivery { channel: name.to_string(), ok: false, attempts: 0, answer: None, error: None };
    let mut pause = FIRST_RETRY;
    while delivery.attempts < ATTEMPTS {
        delivery.attempts += 1;
        match send(app, name, channel, notice).await {
            Ok(answer) => {
                delivery.ok = true;
                delivery.answer = Some(answer);
                delivery.error = None;
                break;
            }
            Err((error, retry)) => {
                tracing::warn!("notifying {name} (attempt {}): {error}", delivery.attempts);
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
async fn send(app: &App, name: &str, channel: &Channel, notice: &Notice) -> Result<String, (String, bool)> {
    let config_dir = app.config.resolve(Path::new(""));
    let (url, destination) = destination(channel, &config_dir).map_err(|e| (format!("notify.{name}.url: {e}"), false))?;
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
        let params = destination.params.iter().map(|(key, value)| Kv { key: key.clone(), value: value.clone() }).collect();
        let target = notify::Channel { name: name.to_string(), url: url.clone(), params };
        Ok::<String, anyhow::Error>(app.runtime()?.deliver(&plugin, setup, event, target).await?.value)
    };
    attempt.await.map_err(|e| {
        let retry = !matches!(e.downcast_ref::<PluginError>(), Some(PluginError::InvalidConfig { .. } | PluginError::CapabilityDenied(_)));
        (format!("{e:#} ({}ms)", started.elapsed().as_millis()), retry)
    })
}
