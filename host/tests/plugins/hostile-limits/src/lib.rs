//! A smoke check that attacks the host's resources, chosen by config `mode`
//! (`noop` passes at once: the host still works after an attack).
//! Needs no grant to make the host hold memory or write its log:
//! - `fields`: create empty wasi:http `fields` forever and keep them (the
//!   resource table's size);
//! - `full-fields`: the same, each filled to just under the most one
//!   `fields` may hold;
//! - `bodies`: outgoing requests, never sent, with their bodies' buffers full;
//! - `authorities`: outgoing requests, never sent, with a 1 MiB authority each;
//! - `log-flood`: log error lines forever;
//! - `progress-flood`: report progress forever (`progress` with config
//!   `count` passes after that many steps of `count`);
//! - `denial-flood`: call a host function it is not granted, forever (each
//!   denial is logged);
//! - `repeat-run`: run config `argv` forever (in a dry run, each call is
//!   recorded).
//!
//! And `inspect-env`: pass with the env of container config `host`.
//!
//! And host calls that wait, for the deadline to end them:
//! - `run`: run config `argv`; pass with its exit code and the length of the
//!   stderr tail it got back;
//! - `spawn-detached`: start config `argv` logging to config `path`;
//! - `find-pidfile`: find the process whose pid is in config `path`;
//! - `http`: GET config `url` with a 10-minute timeout;
//! - `archive`: archive config `path` to config `dest`, zstd at its slowest
//!   level (host file work).
//!
//! And `emit`: raise a notify event of kind config `kind` (its facts: a
//! disk, and the run id the host gave), then pass.

use bosun_sdk::host::docker;
use bosun_sdk::host::fs::{self, ArchiveRequest, Compression};
use bosun_sdk::host::notify;
use bosun_sdk::{Event, Kv, Severity};
use bosun_sdk::host::log::{self, Level};
use bosun_sdk::host::process::{self, DetachMethod, Matcher, RunOptions};
use bosun_sdk::host::wasi::http::types::{Fields, OutgoingBody, OutgoingRequest};
use bosun_sdk::host::wasi::io::streams::OutputStream;
use bosun_sdk::http::Request;
use bosun_sdk::{Check, CheckResult, Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    mode: String,
    #[serde(default)]
    argv: Vec<String>,
    #[serde(default)]
    path: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    dest: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    count: u64,
}

struct HostileLimits;

/// What the plugin keeps so the host cannot drop it.
#[derive(Default)]
struct Hoard {
    fields: Vec<Fields>,
    requests: Vec<(OutgoingRequest, OutgoingBody, OutputStream)>,
    bare_requests: Vec<OutgoingRequest>,
}

impl Check for HostileLimits {
    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        let mut hoard = Hoard::default();
        match cfg.mode.as_str() {
            "noop" => Ok(CheckResult::pass("noop")),
            "fields" => loop {
                hoard.fields.push(Fields::new());
            },
            "full-fields" => {
                // 56 KiB a `fields`, just under the 64 KiB one may hold.
                let value = vec![b'v'; 8 * 1024];
                loop {
                    let fields = Fields::new();
                    for i in 0..7 {
                        fields.append(&format!("x-h{i}"), &value).map_err(|e| Error::failed(format!("append: {e:?}")))?;
                    }
                    hoard.fields.push(fields);
                }
            }
            "bodies" => {
                let chunk = vec![b'b'; 64 * 1024];
                loop {
                    let request = OutgoingRequest::new(Fields::new());
                    let body = request.body().map_err(|()| Error::failed("no body"))?;
                    let stream = body.write().map_err(|()| Error::failed("no body stream"))?;
                    // Fill what the host buffers for a body that is never sent.
                    while let Ok(room @ 1..) = stream.check_write() {
                        let n = (room as usize).min(chunk.len());
                        if stream.write(&chunk[..n]).is_err() {
                            break;
                        }
                    }
                    hoard.requests.push((request, body, stream));
                }
            }
            "authorities" => {
                let authority = "a".repeat(1 << 20);
                loop {
                    let request = OutgoingRequest::new(Fields::new());
                    request.set_authority(Some(&authority)).map_err(|()| Error::failed("authority refused"))?;
                    hoard.bare_requests.push(request);
                }
            }
            "log-flood" => {
                let line = "flood ".repeat(20);
                loop {
                    log::log(Level::Error, &line);
                }
            }
            "repeat-run" => loop {
                let _ = process::run(&cfg.argv, &RunOptions::default());
            },
            "inspect-env" => {
                let details = docker::inspect_container(&cfg.host)?;
                Ok(CheckResult::pass(details.env.join(" ")))
            }
            "denial-flood" => loop {
                let _ = process::run(&["/bin/true".to_string()], &RunOptions::default());
            },
            "run" => {
                let out = process::run(&cfg.argv, &RunOptions::default())?;
                let code = out.status.code().ok_or_else(|| Error::failed(out.status.to_string()))?;
                Ok(CheckResult::pass(format!("exit {code}, stderr tail {} bytes", out.stderr_tail.len()))
                    .with_metric("stderr-tail-bytes", out.stderr_tail.len() as f64))
            }
            "spawn-detached" => {
                let pid = process::spawn_detached(&cfg.argv, DetachMethod::Setsid, &cfg.path, &RunOptions::default())?;
                Ok(CheckResult::pass(format!("pid {pid}")))
            }
            "find-pidfile" => {
                let found = process::find(&Matcher::Pidfile(cfg.path.clone()))?;
                Ok(CheckResult::pass(format!("{} found", found.len())))
            }
            "http" => {
                let resp = Request::get(&cfg.url).timeout_ms(600_000).send()?;
                Ok(CheckResult::pass(format!("HTTP {}", resp.status)))
            }
            "archive" => {
                let request = ArchiveRequest {
                    sources: vec![cfg.path.clone()],
                    excludes: vec![],
                    dest: cfg.dest.clone(),
                    compression: Compression::Zstd,
                    level: Some(19),
                    since_manifest: None,
                    manifest_dest: None,
                };
                let done = fs::archive(&request)?;
                Ok(CheckResult::pass(format!("{} bytes", done.archive.size)))
            }
            "progress" => {
                for step in 1..=cfg.count {
                    log::progress("step", step, Some(cfg.count));
                }
                Ok(CheckResult::pass("progressed"))
            }
            "progress-flood" => {
                for done in 0.. {
                    log::progress("forever", done, None);
                }
                unreachable!()
            }
            "emit" => {
                let facts = vec![Kv { key: "disk".into(), value: "/srv".into() }, Kv { key: "run-id".into(), value: ctx.run_id().into() }];
                let event = Event { kind: cfg.kind.clone(), severity: Severity::Warning, title: "disk almost full".into(), body: "/srv is 93% full".into(), facts, link: None };
                notify::emit(&event)?;
                Ok(CheckResult::pass("emitted"))
            }
            other => Err(Error::invalid_config(format!("config key `mode`: unknown mode `{other}`"))),
        }
    }
}

bosun_sdk::export_check!(HostileLimits);
