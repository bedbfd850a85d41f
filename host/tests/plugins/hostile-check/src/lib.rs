//! A smoke check that misbehaves on purpose, chosen by config `mode`:
//! - `noop`: pass at once (the warm-call benchmark; keep it minimal);
//! - `loop`: spin forever (the deadline / epoch interruption must stop it);
//! - `grow-memory`: allocate and touch 1 MiB chunks forever (the memory cap
//!   must stop it);
//! - `panic`: `panic!("hostile panic")` (a trap that must not poison the next call);
//! - `http`: GET config `url`; pass with the status, or return the error
//!   (denied when outside the grant);
//! - `process`: run config `argv`; pass when it exits 0, summary `exit <code>`,
//!   or return the host's error;
//! - `config`: pass with the config it was given, as JSON, for a summary
//!   (what bosun keeps to itself must not be in it).

use std::hint::black_box;

use bosun_sdk::host::process::{self, RunOptions};
use bosun_sdk::http::Request;
use bosun_sdk::{Check, CheckResult, Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    mode: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    argv: Vec<String>,
}

struct Hostile;

impl Check for Hostile {
    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        match cfg.mode.as_str() {
            "noop" => Ok(CheckResult::pass("noop")),
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "grow-memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = vec![0u8; 1 << 20];
                    for i in (0..chunk.len()).step_by(4096) {
                        chunk[i] = 1;
                    }
                    hoard.push(black_box(chunk));
                }
            }
            "panic" => panic!("hostile panic"),
            "http" => {
                let resp = Request::get(&cfg.url).timeout_ms(10_000).send()?;
                Ok(CheckResult::pass(format!("HTTP {}", resp.status)).with_metric("status", resp.status))
            }
            "config" => Ok(CheckResult::pass(ctx.config_json())),
            "process" => {
                let out = process::run(&cfg.argv, &RunOptions::default())?;
                let code = out.status.code().ok_or_else(|| Error::failed(out.status.to_string()))?;
                Ok(CheckResult::new(code == 0, format!("exit {code}")).with_metric("exit-code", code))
            }
            other => Err(Error::invalid_config(format!(
                "config key `mode`: unknown mode `{other}` (noop, loop, grow-memory, panic, http, process, config)"
            ))),
        }
    }
}

bosun_sdk::export_check!(Hostile);
