//! A step a pipeline-step plugin runs: `plugin = "name"` in the step's
//! table. Its `with` (templates evaluated) is the plugin's config; it has the
//! grants of `[plugins.<name>]` and no others; its answer's outputs are the
//! step's. A plugin that skips marks the step skipped.

use super::args::Args;
use super::step::{MAX_OUTPUT_BYTES, StepContext, StepDone, StepError};
use crate::failure::Failure;
use crate::plugin::{Kind, PluginError};

pub async fn run(cx: &StepContext<'_>, id: &str, name: &str, args: &Args) -> Result<StepDone, StepError> {
    let app = cx.app;
    let plugin = app.plugin(name).map_err(Failure::from)?;
    if plugin.manifest.kind != Kind::PipelineStep {
        return Err(Failure::bad_input(format!("step {id}: plugin {name} is a {}, not a pipeline-step", plugin.manifest.kind)).into());
    }
    let mut setup = app.setup(&plugin, &toml::Table::new(), cx.dry_run).map_err(Failure::from)?.for_run(cx.run_id);
    setup.context.config = serde_json::Value::Object(args.as_json().clone()).to_string();
    let runtime = app.runtime().map_err(Failure::from)?;
    let called = runtime.validate_step(&plugin, setup.clone()).await.and(runtime.run_step(&plugin, setup).await);
    let called = match called {
        Ok(called) => called,
        Err(PluginError::Skipped { message, .. }) => return Ok(StepDone { summary: format!("skipped: {message}"), skipped: true, ..StepDone::default() }),
        Err(PluginError::FailedInDryRun { message, planned, .. }) => {
            let planned = planned.iter().map(|c| format!("{} {}", c.call, c.detail)).collect();
            return Ok(StepDone { summary: format!("not judged in a dry run: {message}"), planned, ..StepDone::default() });
        }
        Err(e) => return Err(Failure::from(anyhow::Error::from(e)).into()),
    };
    let size: usize = called.value.outputs.iter().map(|kv| kv.key.len() + kv.value.len()).sum();
    if size > MAX_OUTPUT_BYTES {
        return Err(Failure::failed(format!("step {id}: plugin {name} returned {size} bytes of outputs; a step's outputs hold at most {MAX_OUTPUT_BYTES}")).into());
    }
    crate::ops::notify::emitted(app, Some(cx.run_id), name, &called.events).await;
    let log = called.log_text().lines().map(str::to_string).collect();
    let planned = called.planned.iter().map(|c| format!("{} {}", c.call, c.detail)).collect();
    let outputs = called.value.outputs.into_iter().map(|kv| (kv.key, serde_json::Value::from(kv.value))).collect();
    Ok(StepDone { outputs, summary: called.value.summary, log, planned, ..StepDone::default() })
}
