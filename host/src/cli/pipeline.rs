//! `bosun run <pipeline>` and `bosun pipeline list | show`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use clap::{Args, Subcommand};
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::output::{Failure, Output};
use crate::app::App;
use crate::capability::ProgressUpdate;
use crate::config::pipeline::{Pipeline, Step};
use crate::failure::FAILED;
use crate::pipeline::{self, Event, Ran, Start, StepReport};
use crate::state::{Outcome, StepState};

#[derive(Args)]
pub struct RunArgs {
    /// The pipeline: a `[pipelines.<name>]` table in bosun.toml.
    #[arg(required_unless_present = "resume")]
    pipeline: Option<String>,
    /// Its inputs, as key=value (e.g. version=1.4.2).
    inputs: Vec<String>,
    /// Run read-only steps; for the others show the resolved arguments and
    /// what they would change, and change nothing.
    #[arg(long, conflicts_with = "resume")]
    dry_run: bool,
    /// Continue a failed, cancelled or interrupted run from its first
    /// unfinished step, with the same inputs; steps that succeeded are not repeated.
    #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["pipeline", "inputs"])]
    resume: Option<i64>,
}

#[derive(Subcommand)]
pub enum PipelineCommand {
    /// The pipelines in bosun.toml.
    List,
    /// One pipeline's inputs and steps, in the order they run.
    Show {
        name: String,
        /// Print the graph in Graphviz's dot language.
        #[arg(long)]
        dot: bool,
    },
}

#[derive(Args)]
pub struct DecideArgs {
    /// The run that waits (`bosun runs` shows it as `waiting`).
    run: i64,
    /// Why: recorded with the decision and shown by `bosun runs`.
    #[arg(short = 'm', long = "message", default_value = "")]
    message: String,
}

/// `bosun approve` / `bosun reject`: the decision the run's `approve` step waits for.
pub async fn decide(args: DecideArgs, approved: bool, app: &App, out: Output) -> Result<(), Failure> {
    let step = app.state()?.decide(args.run, approved, &args.message, &crate::state::who())?.map_err(Failure::bad_input)?;
    let value = serde_json::json!({ "run": args.run, "step": step, "approved": approved });
    let verb = if approved { "approved" } else { "rejected" };
    out.print(&value, || format!("{verb} step {step} of run {}; its bosun takes it from here", args.run));
    Ok(())
}

/// Exit code of a run stopped with Ctrl-C (128 + SIGINT, as shells report it).
const CANCELLED: u8 = 130;

pub async fn run(args: RunArgs, app: &App, out: Output) -> Result<(), Failure> {
    let start = match (args.resume, args.pipeline) {
        (Some(run_id), _) => Start::Resume { run_id },
        (None, pipeline) => {
            let pipeline = pipeline.unwrap_or_default();
            let inputs = match app.config.pipelines.get(&pipeline) {
                Some(p) => pipeline::inputs::resolve(&pipeline, p, &args.inputs)?,
                None => serde_json::Map::new(),
            };
            Start::New { pipeline, inputs, dry_run: args.dry_run, by: None }
        }
    };
    let shown = Arc::new(Shown::new(out));
    let observe = |event: Event<'_>| shown.event(event);
    // What plugins report (a backup's files, a restore's entries) goes to a bar of its own.
    let plugins = shown.clone();
    app.show_progress(Some(Arc::new(move |update: &ProgressUpdate| plugins.plugin_progress(update))));
    let ran = pipeline::run(app, start, &observe).await;
    app.show_progress(None);
    let ran = ran?;
    out.print(&ran, || ran_text(&ran));
    match ran.outcome {
        Outcome::Failed => Err(Failure::silent(FAILED)),
        Outcome::Cancelled => Err(Failure::silent(CANCELLED)),
        _ => Ok(()),
    }
}

pub async fn command(command: PipelineCommand, app: &App, out: Output) -> Result<(), Failure> {
    let pipelines = &app.config.pipelines;
    match command {
        PipelineCommand::List => {
            let listed: Vec<serde_json::Value> =
                pipelines.iter().map(|(name, p)| serde_json::json!({ "name": name, "description": p.description, "steps": p.steps.len(), "on_failure": p.on_failure.len() })).collect();
            out.print(&listed, || {
                if pipelines.is_empty() {
                    return "no pipelines in bosun.toml; add a [pipelines.<name>] table with [[pipelines.<name>.steps]]".into();
                }
                pipelines.iter().map(|(name, p)| format!("{name:<20}  {} steps  {}", p.steps.len(), p.description)).collect::<Vec<_>>().join("\n")
            });
        }
        PipelineCommand::Show { name, dot } => {
            let pipeline = pipelines.get(&name).ok_or_else(|| {
                Failure::bad_input(format!("no pipeline called {name}; `bosun pipeline list` shows them"))
            })?;
            let value = serde_json::json!({
                "name": name,
                "waves": Pipeline::waves(&pipeline.steps).iter().map(|w| w.iter().map(|&i| &pipeline.steps[i].id).collect::<Vec<_>>()).collect::<Vec<_>>(),
                "on_failure": Pipeline::waves(&pipeline.on_failure).iter().map(|w| w.iter().map(|&i| &pipeline.on_failure[i].id).collect::<Vec<_>>()).collect::<Vec<_>>(),
            });
            out.print(&value, || if dot { dot_text(&name, pipeline) } else { show_text(&name, pipeline) });
        }
    }
    Ok(())
}

fn show_text(name: &str, pipeline: &Pipeline) -> String {
    let mut lines = vec![match pipeline.description.is_empty() {
        true => format!("pipeline {name}"),
        false => format!("pipeline {name}: {}", pipeline.description),
    }];
    for (input, spec) in &pipeline.inputs {
        let default = spec.default.as_ref().map_or("required".to_string(), |d| format!("default {d}"));
        lines.push(format!("  input {input} ({:?}, {default}) {}", spec.kind, spec.description).to_lowercase().trim_end().to_string());
    }
    for (phase, steps) in [("steps", &pipeline.steps), ("on_failure", &pipeline.on_failure)] {
        if steps.is_empty() {
            continue;
        }
        lines.push(format!("{phase}:"));
        for (n, wave) in Pipeline::waves(steps).iter().enumerate() {
            for &i in wave {
                lines.push(format!("  {}  {}", n + 1, step_line(&steps[i])));
            }
        }
    }
    lines.join("\n")
}

/// `deploy  uses deploy  needs backup  if …`.
fn step_line(step: &Step) -> String {
    let mut line = format!("{:<16}  {}", step.id, step.label());
    if !step.needs.is_empty() {
        line.push_str(&format!("  needs {}", step.needs.join(", ")));
    }
    if let Some(condition) = &step.condition {
        line.push_str(&format!("  if {condition}"));
    }
    line
}

fn dot_text(name: &str, pipeline: &Pipeline) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut lines = vec![format!("digraph {} {{", quote(name)), "  rankdir=LR;".to_string()];
    for (phase, steps) in [("steps", &pipeline.steps), ("on_failure", &pipeline.on_failure)] {
        for step in steps.iter() {
            let style = if phase == "on_failure" { ", style=dashed" } else { "" };
            lines.push(format!("  {} [label={}{style}];", quote(&step.id), quote(&format!("{}\n{}", step.id, step.label()))));
            for need in &step.needs {
                lines.push(format!("  {} -> {};", quote(need), quote(&step.id)));
            }
        }
    }
    lines.push("}".into());
    lines.join("\n")
}

/// The end of a run: a table of its steps, or for a dry run the plan.
fn ran_text(ran: &Ran) -> String {
    let outcome = serde_json::to_value(ran.outcome).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let elapsed = crate::time::elapsed(std::time::Duration::from_millis(ran.elapsed_ms as u64));
    let dry = if ran.dry_run { " (dry run)" } else { "" };
    let mut lines = vec![format!("run {} of pipeline {}{dry}: {outcome} in {elapsed}", ran.run_id, ran.pipeline)];
    lines.push(format!("  {:<4}  {:<16}  {:<14}  {:<10}  {:>5}  {:>7}  summary", "wave", "step", "uses", "state", "tries", "time"));
    for step in &ran.steps {
        lines.push(step_row(step));
        if ran.dry_run {
            if !step.args.is_empty() {
                lines.push(format!("        with {}", crate::secrets::masked_json_line(&step.args)));
            }
            lines.extend(step.planned.iter().map(|call| format!("        would: {call}")));
        }
    }
    lines.join("\n")
}

fn step_row(step: &StepReport) -> String {
    let wave = if step.phase == "on_failure" { format!("f{}", step.wave + 1) } else { (step.wave + 1).to_string() };
    let state = if step.continued { "failed*" } else { step.state.as_str() };
    let time = crate::time::elapsed(std::time::Duration::from_millis(step.elapsed_ms as u64));
    format!("  {wave:<4}  {:<16}  {:<14}  {state:<10}  {:>5}  {time:>7}  {}", step.id, step.uses, step.attempts, step.summary).trim_end().to_string()
}

/// Live progress on stderr: a spinner per running step on a terminal, plain
/// lines otherwise (for logs); nothing with `--json`.
struct Shown {
    out: Output,
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
    /// The bar for plugin progress, while a plugin reports some.
    plugin_bar: Mutex<Option<ProgressBar>>,
}

impl Shown {
    fn new(out: Output) -> Shown {
        let bars = (!out.json && std::io::stderr().is_terminal()).then(|| (MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), Mutex::new(HashMap::new())));
        Shown { out, bars, plugin_bar: Mutex::new(None) }
    }

    /// A plugin's progress (on a terminal only): its label, and a bar once
    /// it says how much there is.
    fn plugin_progress(&self, update: &ProgressUpdate) {
        let Some((multi, _)) = &self.bars else { return };
        let mut bar = self.plugin_bar.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bar = bar.get_or_insert_with(|| multi.add(ProgressBar::new_spinner()));
        if let Some(total) = update.total.filter(|t| bar.length() != Some(*t)) {
            bar.set_style(ProgressStyle::with_template("  {msg} [{bar:30}] {pos}/{len}").expect("valid template").progress_chars("=> "));
            bar.set_length(total);
        }
        bar.set_message(format!("{}: {}", update.plugin, update.label));
        bar.set_position(update.done);
    }

    fn event(&self, event: Event<'_>) {
        if self.out.json {
            return;
        }
        let line = match &event {
            Event::Started { step, attempt, attempts } if *attempts > 1 => format!("{step}: started (try {attempt} of {attempts})"),
            Event::Started { step, .. } => format!("{step}: started"),
            Event::Retrying { step, attempt, wait, error } => format!("{step}: try {attempt} failed ({error}); trying again in {}", crate::time::elapsed(*wait)),
            // Progress shows on a terminal only; a log gets the step's lines.
            Event::Progress { step, label, done, total } if self.bars.is_some() => match total {
                Some(total) if *total > 0 => format!("{step}: {label} {}/{} ({}%)", HumanBytes(*done), HumanBytes(*total), done * 100 / total),
                _ => format!("{step}: {label}"),
            },
            // A step's log is in its record (`bosun runs ID`), not on the terminal.
            Event::Progress { .. } | Event::Began { .. } | Event::Line { .. } => return,
            Event::Ended(report) => {
                let time = crate::time::elapsed(std::time::Duration::from_millis(report.elapsed_ms as u64));
                format!("{}: {} in {time}: {}", report.id, report.state.as_str(), report.summary)
            }
        };
        let line = crate::secrets::mask(&line).into_owned();
        let Some((multi, bars)) = &self.bars else {
            eprintln!("{line}");
            return;
        };
        let mut bars = bars.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match event {
            Event::Started { step, .. } => {
                let bar = bars.entry(step.to_string()).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    bar
                });
                bar.set_message(line);
            }
            Event::Retrying { step, .. } | Event::Progress { step, .. } => bars.get(step).into_iter().for_each(|bar| bar.set_message(line.clone())),
            Event::Began { .. } | Event::Line { .. } => {}
            Event::Ended(report) => {
                if let Some(bar) = self.plugin_bar.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
                    bar.finish_and_clear();
                }
                let mark = match report.state {
                    StepState::Succeeded => "✓",
                    StepState::Skipped => "-",
                    _ => "✗",
                };
                let done = format!("{mark} {line}");
                match bars.remove(&report.id) {
                    Some(bar) => {
                        bar.set_style(ProgressStyle::with_template("{msg}").expect("valid template"));
                        bar.finish_with_message(done);
                    }
                    None => {
                        let _ = multi.println(done);
                    }
                }
            }
        }
    }
}
