//! A smoke check built against the frozen WIT `bosun:plugin@0.2.0`
//! (`wit/since_v0.2.0`) with wit-bindgen directly, not bosun-sdk (which follows
//! the current API), its manifest embedded by hand: a plugin as built for 0.2,
//! which a newer host must still load and run. Config `mode` picks host calls
//! whose types changed in 0.3; the metrics say what the 0.2 types carried, for
//! the host test to compare exactly:
//! - `process`: runs `false` and `true` -> `false-exit-code`, `true-exit-code`;
//! - `docker`: inspects config `container` -> `status`, `running`, `health`
//!   (`none` without a healthcheck), `exit-code`, `started-at` (as given),
//!   `started-at-set`, `mount-kinds` (comma-joined); finds it among all listed
//!   containers -> `state`, `created`;
//! - `net`: connects to 127.0.0.1, config `port` -> `connect-ok`.
//!
//! Every check logs one info line and passes once every host call answered; a
//! refused call is a `denied` error, another failure `failed`.

#![allow(clippy::too_many_arguments)] // generated bindings

use serde::Deserialize;

wit_bindgen::generate!({
    world: "smoke-check",
    path: "../../../../wit/since_v0.2.0",
    // wit-parser cannot resolve wasi:cli's `@unstable` timezone import unless
    // the feature is on; nothing here uses it.
    features: ["clocks-timezone"],
    generate_all,
});

use bosun::plugin::log::{self, Level};
use bosun::plugin::process::{self, RunOptions};
use bosun::plugin::types::{HostError, Kv};
use bosun::plugin::{docker, net};

/// What bosun-sdk 0.2's `export_check!` embedded, written out: the host reads
/// it before compiling the component.
#[cfg(target_arch = "wasm32")]
const MANIFEST: &str = r#"api = "0.2.0"
kind = "smoke-check"
version = "0.1.0"
name = "api-v02-fixture"
description = "Test plugin: built against bosun:plugin@0.2.0 without the SDK; reports what the 0.2 process, docker and net types carry"

[capabilities]
docker = ["inspect:*"]
process = ["run:false", "run:true"]
net = ["127.0.0.1:*"]
"#;

#[cfg(target_arch = "wasm32")]
#[used]
#[unsafe(link_section = "bosun:manifest")]
static MANIFEST_SECTION: [u8; MANIFEST.len()] = *MANIFEST.as_bytes().first_chunk().unwrap();

/// The address `net` mode probes.
const PROBED_HOST: &str = "127.0.0.1";

#[derive(Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
enum Mode {
    Process,
    Docker { container: String },
    Net { port: u16 },
}

impl Mode {
    fn of(ctx: &RunContext) -> Result<Mode, PluginError> {
        serde_json::from_str(&ctx.config).map_err(|e| PluginError::InvalidConfig(e.to_string()))
    }
}

struct ApiV02Fixture;

impl Guest for ApiV02Fixture {
    fn check(ctx: RunContext) -> Result<CheckResult, PluginError> {
        let mode = Mode::of(&ctx)?;
        log::log(Level::Info, &format!("api 0.2 fixture checking with {}", ctx.config));
        let metrics = match mode {
            Mode::Process => process_metrics()?,
            Mode::Docker { container } => docker_metrics(&container)?,
            Mode::Net { port } => net_metrics(port)?,
        };
        Ok(CheckResult {
            passed: true,
            summary: format!("{} facts from the 0.2 host calls", metrics.len()),
            conditions: Vec::new(),
            metrics,
            suggestion: None,
        })
    }

    fn validate(ctx: RunContext) -> Result<Vec<String>, PluginError> {
        Ok(match Mode::of(&ctx)? {
            Mode::Net { port } => vec![format!("{PROBED_HOST}:{port}")],
            Mode::Process | Mode::Docker { .. } => Vec::new(),
        })
    }
}

export!(ApiV02Fixture);

fn process_metrics() -> Result<Vec<Kv>, PluginError> {
    Ok(vec![metric("false-exit-code", exit_code("false")?), metric("true-exit-code", exit_code("true")?)])
}

/// The 0.2 `output.exit-code` of running `program` without arguments.
fn exit_code(program: &str) -> Result<i32, PluginError> {
    let opts = RunOptions { cwd: None, env: Vec::new(), stdin: None, stdout_to: None, timeout_ms: None };
    let output = process::run(&[program.to_string()], &opts).map_err(|e| plugin_error("process.run", e))?;
    Ok(output.exit_code)
}

fn docker_metrics(container: &str) -> Result<Vec<Kv>, PluginError> {
    let details = docker::inspect_container(container).map_err(|e| plugin_error("docker.inspect-container", e))?;
    let listed = docker::list_containers(true, &[]).map_err(|e| plugin_error("docker.list-containers", e))?;
    let summary = listed
        .into_iter()
        .find(|c| c.id == details.id)
        .ok_or_else(|| PluginError::Failed(format!("docker.list-containers did not list {container}")))?;
    let mount_kinds: Vec<&str> = details.mounts.iter().map(|m| m.kind.as_str()).collect();
    Ok(vec![
        metric("status", &details.status),
        metric("running", details.running),
        metric("health", details.health.as_deref().unwrap_or("none")),
        metric("exit-code", details.exit_code),
        metric("started-at", &details.started_at),
        metric("started-at-set", !details.started_at.is_empty()),
        metric("mount-kinds", mount_kinds.join(",")),
        metric("state", &summary.state),
        metric("created", summary.created),
    ])
}

fn net_metrics(port: u16) -> Result<Vec<Kv>, PluginError> {
    let connect_ok = match net::tcp_connect(PROBED_HOST, port, 1000) {
        Ok(_) => true,
        // Nothing answering is a fact to report, not an error.
        Err(HostError::Failed(_) | HostError::TimedOut(_)) => false,
        Err(e) => return Err(plugin_error("net.tcp-connect", e)),
    };
    Ok(vec![metric("connect-ok", connect_ok)])
}

fn metric(key: &str, value: impl ToString) -> Kv {
    Kv { key: key.into(), value: value.to_string() }
}

fn plugin_error(call: &str, error: HostError) -> PluginError {
    match error {
        HostError::Denied(why) => PluginError::Denied(why),
        HostError::NotFound(why) | HostError::Invalid(why) | HostError::Failed(why) | HostError::TimedOut(why) => {
            PluginError::Failed(format!("{call}: {why}"))
        }
    }
}
