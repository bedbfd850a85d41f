//! A pipeline step for bosun's tests: returns its `outputs` table as the
//! step's outputs; with `argv`, first runs that command (a process grant it
//! may lack); with `skip`, skips; with `flood = N`, adds an output of N
//! bytes. `validate` refuses an empty `outputs` key.

use std::collections::BTreeMap;

use bosun_sdk::host::process;
use bosun_sdk::{Context, Error, PipelineStep, StepResult};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    outputs: BTreeMap<String, String>,
    #[serde(default)]
    argv: Vec<String>,
    #[serde(default)]
    skip: bool,
    /// Adds an output `flood` of this many bytes (for the host's cap).
    #[serde(default)]
    flood: usize,
}

struct StepProbe;

impl PipelineStep for StepProbe {
    fn validate(ctx: &Context) -> Result<(), Error> {
        let cfg: Config = ctx.config()?;
        match cfg.outputs.keys().find(|k| k.is_empty()) {
            Some(_) => Err(Error::invalid_config("outputs: a key is empty")),
            None => Ok(()),
        }
    }

    fn run(ctx: &Context) -> Result<StepResult, Error> {
        let cfg: Config = ctx.config()?;
        if cfg.skip {
            return Err(Error::Skipped("asked to skip".into()));
        }
        let mut outputs = cfg.outputs;
        if cfg.flood > 0 {
            outputs.insert("flood".into(), "x".repeat(cfg.flood));
        }
        if !cfg.argv.is_empty() {
            let options = process::RunOptions { cwd: None, env: vec![], stdin: None, stdout_to: None, timeout_ms: None };
            let out = process::run(&cfg.argv, &options)?;
            outputs.insert("stdout".into(), String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
        Ok(StepResult::new(format!("{} outputs", outputs.len()), outputs))
    }
}

bosun_sdk::export_pipeline_step!(StepProbe);
