//! Runs each pipeline with a `schedule` when it is due, with its inputs'
//! defaults. A schedule missed while no `bosun serve` ran is run once at
//! start with `catch_up = true`, else recorded as missed: never dropped
//! without a word. A due run that finds its concurrency key held is recorded
//! as skipped, naming the holder.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::app::App;
use crate::config::pipeline::schedule::Schedule;
use crate::failure::{Failure, LOCKED};
use crate::ops::cancel::Cancel;
use crate::pipeline::{self, Event, Start};
use crate::state::{Outcome, now_unix};

/// A pipeline with a schedule.
pub struct Scheduled<'a> {
    pub pipeline: &'a str,
    pub schedule: Schedule,
    pub catch_up: bool,
}

/// Every scheduled pipeline in bosun.toml (validation parsed each already).
pub fn scheduled(app: &App) -> Vec<Scheduled<'_>> {
    let with_schedule = app.config.pipelines.iter().filter_map(|(name, p)| Some((name, p, p.schedule.as_deref()?)));
    with_schedule
        .filter_map(|(name, p, pattern)| Some(Scheduled { pipeline: name, schedule: Schedule::parse(pattern, p.timezone.as_deref()).ok()?, catch_up: p.catch_up }))
        .collect()
}

/// A scheduled pipeline as `bosun schedule list`, the API and the dashboard show it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ScheduleRow {
    pub pipeline: String,
    pub schedule: Option<String>,
    pub timezone: String,
    pub catch_up: bool,
    /// When it was last due (RFC 3339), if ever.
    pub last_due: Option<String>,
    /// When it is next due.
    pub next: String,
}

/// Each scheduled pipeline: its schedule, when it was last due and is next.
pub fn rows(app: &App) -> Result<Vec<ScheduleRow>, Failure> {
    let state = app.state()?;
    let now = now_unix();
    let mut rows = Vec::new();
    for s in scheduled(app) {
        let pipeline = &app.config.pipelines[s.pipeline];
        rows.push(ScheduleRow {
            pipeline: s.pipeline.to_string(),
            schedule: pipeline.schedule.clone(),
            timezone: s.schedule.zone.name().to_string(),
            catch_up: pipeline.catch_up,
            last_due: state.schedule_mark(s.pipeline)?.map(|t| crate::time::rfc3339(t.max(0) as u64)),
            next: next_text(&s.schedule, now),
        });
    }
    Ok(rows)
}

/// Runs the schedules until `stop` (serve's Ctrl-C or SIGTERM), then lets
/// the runs under way end.
pub async fn run(app: &App, stop: Cancel) -> Result<(), Failure> {
    let schedules = scheduled(app);
    if schedules.is_empty() {
        eprintln!("no pipeline has a schedule: nothing to run on time");
        return Ok(());
    }
    let state = app.state()?;
    let mut running = FuturesUnordered::new();
    let started = now_unix();
    for s in &schedules {
        if let Some(last) = state.schedule_mark(s.pipeline)?
            && let Some(missed) = s.schedule.last_due_between(last, started)
        {
            match s.catch_up {
                true => running.push(start(app, s.pipeline, missed)),
                false => record_unrun(app, s.pipeline, &format!("missed: due at {} while no bosun serve ran (catch_up = true runs it at start)", crate::time::rfc3339(missed as u64)))?,
            }
        }
        state.set_schedule_mark(s.pipeline, started)?;
        eprintln!("{}: next run at {}", s.pipeline, next_text(&s.schedule, started));
    }
    let mut stopped = std::pin::pin!(stop.cancelled());
    let mut due: Vec<Option<i64>> = schedules.iter().map(|s| s.schedule.next_after(started)).collect();
    loop {
        let now = now_unix();
        let wait = due.iter().flatten().min().map_or(Duration::from_secs(3600), |at| Duration::from_secs((at - now).max(0) as u64));
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                let now = now_unix();
                for (s, next) in schedules.iter().zip(due.iter_mut()) {
                    if let Some(at) = next.filter(|at| *at <= now) {
                        state.set_schedule_mark(s.pipeline, at)?;
                        running.push(start(app, s.pipeline, at));
                        *next = s.schedule.next_after(now);
                    }
                }
            }
            Some(()) = running.next(), if !running.is_empty() => {}
            () = &mut stopped => {
                eprintln!("stopping: {} run(s) under way end first", running.len());
                while running.next().await.is_some() {}
                return Ok(());
            }
        }
    }
}

/// A run of `pipeline` due at `due`, with its inputs' defaults.
async fn start(app: &App, pipeline: &str, due: i64) {
    let late = crate::state::now_unix().saturating_sub(due).max(0);
    crate::metrics::scheduler_lag(std::time::Duration::from_secs(late as u64));
    let due = crate::time::rfc3339(due as u64);
    let inputs = match pipeline::inputs::resolve(pipeline, &app.config.pipelines[pipeline], &[]) {
        Ok(inputs) => inputs,
        Err(e) => return eprintln!("{pipeline}: the run due at {due} cannot start: {}", e.message),
    };
    let observe = |event: Event<'_>| {
        if let Event::Ended(report) = event {
            eprintln!("{pipeline}: {}: {}: {}", report.id, report.state.as_str(), crate::secrets::mask(&report.summary));
        }
    };
    match pipeline::run(app, Start::New { pipeline: pipeline.to_string(), inputs, dry_run: false, by: Some("schedule".into()) }, &observe).await {
        Ok(ran) => eprintln!("{pipeline}: run {} (due at {due}) {}", ran.run_id, serde_json::to_value(ran.outcome).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()),
        Err(e) if e.code == LOCKED => {
            let summary = format!("skipped: due at {due}, but {}", e.message);
            if let Err(e) = record_unrun(app, pipeline, &summary) {
                eprintln!("{pipeline}: {}", e.message);
            }
            eprintln!("{pipeline}: {summary}");
        }
        Err(e) => eprintln!("{pipeline}: the run due at {due} failed to start: {}", e.message),
    }
}

/// A run record for a scheduled run that did not happen, and why.
fn record_unrun(app: &App, pipeline: &str, summary: &str) -> Result<(), Failure> {
    let state = app.state()?;
    let id = state.start_run("pipeline", pipeline)?;
    state.finish_run(id, Outcome::Skipped, summary, "")?;
    Ok(())
}

/// When `schedule` is next due after `unix`, in its own zone.
pub fn next_text(schedule: &Schedule, unix: i64) -> String {
    use chrono::TimeZone;
    match schedule.next_after(unix).and_then(|at| schedule.zone.timestamp_opt(at, 0).single()) {
        Some(at) => format!("{} ({})", at.format("%Y-%m-%d %H:%M:%S %Z"), schedule.zone.name()),
        None => "never".into(),
    }
}
