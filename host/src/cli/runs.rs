//! `bosun runs [ID]`: the record every operation leaves (what, on what, who,
//! when, how it ended, and its log; a pipeline run's steps).

use clap::Args;

use super::output::{Failure, Output};
use crate::app::App;
use crate::state::{RunRecord, StepRecord};
use crate::time::rfc3339;

#[derive(Args)]
pub struct RunsArgs {
    /// Show this run in full, with its log.
    id: Option<i64>,
    /// How many recent runs to list.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

pub async fn run(args: RunsArgs, app: &App, out: Output) -> Result<(), Failure> {
    let state = app.state()?;
    let Some(id) = args.id else {
        let runs = state.recent_runs(args.limit)?;
        out.print(&runs, || list_text(&runs));
        return Ok(());
    };
    let run = state.run(id)?.ok_or_else(|| Failure::bad_input(format!("no run {id} in this project's state; `bosun runs` lists the recent ones")))?;
    let steps = state.pipeline_steps(id)?;
    if steps.is_empty() {
        out.print(&run, || format!("{}\n\n{}", line(&run), run.log.trim_end()));
        return Ok(());
    }
    let inputs = state.pipeline_run(id)?.map(|p| p.inputs).unwrap_or_default();
    let value = serde_json::json!({ "run": run, "inputs": inputs, "steps": steps });
    out.print(&value, || format!("{}\ninputs {inputs}\n{}", line(&run), steps.iter().map(step_text).collect::<Vec<_>>().join("\n")));
    Ok(())
}

/// A pipeline step: its state, tries and summary, then its log indented.
fn step_text(step: &StepRecord) -> String {
    let phase = if step.phase == "on_failure" { " (on failure)" } else { "" };
    let mut text = format!("  {}{phase}: {}, {} tries  {}", step.step, step.state.as_str(), step.attempts, step.summary);
    if step.outputs.as_object().is_some_and(|o| !o.is_empty()) {
        text.push_str(&format!("\n    outputs {}", step.outputs));
    }
    for log_line in step.log.lines() {
        text.push_str(&format!("\n    | {log_line}"));
    }
    text
}

fn list_text(runs: &[RunRecord]) -> String {
    if runs.is_empty() {
        return "no runs yet".into();
    }
    runs.iter().map(line).collect::<Vec<_>>().join("\n")
}

/// `42  2026-11-23T19:02:11Z  backup data  succeeded  ops  1 artifact, 3.1 MiB`
fn line(run: &RunRecord) -> String {
    let outcome = serde_json::to_value(run.outcome).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    format!("{:>5}  {}  {} {}  {outcome}  {}  {}", run.id, rfc3339(run.started_at.max(0) as u64), run.operation, run.target, run.who, run.summary)
}
