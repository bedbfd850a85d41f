//! Write bosun plugins in Rust.
//!
//! A bosun plugin is a WebAssembly component of one *kind*: a smoke check, a
//! backup strategy, a naming template, a notifier or a pipeline step. It runs sandboxed, with
//! only the host capabilities (fs, docker, process, http, notify, net) that it asks
//! for in its manifest *and* the operator grants in `bosun.toml`.
//!
//! A plugin is one trait impl and one macro line:
//!
//! | kind              | Cargo feature     | trait                  | macro                        |
//! |-------------------|-------------------|------------------------|------------------------------|
//! | smoke check       | `smoke-check`     | [`Check`]              | [`export_check!`]            |
//! | backup strategy   | `backup-strategy` | [`BackupStrategy`]     | [`export_backup_strategy!`]  |
//! | naming template   | `naming-template` | [`NamingTemplate`]     | [`export_naming_template!`]  |
//! | notifier          | `notifier`        | [`Notifier`]           | [`export_notifier!`]         |
//! | pipeline step     | `pipeline-step`   | [`PipelineStep`]       | [`export_pipeline_step!`]    |
//!
//! Each export macro also embeds the plugin's manifest (custom section
//! `bosun:manifest`, see [`manifest`]) built from the crate's
//! `bosun-plugin.toml` and `Cargo.toml` version, so the `.wasm` file describes
//! itself.
//!
//! # Workflow
//!
//! ```text
//! bosun plugin new smoke-check disk-free          # crate: Cargo.toml, bosun-plugin.toml, src/lib.rs
//! cd disk-free && $EDITOR src/lib.rs bosun-plugin.toml
//! bosun plugin build .                            # cargo build --target wasm32-wasip1 + componentize
//! bosun plugin install .                          # builds, validates, installs
//! ```
//!
//! The crate is a `cdylib` built for `wasm32-wasip1`; `bosun plugin build` (or
//! any wit-component based tool with the preview1 *reactor* adapter) turns the
//! core module into a component. Its `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! bosun-sdk = { version = "0.1", features = ["smoke-check"] }
//! serde = { version = "1", features = ["derive"] }
//! schemars = "1.2"
//!
//! [profile.release]
//! opt-level = "s"
//! lto = true
//! panic = "abort"
//! codegen-units = 1
//! ```
//!
//! and its `bosun-plugin.toml` (the manifest's body, see [`manifest`]):
//!
//! ```toml
//! name = "body-contains"
//! description = "Fetch a URL and look for a word in the body"
//!
//! [capabilities]
//! http = ["*"]
//! ```
//!
//! The config keys are not listed there: they are the fields of the config
//! type the export macro names (`config = Config`), whose schema the build
//! embeds (see [`manifest`]).
//!
//! # Smoke check
//!
//! ```ignore
//! use bosun_sdk::{Check, CheckResult, Context, Error, http::Request};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Config {
//!     /// URL to fetch
//!     url: String,
//!     /// Text the body must contain
//!     word: String,
//! }
//!
//! struct BodyContains;
//!
//! impl Check for BodyContains {
//!     fn check(ctx: &Context) -> Result<CheckResult, Error> {
//!         let cfg: Config = ctx.config()?;
//!         let resp = Request::get(&cfg.url).timeout_ms(5_000).send()?;
//!         let found = resp.text().contains(&cfg.word);
//!         Ok(CheckResult::new(found, format!("GET {} -> {}", cfg.url, resp.status))
//!             .with_metric("response-time-ms", resp.elapsed.as_millis()))
//!     }
//! }
//!
//! bosun_sdk::export_check!(BodyContains, config = Config);
//! ```
//!
//! # Backup strategy
//!
//! ```ignore
//! use bosun_sdk::host::fs::{self, ArchiveRequest, Compression};
//! use bosun_sdk::{BackupRequest, BackupResult, BackupStrategy, Context, Error, RestoreRequest};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Config { paths: Vec<String> }
//!
//! struct Tar;
//!
//! impl BackupStrategy for Tar {
//!     fn backup(ctx: &Context, req: &BackupRequest) -> Result<BackupResult, Error> {
//!         let cfg: Config = ctx.config()?;
//!         let out = fs::archive(&ArchiveRequest {
//!             sources: cfg.paths,
//!             excludes: vec![],
//!             dest: format!("{}/data.tar.zst", req.dest_dir),
//!             compression: Compression::Zstd,
//!             level: None,
//!             since_manifest: None,
//!             manifest_dest: None,
//!         })?; // a denied host call becomes Error::Denied
//!         Ok(BackupResult::new(vec![out.archive]).with_fact("entries", out.entries))
//!     }
//!
//!     fn restore(_ctx: &Context, req: &RestoreRequest) -> Result<(), Error> {
//!         let target = req.target.as_deref().unwrap_or("/");
//!         fs::extract(&format!("{}/data.tar.zst", req.backup_dir), target)?;
//!         Ok(())
//!     }
//! }
//!
//! bosun_sdk::export_backup_strategy!(Tar, config = Config);
//! ```
//!
//! # Naming template
//!
//! ```ignore
//! use bosun_sdk::{Context, Error, Kv, NamingTemplate, kv_get};
//!
//! struct ServiceVersion;
//!
//! impl NamingTemplate for ServiceVersion {
//!     fn render(_ctx: &Context, vars: &[Kv]) -> Result<String, Error> {
//!         let get = |k| kv_get(vars, k).ok_or_else(|| Error::invalid_config(format!("no ${{{k}}}")));
//!         Ok(format!("{}_{}", get("SERVICE")?, get("VERSION")?))
//!     }
//! }
//!
//! bosun_sdk::export_naming_template!(ServiceVersion);
//! ```
//!
//! # Notifier
//!
//! ```ignore
//! use bosun_sdk::{Channel, Context, Error, Event, Notifier, http::Request};
//!
//! struct Ntfy;
//!
//! impl Notifier for Ntfy {
//!     fn deliver(_ctx: &Context, event: &Event, channel: &Channel) -> Result<String, Error> {
//!         let url = channel.url.replace("ntfy://", "https://");
//!         let resp = Request::post(url).header("title", &event.title).body(event.body.clone()).send()?;
//!         if !resp.is_success() {
//!             return Err(Error::failed(format!("HTTP {}", resp.status)));
//!         }
//!         Ok(format!("HTTP {}", resp.status))
//!     }
//! }
//!
//! bosun_sdk::export_notifier!(Ntfy);
//! ```
//!
//! # Errors, config, logs, host calls
//!
//! - [`Context::config`] deserializes the plugin's bosun.toml table; a mistake
//!   there (an unknown key too) is an [`Error::InvalidConfig`] naming the key.
//!   bosun checks the table against the config type's schema before that,
//!   when it loads bosun.toml.
//! - Host calls ([`host`]) return `Result<_, HostError>`; `?` turns a refusal
//!   into [`Error::Denied`] and anything else into [`Error::Failed`].
//! - Every trait has a `validate` that bosun calls before anything runs (a
//!   notifier's also gets the channel); it checks the configuration without
//!   side effects and its default accepts. Override it when a mistake can be
//!   found cheaply, so the command stops before it started.
//! - Host results use the WIT's types: times are [`Timestamp`]s (ms since the
//!   epoch), how a command ended is an [`ExitStatus`] (`status.success()`,
//!   `` format!("`{cmd}` {status}") ``), file and image digests are [`Digest`]s;
//!   Docker's states and health are enums that print as the engine spells them.
//! - [`log`] writes to the run record: `log::info!("{} entries", n)`.
//! - [`Error::skipped`] reports the step as skipped rather than failed (the
//!   exit-code-75 convention).
//! - A panic traps the call; its message is logged at error level first.

#![warn(missing_docs)]
// The crate docs link every kind; without all kind features some are absent.
#![cfg_attr(
    not(all(
        feature = "smoke-check",
        feature = "backup-strategy",
        feature = "naming-template",
        feature = "notifier",
        feature = "pipeline-step"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

mod bindings;
mod context;
mod error;
pub mod http;
pub mod log;
pub mod manifest;
mod types;

#[cfg(feature = "backup-strategy")]
pub mod backup;
#[cfg(feature = "smoke-check")]
pub mod check;
#[cfg(feature = "naming-template")]
pub mod naming;
#[cfg(feature = "notifier")]
pub mod notifier;
#[cfg(feature = "pipeline-step")]
pub mod step;

pub use context::Context;
pub use error::{Error, Result};
pub use manifest::API_VERSION;
pub use types::kv_get;

pub use bindings::host::bosun::host::notify::{Channel, Event, Severity};
pub use bindings::host::bosun::host::types::{Artifact, Digest, ExitStatus, HostError, Kv, Timestamp};
pub use bindings::host::bosun::plugin::types::{PluginError, RunContext};

#[cfg(feature = "backup-strategy")]
pub use backup::{BackupKind, BackupRequest, BackupResult, BackupStrategy, RestoreCheck, RestoreRequest};
#[cfg(feature = "smoke-check")]
pub use check::{Check, CheckResult, ConditionResult};
#[cfg(feature = "naming-template")]
pub use naming::NamingTemplate;
#[cfg(feature = "notifier")]
pub use notifier::Notifier;
#[cfg(feature = "pipeline-step")]
pub use step::{PipelineStep, StepResult};

/// `serde_json`, for plugins that build or inspect JSON.
pub use serde_json;

/// The host's interfaces (`bosun:host@0.3.0`), as generated from the WIT. Every call is checked
/// against the operator's grants; mutating calls are recorded, not run, in a
/// dry run (see [`Context::dry_run`]).
pub mod host {
    pub use crate::bindings::host::bosun::host::{docker, fs, net, notify, process, types};
    /// The raw `log` interface; prefer [`crate::log`].
    pub use crate::bindings::host::bosun::host::log;
    /// The WASI interfaces generated for the HTTP client (`wasi:http`,
    /// `wasi:io`, `wasi:clocks`); prefer [`crate::http`].
    pub use crate::bindings::host::wasi;
}

#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "backup-strategy")]
    pub use crate::bindings::backup_strategy;
    #[cfg(feature = "naming-template")]
    pub use crate::bindings::naming_template;
    #[cfg(feature = "notifier")]
    pub use crate::bindings::notifier;
    #[cfg(feature = "pipeline-step")]
    pub use crate::bindings::pipeline_step;
    #[cfg(feature = "smoke-check")]
    pub use crate::bindings::smoke_check;
    pub use crate::{PluginError, RunContext};
    pub use std::string::String;
    pub use std::vec::Vec;

    /// Called at the start of every export: log panics before the trap.
    pub fn enter() {
        std::panic::set_hook(Box::new(|info| {
            crate::log::error(&info.to_string());
        }));
    }
}

#[cfg(all(
    target_arch = "wasm32",
    not(any(
        feature = "smoke-check",
        feature = "backup-strategy",
        feature = "naming-template",
        feature = "notifier",
        feature = "pipeline-step"
    ))
))]
compile_error!(
    "bosun-sdk: enable the feature of your plugin's kind: smoke-check, backup-strategy, naming-template, notifier or pipeline-step"
);
