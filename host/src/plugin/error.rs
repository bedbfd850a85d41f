//! Typed errors of loading and calling plugins. Each says which plugin and what
//! to do next, on one line.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("{origin} is not a usable bosun plugin: {reason}")]
    InvalidComponent { origin: String, reason: String },

    #[error(
        "plugin {plugin} was built for plugin API {plugin_api} but this bosun implements {host_api}: \
         rebuild it against bosun-sdk {sdk} or use a matching bosun"
    )]
    IncompatibleApi { plugin: String, plugin_api: String, host_api: String, sdk: String },

    #[error("plugin {plugin} {version} trapped in {export}: {message}{}", backtrace_suffix(.backtrace))]
    Trapped { plugin: String, version: String, export: String, message: String, backtrace: Option<String> },

    #[error(
        "plugin {plugin} {export} ran past its {}ms deadline and was stopped; raise \
         `timeout_ms` under [plugins.{plugin}] if it needs longer",
        .deadline.as_millis()
    )]
    TimedOut { plugin: String, export: String, deadline: Duration },

    #[error(
        "plugin {plugin} {export} tried to use more than its {} MiB memory cap and was stopped; raise \
         `memory_mib` under [plugins.{plugin}] if it needs more",
        .limit_bytes / (1024 * 1024)
    )]
    OutOfMemory { plugin: String, export: String, limit_bytes: u64 },

    /// A host call was refused; the message names the call and the grant line.
    #[error("{0}")]
    CapabilityDenied(crate::capability::Denial),

    /// The plugin ran and reported a failure of its own; `last_http_status`
    /// is the last HTTP answer it got before, if any.
    #[error("plugin {plugin} {export} failed: {message}")]
    Failed { plugin: String, export: String, message: String, last_http_status: Option<u16> },

    /// In a dry run, the plugin failed after bosun held back calls that
    /// would have changed something; their answers were not real.
    #[error("plugin {plugin} {export} failed in a dry run, after bosun held back {}: {message}", held_back(.planned))]
    FailedInDryRun { plugin: String, export: String, message: String, planned: Vec<crate::capability::PlannedCall> },

    #[error("plugin {plugin} rejected its configuration: {message}")]
    InvalidConfig { plugin: String, message: String },

    /// The plugin chose to skip (exit-code-75 convention); not a failure.
    #[error("plugin {plugin} skipped: {message}")]
    Skipped { plugin: String, message: String },

    #[error("plugin {plugin} is a {actual}, not a {expected}")]
    WrongKind { plugin: String, expected: String, actual: String },
}

fn held_back(planned: &[crate::capability::PlannedCall]) -> String {
    let calls: Vec<String> = planned.iter().map(|c| format!("{} {}", c.call, c.detail)).collect();
    match calls.len() {
        1 => format!("1 call ({})", calls[0]),
        n => format!("{n} calls ({})", calls.join("; ")),
    }
}

fn backtrace_suffix(backtrace: &Option<String>) -> String {
    match backtrace {
        Some(bt) if !bt.is_empty() => format!(" (wasm backtrace: {})", bt.lines().map(str::trim).collect::<Vec<_>>().join(" <- ")),
        _ => String::new(),
    }
}
