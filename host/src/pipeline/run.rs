//! Running a pipeline: its steps in the order their needs give, up to
//! `max_parallel` at once, each with its `if`, retries and timeout; then,
//! when a step failed, the `on_failure` steps. Every step's state is in the
//! state store as it changes, so a run that dies is found `interrupted`.

use std::pin::pin;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::args::Args;
use super::step::{self, StepContext, StepDone, StepError};
use super::task::Task;
use crate::app::App;
use crate::config::pipeline::{DEFAULT_MAX_PARALLEL, Pipeline, RUN_CONTEXTS, STEP_CONTEXTS, Step, graph};
use crate::config::parse_duration;
use crate::expr::{self, JobStatus, Scope, Template};
use crate::failure::{BAD_INPUT, Failure};
use crate::ops::cancel::{self, Cancel, Canceller};
use crate::state::{EventLog, KeyHeld, Outcome, PlannedStep, StepEnd, StepRecord, StepState};

const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(300);

/// How one step went.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub id: String,
    /// `steps` or `on_failure`.
    pub phase: &'static str,
    pub uses: String,
    /// Steps of one wave need only steps of earlier waves.
    pub wave: usize,
    pub state: StepState,
    /// Failed, but `continue_on_error` let the run go on as if it succeeded.
    pub continued: bool,
    pub attempts: u32,
    pub elapsed_ms: u128,
    pub summary: String,
    /// Its `with`, evaluated.
    pub args: Map<String, Value>,
    pub outputs: Map<String, Value>,
    /// In a dry run: what it would have changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<String>,
}

impl StepReport {
    /// A step that ended without running (skipped, failed to start,
    /// cancelled); a step that ran fills in the rest.
    fn unrun(step: &Step, phase: &'static str, wave: usize, state: StepState, summary: String) -> StepReport {
        StepReport {
            id: step.id.clone(),
            phase,
            uses: step.label(),
            wave,
            state,
            continued: state == StepState::Failed && step.continue_on_error,
            attempts: 0,
            elapsed_ms: 0,
            summary,
            args: Map::new(),
            outputs: Map::new(),
            planned: Vec::new(),
        }
    }
}

/// How a run went.
#[derive(Debug, Serialize)]
pub struct Ran {
    pub run_id: i64,
    pub pipeline: String,
    pub dry_run: bool,
    pub outcome: Outcome,
    pub inputs: Map<String, Value>,
    pub steps: Vec<StepReport>,
    pub elapsed_ms: u128,
}

/// What a run shows as it goes.
pub enum Event<'a> {
    /// The run is recorded (its id known): before any step starts.
    Began { run_id: i64 },
    Started { step: &'a str, attempt: u32, attempts: u32 },
    Retrying { step: &'a str, attempt: u32, wait: Duration, error: &'a str },
    /// Work within a step: `done` of `total` (bytes of an image pull).
    Progress { step: &'a str, label: &'a str, done: u64, total: Option<u64> },
    /// A line of a step's log: a command's as it writes it, any other
    /// step's when it ends.
    Line { step: &'a str, text: &'a str },
    Ended(&'a StepReport),
}

impl Event<'_> {
    /// What the run's record keeps of it (`run_events`): the kind and its
    /// facts. Progress is not kept (a pull reports many times a second).
    fn recorded(&self) -> Option<(&'static str, Value)> {
        Some(match self {
            Event::Began { .. } | Event::Progress { .. } => return None,
            Event::Started { step, attempt, attempts } => ("started", json!({ "step": step, "attempt": attempt, "attempts": attempts })),
            Event::Retrying { step, attempt, wait, error } => ("retrying", json!({ "step": step, "attempt": attempt, "wait_ms": wait.as_millis() as u64, "error": error })),
            Event::Line { step, text } => ("line", json!({ "step": step, "text": text })),
            Event::Ended(report) => ("ended", json!({ "step": report.id, "state": report.state, "summary": report.summary, "elapsed_ms": report.elapsed_ms as u64 })),
        })
    }
}

/// The most log lines of one step a run's events keep: a command writing
/// without end fills neither the store nor the clients following the run.
/// The step's record keeps the end of its output regardless.
pub const MAX_RECORDED_LINES: usize = 10_000;

/// Keeps what run `run_id` shows in its record (`events`), then shows it with `observe`.
fn recording<'a>(events: Option<&'a EventLog>, run_id: i64, observe: Observer<'a>) -> impl Fn(Event<'_>) + Send + Sync + 'a {
    let lines = std::sync::Mutex::new(std::collections::HashMap::<String, usize>::new());
    move |event: Event<'_>| {
        if let (Some(events), Some((kind, data))) = (events, event.recorded()) {
            let seen = match &event {
                Event::Line { step, .. } => {
                    let mut lines = lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let seen = lines.entry(step.to_string()).or_default();
                    *seen += 1;
                    *seen
                }
                _ => 0,
            };
            match (seen, &event) {
                (n, Event::Line { step, .. }) if n == MAX_RECORDED_LINES + 1 => {
                    let text = format!("(more lines than the {MAX_RECORDED_LINES} kept here; `bosun runs {run_id}` shows the end of the step's output)");
                    events.add(run_id, "line", &json!({ "step": step, "text": text }));
                }
                (n, _) if n > MAX_RECORDED_LINES => {}
                _ => events.add(run_id, kind, &data),
            }
        }
        observe(event);
    }
}

pub type Observer<'a> = &'a (dyn Fn(Event<'_>) + Send + Sync);

/// A new run, or a resumed one.
pub enum Start {
    /// Pipeline `pipeline` with `inputs` (already typed, see `inputs::resolve`),
    /// started by `by` (default: the local user, as for every record).
    New { pipeline: String, inputs: Map<String, Value>, dry_run: bool, by: Option<String> },
    /// Run `run_id` again from its first unfinished step, with its inputs;
    /// the steps that succeeded or were skipped are not repeated.
    Resume { run_id: i64 },
    /// One built-in step as a pipeline of its own, for `by`.
    Task { task: Task, by: String },
}

/// Runs a pipeline from the start, or resumes a run; Ctrl-C cancels it.
pub async fn run(app: &App, start: Start, observe: Observer<'_>) -> Result<Ran, Failure> {
    run_until(app, start, observe, Cancel::never()).await
}

/// [`run`], cancelled as by Ctrl-C when `stop` fires too (`bosun serve`'s
/// cancel route and its shutdown).
pub async fn run_until(app: &App, start: Start, observe: Observer<'_>, stop: Cancel) -> Result<Ran, Failure> {
    let state = app.state()?;
    let mut by = None;
    let mut task_pipeline = None;
    let (name, inputs, dry_run, resumed) = match start {
        Start::New { pipeline, inputs, dry_run, by: who } => {
            by = who;
            (pipeline, inputs, dry_run, None)
        }
        Start::Task { task, by: who } => {
            by = Some(who);
            let (pipeline, inputs) = task.pipeline();
            task_pipeline = Some(pipeline);
            (task.name().to_string(), inputs, false, None)
        }
        Start::Resume { run_id } => {
            let Resumable { pipeline, inputs, kept } = resumable(app, run_id)?;
            (pipeline, inputs, false, Some((run_id, kept)))
        }
    };
    let name = name.as_str();
    let pipeline = task_pipeline.as_ref().or_else(|| app.config.pipelines.get(name)).ok_or_else(|| {
        let known: Vec<&str> = app.config.pipelines.keys().map(String::as_str).collect();
        let known = if known.is_empty() { "none; add a [pipelines.<name>] table".to_string() } else { known.join(", ") };
        Failure::bad_input(format!("no pipeline called {name}; bosun.toml has: {known}"))
    })?;
    let started = Instant::now();
    let run_scope = |run_id: Value| {
        Scope::new(JobStatus::Success)
            .with("inputs", Value::Object(inputs.clone()))
            .with("env", Value::Object(environment()))
            .with("run", json!({ "id": run_id, "pipeline": name, "dry_run": dry_run }))
    };
    let key = match &pipeline.concurrency {
        Some(text) => Some(concurrency_key(name, text, &run_scope(Value::Null))?),
        None => None,
    };
    let planned: Vec<PlannedStep<'_>> = phases(pipeline).flat_map(|(phase, steps)| steps.iter().enumerate().map(move |(position, s)| PlannedStep { id: &s.id, phase, position })).collect();
    let busy = |held: KeyHeld| {
        Failure::busy(format!(
            "pipeline {name}: run {} ({}, started {}) holds concurrency key {}; wait for it to end, or see `bosun runs {}`",
            held.run_id,
            held.who,
            crate::time::rfc3339(held.started_at.max(0) as u64),
            held.key,
            held.run_id
        ))
    };
    let mut progress = Progress::default();
    let run_id = match &resumed {
        None => state.start_pipeline_run(name, &Value::Object(inputs.clone()), dry_run, &planned, key.as_deref(), by.as_deref())?.map_err(busy)?,
        Some((run_id, kept)) => {
            let kept: Vec<&StepRecord> = kept.iter().filter(|k| pipeline.steps.iter().any(|s| s.id == k.step)).collect();
            let ids: Vec<&str> = kept.iter().map(|k| k.step.as_str()).collect();
            state.resume_pipeline_run(*run_id, &ids, &planned, key.as_deref())?.map_err(busy)?;
            let waves = Pipeline::waves(&pipeline.steps);
            for record in kept {
                let (index, step) = pipeline.steps.iter().enumerate().find(|(_, s)| s.id == record.step).expect("kept steps are in the pipeline");
                let wave = waves.iter().position(|w| w.contains(&index)).unwrap_or(0);
                let outputs = record.outputs.as_object().cloned().unwrap_or_default();
                let report = StepReport { attempts: record.attempts as u32, outputs, ..StepReport::unrun(step, "steps", wave, record.state, format!("kept from before the resume: {}", record.summary)) };
                progress.keep(report);
            }
            *run_id
        }
    };
    observe(Event::Began { run_id });
    // A dry run changes nothing, its record included.
    let events = match dry_run {
        true => None,
        false => state.event_log().inspect_err(|e| tracing::warn!("run {run_id}'s events will not be recorded: {e}")).ok(),
    };
    let recorded = recording(events.as_ref(), run_id, observe);
    let observe: Observer<'_> = &recorded;
    let (canceller, run_cancel) = cancel::pair();
    let runner = Runner {
        stop,
        canceller,
        run_cancel,
        run_id,
        base: run_scope(Value::from(run_id)),
        cx: StepContext { app, run_id, pipeline: name, dry_run, config_dir: app.config.resolve(std::path::Path::new("")), observe, by: by.clone() },
        max_parallel: pipeline.max_parallel.unwrap_or(DEFAULT_MAX_PARALLEL),
        observe,
    };
    let mut cancelled = runner.group("steps", &pipeline.steps, &mut progress).await;
    let failed = progress.reports.iter().any(|r| r.state == StepState::Failed && !r.continued);
    if failed && !cancelled {
        cancelled = runner.group("on_failure", &pipeline.on_failure, &mut progress).await;
    }
    let outcome = match (cancelled, failed) {
        (true, _) => Outcome::Cancelled,
        (false, true) => Outcome::Failed,
        (false, false) => Outcome::Succeeded,
    };
    let summary = summary(&progress.reports, outcome);
    progress.write(app, run_id, &progress.deferred);
    // Written before the outcome: whoever sees the run ended finds every event.
    if let Some(events) = &events {
        events.add(run_id, "finished", &json!({ "outcome": outcome, "summary": summary }));
        events.flush();
    }
    state.finish_run(run_id, outcome, &summary, "")?;
    state.release_pipeline_key(run_id)?;
    Ok(Ran { run_id, pipeline: name.to_string(), dry_run, outcome, inputs, steps: progress.reports, elapsed_ms: started.elapsed().as_millis() })
}

/// What a resume starts from.
struct Resumable {
    pipeline: String,
    inputs: Map<String, Value>,
    /// The steps that succeeded or were skipped: not run again.
    kept: Vec<StepRecord>,
}

/// What run `run_id` is resumed from, when it is a pipeline run that ended
/// without succeeding.
fn resumable(app: &App, run_id: i64) -> Result<Resumable, Failure> {
    let state = app.state()?;
    let not_found = || Failure::bad_input(format!("run {run_id} is not a pipeline run; `bosun runs` lists the recent ones"));
    let record = state.run(run_id)?.ok_or_else(not_found)?;
    let pipeline_run = state.pipeline_run(run_id)?.ok_or_else(not_found)?;
    match record.outcome {
        Outcome::Failed | Outcome::Cancelled | Outcome::Interrupted => {}
        Outcome::Running => return Err(Failure::busy(format!("run {run_id} is still running (started by {}); wait for it to end", record.who))),
        other => return Err(Failure::bad_input(format!("run {run_id} {}; only a failed, cancelled or interrupted run can be resumed", serde_json::to_value(other).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()))),
    }
    if pipeline_run.dry_run {
        return Err(Failure::bad_input(format!("run {run_id} was a dry run; start the pipeline again instead")));
    }
    let kept = state.pipeline_steps(run_id)?.into_iter().filter(|s| s.phase == "steps" && matches!(s.state, StepState::Succeeded | StepState::Skipped)).collect();
    let inputs = pipeline_run.inputs.as_object().cloned().unwrap_or_default();
    Ok(Resumable { pipeline: pipeline_run.pipeline, inputs, kept })
}

fn phases(pipeline: &Pipeline) -> impl Iterator<Item = (&'static str, &[Step])> {
    [("steps", pipeline.steps.as_slice()), ("on_failure", pipeline.on_failure.as_slice())].into_iter()
}

/// The `env` context: bosun's environment, secret-named variables'
/// values registered for masking (a step may copy them anywhere).
fn environment() -> Map<String, Value> {
    let vars = std::env::vars().inspect(|(name, value)| {
        if crate::config::secret_key(name) {
            crate::secrets::register(value);
        }
    });
    vars.map(|(name, value)| (name, Value::from(value))).collect()
}

fn concurrency_key(name: &str, text: &str, scope: &Scope) -> Result<String, Failure> {
    let template = Template::parse(text, RUN_CONTEXTS).map_err(|e| Failure::bad_input(format!("pipelines.{name}.concurrency: {e}")))?;
    let key = template.render(scope).map_err(|e| Failure::failed(format!("pipelines.{name}.concurrency: {e}")))?;
    Ok(format!("{name}:{key}"))
}

/// `deploy failed (step deploy: …); 2 succeeded, 1 skipped`.
fn summary(reports: &[StepReport], outcome: Outcome) -> String {
    let count = |state: StepState| reports.iter().filter(|r| r.state == state).count();
    let mut parts = Vec::new();
    for (state, word) in [(StepState::Succeeded, "succeeded"), (StepState::Failed, "failed"), (StepState::Skipped, "skipped"), (StepState::Cancelled, "cancelled")] {
        if count(state) > 0 {
            parts.push(format!("{} {word}", count(state)));
        }
    }
    let counts = format!("{} steps: {}", reports.len(), parts.join(", "));
    match reports.iter().find(|r| r.state == StepState::Failed && !r.continued) {
        Some(first) if outcome == Outcome::Failed => format!("step {} failed: {}; {counts}", first.id, first.summary),
        _ => counts,
    }
}

/// What does not change while a run goes.
struct Runner<'a> {
    /// Asked to stop from outside (as Ctrl-C asks).
    stop: Cancel,
    /// Fired by Ctrl-C: reaches every running step.
    canceller: Canceller,
    run_cancel: Cancel,
    run_id: i64,
    /// `inputs`, `env` and `run`; `steps` is added per step.
    base: Scope,
    cx: StepContext<'a>,
    max_parallel: usize,
    observe: Observer<'a>,
}

/// What the run has done so far.
#[derive(Default)]
struct Progress {
    reports: Vec<StepReport>,
    /// Step id → its entry in the `steps` context.
    contexts: Map<String, Value>,
    /// A dry run's step records, written together at its end: it changes
    /// nothing a crash could leave half done.
    deferred: Vec<StepEnd>,
}

impl Progress {
    fn record(&mut self, runner: &Runner<'_>, report: StepReport, log: &[String]) {
        let end = StepEnd { step: report.id.clone(), state: report.state, outputs: Value::Object(report.outputs.clone()), summary: report.summary.clone(), log: log.join("\n") };
        match runner.cx.dry_run {
            true => self.deferred.push(end),
            false => self.write(runner.cx.app, runner.run_id, &[end]),
        }
        (runner.observe)(Event::Ended(&report));
        self.keep(report);
    }

    fn write(&self, app: &App, run_id: i64, ends: &[StepEnd]) {
        if let Err(e) = app.state().map_err(Failure::from).and_then(|state| Ok(state.steps_finished(run_id, ends)?)) {
            tracing::warn!("recording the steps of run {run_id}: {}", e.message);
        }
    }

    /// Adds an ended step to the run: its report, and its entry in `steps`.
    fn keep(&mut self, report: StepReport) {
        let conclusion = if report.continued { StepState::Succeeded } else { report.state };
        let context = json!({ "outputs": report.outputs, "outcome": github_word(report.state), "conclusion": github_word(conclusion) });
        self.contexts.insert(report.id.clone(), context);
        self.reports.push(report);
    }

    fn report(&self, id: &str) -> Option<&StepReport> {
        self.reports.iter().find(|r| r.id == id)
    }
}

/// How GitHub names a step's outcome in `steps.<id>.outcome`.
fn github_word(state: StepState) -> &'static str {
    match state {
        StepState::Succeeded => "success",
        StepState::Failed => "failure",
        StepState::Skipped => "skipped",
        _ => "cancelled",
    }
}

/// One try's result.
struct Attempted {
    index: usize,
    args: Args,
    result: Result<StepDone, StepError>,
    attempts: u32,
    elapsed: Duration,
}

impl Runner<'_> {
    /// Runs `steps` (one phase) to the end; true when Ctrl-C cancelled it.
    async fn group(&self, phase: &'static str, steps: &[Step], progress: &mut Progress) -> bool {
        let needs = Pipeline::needs_of(steps);
        let waves = Pipeline::waves(steps);
        let wave_of = |i: usize| waves.iter().position(|w| w.contains(&i)).unwrap_or(0);
        // Steps kept from before a resume have ended already.
        let mut started: Vec<bool> = steps.iter().map(|s| progress.report(&s.id).is_some()).collect();
        let mut running = FuturesUnordered::new();
        let mut stop = pin!(async {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = self.stop.cancelled() => {}
            }
        });
        loop {
            for i in 0..steps.len() {
                let ended = |n: &usize| progress.report(&steps[*n].id).is_some();
                if started[i] || self.cancelled() || running.len() >= self.max_parallel || !needs[i].iter().all(ended) {
                    continue;
                }
                started[i] = true;
                let step = &steps[i];
                let scope = self.base.clone().with("steps", Value::Object(progress.contexts.clone())).with_status(self.status(i, steps, &needs, progress));
                let unrun = |state, summary| StepReport::unrun(step, phase, wave_of(i), state, summary);
                match holds(step, &scope) {
                    Err(e) => progress.record(self, unrun(StepState::Failed, e), &[]),
                    Ok(false) => progress.record(self, unrun(StepState::Skipped, format!("skipped: `if` is false ({})", step.condition.as_deref().unwrap_or("success()"))), &[]),
                    Ok(true) => match Args::resolve(&step.id, &step.with, &scope) {
                        Err(e) => progress.record(self, unrun(StepState::Failed, e.message), &[]),
                        Ok(args) => running.push(self.attempt(i, step, args)),
                    },
                }
            }
            if running.is_empty() {
                return self.cancelled();
            }
            tokio::select! {
                Some(attempted) = running.next() => {
                    let step = &steps[attempted.index];
                    let (report, log) = self.finished(phase, step, wave_of(attempted.index), attempted);
                    progress.record(self, report, &log);
                }
                () = &mut stop, if !self.cancelled() => {
                    // Every running step is told; a deploy undoes what it did
                    // before it ends, the others end at once.
                    self.canceller.cancel();
                }
            }
            if self.cancelled() && running.is_empty() {
                return true;
            }
        }
    }

    /// What `success()` and `failure()` answer for step `i`: failure when a
    /// step it needs, directly or through others, failed; skipped when a
    /// step it needs directly was skipped (GitHub's rules for `needs`).
    fn status(&self, i: usize, steps: &[Step], needs: &[Vec<usize>], progress: &Progress) -> JobStatus {
        let state = |n: usize| progress.report(&steps[n].id).map(|r| (r.state, r.continued));
        if graph::ancestors(i, needs).into_iter().any(|a| state(a) == Some((StepState::Failed, false))) {
            JobStatus::Failure
        } else if needs[i].iter().any(|&n| state(n).is_some_and(|(s, _)| s == StepState::Skipped)) {
            JobStatus::Skipped
        } else {
            JobStatus::Success
        }
    }

    /// Runs a step, again after a pause while it fails and tries are left.
    async fn attempt(&self, index: usize, step: &Step, args: Args) -> Attempted {
        let started = Instant::now();
        let attempts = step.retry.as_ref().map_or(1, |r| r.attempts.max(1));
        let delays = step.retry.as_ref().map(|r| (duration_or(&r.backoff, DEFAULT_BACKOFF), duration_or(&r.max_delay, DEFAULT_MAX_DELAY)));
        let timeout = step.timeout.as_deref().and_then(|t| parse_duration(t).ok());
        let state = self.cx.app.state().ok();
        let mut attempt = 1;
        loop {
            if let Some(state) = state.filter(|_| !self.cx.dry_run)
                && let Err(e) = state.step_started(self.run_id, &step.id, attempt)
            {
                tracing::warn!("recording step {} of run {}: {e}", step.id, self.run_id);
            }
            (self.observe)(Event::Started { step: &step.id, attempt, attempts });
            let result = self.bounded(step, &args, timeout).await;
            let retry = matches!(&result, Err(e) if e.failure.code != BAD_INPUT) && attempt < attempts && !self.cancelled();
            if !retry {
                return Attempted { index, args, result, attempts: attempt, elapsed: started.elapsed() };
            }
            let (backoff, max_delay) = delays.expect("a step with tries left has a retry table");
            let wait = backoff.saturating_mul(1 << (attempt - 1).min(20)).min(max_delay);
            let error = result.err().map(|e| e.failure.message).unwrap_or_default();
            (self.observe)(Event::Retrying { step: &step.id, attempt, wait, error: &error });
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One try of `step`, within its timeout and until the run is cancelled.
    /// A deploy or rollback is told and awaited (it undoes what it did); any
    /// other step is dropped (a command's process group is killed).
    async fn bounded(&self, step: &Step, args: &Args, timeout: Option<Duration>) -> Result<StepDone, StepError> {
        let (canceller, cancel) = cancel::pair();
        let mut once = pin!(step::run(&self.cx, step, args, cancel));
        let limit = async {
            match timeout {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let why = tokio::select! {
            result = &mut once => return result,
            () = limit => format!("step {} timed out after {}", step.id, crate::time::elapsed(timeout.unwrap_or_default())),
            () = self.run_cancel.cancelled() => format!("step {} was cancelled while it ran (Ctrl-C, or a cancel through bosun serve)", step.id),
        };
        canceller.cancel();
        let (undone, log) = match step.builtin().is_some_and(|b| b.winds_down) {
            true => match once.await {
                Ok(_) => (" (it finished first)".to_string(), Vec::new()),
                Err(e) => (format!("; {}", e.failure.message), e.log),
            },
            false => (String::new(), Vec::new()),
        };
        Err(StepError { failure: Failure::failed(format!("{why}{undone}")), log })
    }

    fn cancelled(&self) -> bool {
        self.run_cancel.is_cancelled()
    }

    fn finished(&self, phase: &'static str, step: &Step, wave: usize, attempted: Attempted) -> (StepReport, Vec<String>) {
        let Attempted { args, result, attempts, elapsed, .. } = attempted;
        let failed = if self.cancelled() { StepState::Cancelled } else { StepState::Failed };
        let (state, done, log) = match result {
            Ok(done) => (if done.skipped { StepState::Skipped } else { StepState::Succeeded }, done, Vec::new()),
            Err(e) => (failed, StepDone { summary: e.failure.message, ..StepDone::default() }, e.log),
        };
        let log = if log.is_empty() { done.log.clone() } else { log };
        let report = StepReport {
            attempts,
            elapsed_ms: elapsed.as_millis(),
            args: args.as_json().clone(),
            outputs: done.outputs,
            planned: done.planned,
            ..StepReport::unrun(step, phase, wave, state, done.summary)
        };
        (report, log)
    }
}

fn duration_or(text: &Option<String>, default: Duration) -> Duration {
    text.as_deref().and_then(|t| parse_duration(t).ok()).unwrap_or(default)
}

/// Whether the step's `if` holds (none: `success()`).
fn holds(step: &Step, scope: &Scope) -> Result<bool, String> {
    let condition = step.condition.as_deref().unwrap_or("");
    let parsed = expr::condition(condition, STEP_CONTEXTS).map_err(|e| format!("step {}: if: {e}", step.id))?;
    expr::evaluate(&parsed, scope).map(|v| v.is_truthy()).map_err(|e| format!("step {}: if: {e}", step.id))
}
