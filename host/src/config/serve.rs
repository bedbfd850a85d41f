//! `[serve]` (how `bosun serve` listens) and `[triggers.<name>]` (signed
//! webhooks that start a pipeline).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{Problems, parse_bytes, parse_duration};
use crate::expr;

/// A request body larger than this gets 413 unless `serve.body_limit` says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;
/// A request that takes longer gets 408 unless `serve.request_timeout` says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Serve {
    /// `127.0.0.1:7070` unless given (`--listen` wins).
    pub listen: Option<String>,
    /// HTTPS with this certificate and key (PEM), read again on SIGHUP.
    pub tls: Option<Tls>,
    /// Where people reach this bosun (`https://ops.example`): notifications
    /// link to its run pages unless `project.runs_url` says otherwise.
    pub base_url: Option<String>,
    /// The largest request body (`1m`, `64k`).
    pub body_limit: Option<String>,
    /// How long a request (not a run it starts, nor an event stream) may take.
    pub request_timeout: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Serve {
    pub fn listen(&self) -> Option<SocketAddr> {
        self.listen.as_deref().and_then(|l| l.parse().ok())
    }

    pub fn body_limit(&self) -> usize {
        self.body_limit.as_deref().and_then(|b| parse_bytes(b).ok()).map_or(DEFAULT_BODY_LIMIT, |b| b as usize)
    }

    pub fn request_timeout(&self) -> Duration {
        self.request_timeout.as_deref().and_then(|t| parse_duration(t).ok()).unwrap_or(DEFAULT_REQUEST_TIMEOUT)
    }

    /// Run `run_id`'s page on the dashboard, when `base_url` is set.
    pub fn run_link(&self, run_id: i64) -> Option<String> {
        self.base_url.as_ref().map(|base| format!("{}/runs/{run_id}", base.trim_end_matches('/')))
    }

    pub(super) fn validate(&self, problems: &mut Problems) {
        if let Some(listen) = &self.listen
            && self.listen().is_none()
        {
            problems.add("serve.listen", format!("{listen:?} is not an address; write e.g. 127.0.0.1:7070 or 0.0.0.0:7070"));
        }
        if let Some(url) = &self.base_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            problems.add("serve.base_url", format!("{url:?} must be an http(s) URL, e.g. https://ops.example"));
        }
        if let Some(limit) = &self.body_limit {
            match parse_bytes(limit) {
                Ok(0) => problems.add("serve.body_limit", "must be more than 0"),
                Ok(_) => {}
                Err(e) => problems.add("serve.body_limit", e),
            }
        }
        if let Some(timeout) = &self.request_timeout {
            problems.check("serve.request_timeout", parse_duration(timeout).map(|_| ()));
        }
    }
}

/// How a trigger's deliveries prove who sent them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signature {
    /// `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>`; delivery id `X-GitHub-Delivery`.
    Github,
    /// `X-Gitlab-Token: <secret>`; delivery id `X-Gitlab-Event-UUID`.
    Gitlab,
    /// `X-Bosun-Signature: sha256=<HMAC-SHA256 of the body>`; delivery id `X-Bosun-Delivery`.
    Hmac,
}

/// A signed POST to `/hooks/<name>` that starts a pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub pipeline: String,
    pub signature: Signature,
    /// The shared secret; `${VAR}` reads it from the environment.
    pub secret: String,
    /// Start the pipeline only when this holds (`payload.ref_type == 'tag'`);
    /// otherwise the delivery is accepted and ignored.
    #[serde(rename = "if")]
    pub condition: Option<String>,
    /// The pipeline's inputs from the delivery: `version = "${{ payload.release.tag_name }}"`.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
}

/// What a trigger's expressions may read: the delivery's JSON body and its headers (lower-case names).
pub const TRIGGER_CONTEXTS: &[&str] = &["payload", "headers"];

impl Trigger {
    pub(super) fn validate(&self, at: &str, pipelines: &BTreeMap<String, super::pipeline::Pipeline>, problems: &mut Problems) {
        match pipelines.get(&self.pipeline) {
            None => problems.add(format!("{at}.pipeline"), format!("no pipeline called {}; add a [pipelines.{0}] table", self.pipeline)),
            Some(pipeline) => {
                for name in self.inputs.keys().filter(|n| !pipeline.inputs.contains_key(*n)) {
                    problems.add(format!("{at}.inputs.{name}"), format!("pipeline {} has no input called {name}", self.pipeline));
                }
            }
        }
        match super::secrets::expand_env(&self.secret) {
            Ok(secret) if secret.len() < 16 => problems.add(format!("{at}.secret"), "is shorter than 16 characters; use a long random one (e.g. `openssl rand -hex 32`)"),
            Ok(_) => {}
            Err(e) => problems.add(format!("{at}.secret"), e),
        }
        if let Some(condition) = &self.condition
            && let Err(e) = expr::condition(condition, TRIGGER_CONTEXTS)
        {
            problems.add(format!("{at}.if"), e.to_string());
        }
        for (name, template) in &self.inputs {
            if let Err(e) = expr::Template::parse(template, TRIGGER_CONTEXTS) {
                problems.add(format!("{at}.inputs.{name}"), e.to_string());
            }
        }
    }
}
