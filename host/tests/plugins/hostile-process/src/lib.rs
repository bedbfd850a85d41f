//! A smoke check that attacks process grants: it first plants files with
//! `fs.extract` (config `plant = [archive, dest]`; modes are kept, so an
//! executable of the plugin's own), then runs config `argv` with config `env`
//! and `cwd`. Passes when the command exits 0, summary `exit <code>: <stdout>`;
//! a host error is returned as it is, a killed command as a failure.

use std::collections::BTreeMap;

use bosun_sdk::host::{fs, process};
use bosun_sdk::{Check, CheckResult, Context, Error, Kv};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    argv: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<String>,
    #[serde(default)]
    plant: Vec<String>,
}

struct HostileProcess;

impl Check for HostileProcess {
    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        if let [archive, dest] = cfg.plant.as_slice() {
            fs::extract(archive, dest)?;
        }
        let env = cfg.env.into_iter().map(|(key, value)| Kv { key, value }).collect();
        let options = process::RunOptions { cwd: cfg.cwd, env, stdin: None, stdout_to: None, timeout_ms: None };
        let out = process::run(&cfg.argv, &options)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let code = out.status.code().ok_or_else(|| Error::failed(out.status.to_string()))?;
        Ok(CheckResult::new(code == 0, format!("exit {code}: {}", stdout.trim())))
    }
}

bosun_sdk::export_check!(HostileProcess);
