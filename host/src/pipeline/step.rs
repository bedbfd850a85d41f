//! The built-in steps: each calls the same `ops` code as its CLI verb and
//! turns what it returns into the step's outputs, summary and log.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::args::Args;
use crate::config::pipeline::Step;
use crate::app::App;
use crate::failure::{Failure, SKIPPED};
use crate::capability::fs::Owners;
use crate::ops::backup::{self, RestoreOptions, TakeOptions, Taken};
use crate::ops::cancel::Cancel;
use crate::ops::deploy::{self, ReleaseOptions, Released};
use crate::ops::notify::{self, Notice, Severity};
use crate::state::BackupKind;

/// The most a step's outputs may hold, keys and values together: later
/// steps get them in every expression scope, and the record keeps them.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// What a step did.
#[derive(Debug, Default)]
pub struct StepDone {
    pub outputs: Map<String, Value>,
    /// One line for the run's table.
    pub summary: String,
    pub log: Vec<String>,
    /// It decided it had nothing to do (a `before` hook or command exited 75).
    pub skipped: bool,
    /// In a dry run: what it would have changed.
    pub planned: Vec<String>,
}

/// Why a step failed, and what it logged on the way.
#[derive(Debug)]
pub struct StepError {
    pub failure: Failure,
    pub log: Vec<String>,
}

impl From<Failure> for StepError {
    fn from(failure: Failure) -> StepError {
        StepError { failure, log: Vec::new() }
    }
}

impl From<crate::state::StateError> for StepError {
    fn from(e: crate::state::StateError) -> StepError {
        Failure::from(e).into()
    }
}

/// Where a step runs.
pub struct StepContext<'a> {
    pub app: &'a App,
    pub run_id: i64,
    pub pipeline: &'a str,
    pub dry_run: bool,
    /// bosun.toml's directory: relative paths in steps start here.
    pub config_dir: PathBuf,
    /// Told of progress within a step (an image pull's bytes).
    pub observe: super::run::Observer<'a>,
    /// Who started the run (`token ci`, `schedule`); none: the local user.
    pub by: Option<String>,
}

impl StepContext<'_> {
    /// Shows a line of step `step`'s log (kept in the run's events).
    pub fn line(&self, step: &str, text: &str) {
        (self.observe)(super::run::Event::Line { step, text });
    }
}

/// Runs step `step`, showing its log: a command's lines as it writes them,
/// any other step's when it ends.
pub async fn run(cx: &StepContext<'_>, step: &Step, args: &Args, cancel: Cancel) -> Result<StepDone, StepError> {
    let id = step.id.as_str();
    if step.plugin.is_none() && step.uses == "command" {
        return super::command::run(id, args, &cx.config_dir, cx.dry_run, &|line| cx.line(id, line)).await;
    }
    let result = run_quiet(cx, step, args, cancel).await;
    let log = match &result {
        Ok(done) => &done.log,
        Err(e) => &e.log,
    };
    log.iter().for_each(|line| cx.line(id, line));
    result
}

/// Runs built-in step `uses` (validation made sure it is one) or a plugin's
/// step; `cancel` is for the steps that wind down when told (see
/// `BuiltinStep::winds_down`).
async fn run_quiet(cx: &StepContext<'_>, step: &Step, args: &Args, cancel: Cancel) -> Result<StepDone, StepError> {
    let (app, id, uses) = (cx.app, step.id.as_str(), step.uses.as_str());
    if let Some(plugin) = &step.plugin {
        return super::plugin::run(cx, id, plugin, args).await;
    }
    match uses {
        "backup" => backup_step(cx, args).await,
        "backup.verify" => {
            let verified = backup::verify(app, &args.required("backup")?, args.flag("restore_test")?).await?;
            let outputs = object(json!({ "id": verified.id, "artifacts": verified.artifacts, "bytes": verified.bytes }));
            Ok(StepDone { summary: format!("backup {}: {} artifacts intact", verified.id, verified.artifacts), outputs, ..StepDone::default() })
        }
        "backup.prune" => {
            let pruned = backup::prune(app, args.text("set")?.as_deref(), cx.dry_run)?;
            let removed: Vec<String> = pruned.plans.iter().flat_map(|p| p.removed().map(|d| d.id.clone())).collect();
            let kept: usize = pruned.plans.iter().map(|p| p.kept().count()).sum();
            let planned = if cx.dry_run { removed.iter().map(|id| format!("remove backup {id}")).collect() } else { Vec::new() };
            let summary = format!("{} removed, {kept} kept", removed.len());
            Ok(StepDone { outputs: object(json!({ "removed": removed.len(), "kept": kept })), summary, planned, ..StepDone::default() })
        }
        "restore" => restore_step(cx, args).await,
        "lock" | "unlock" => lock_step(cx, uses, args),
        "deploy" | "rollback" => release_step(cx, uses, args, cancel).await,
        "check" => check_step(cx, args).await,
        "notify" => notify_step(cx, args).await,
        "images.pull" | "images.update" | "images.prune" => super::images::run(cx, id, uses, args).await,
        "approve" => super::gate::approve(cx, id, args).await,
        "gate" => super::gate::gate(cx, args).await,
        "wait" => {
            let wait = args.duration("for")?.unwrap_or(Duration::ZERO);
            if !cx.dry_run {
                tokio::time::sleep(wait).await;
            }
            Ok(StepDone { summary: format!("waited {}", crate::time::elapsed(wait)), ..StepDone::default() })
        }
        other => Err(Failure::bad_input(format!("step {id}: no built-in step `{other}`")).into()),
    }
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

async fn backup_step(cx: &StepContext<'_>, args: &Args) -> Result<StepDone, StepError> {
    let set = args.required("set")?;
    let kind = Some(if args.flag("incremental")? { BackupKind::Incremental } else { BackupKind::Full });
    let options = TakeOptions { kind, dry_run: cx.dry_run, paths: None, tags: args.list("tags")? };
    match backup::take(cx.app, &set, &options).await {
        Err(failure) if failure.code == SKIPPED => Ok(StepDone { summary: failure.message, skipped: true, outputs: object(json!({ "skipped": true })), ..StepDone::default() }),
        Err(failure) => Err(failure.into()),
        Ok(Taken::Planned { calls, .. }) => Ok(StepDone {
            summary: format!("would back up {set} ({} host calls held back)", calls.len()),
            planned: calls.iter().map(|c| format!("{} {}", c.call, c.detail)).collect(),
            ..StepDone::default()
        }),
        Ok(Taken::Done { backup, warnings, .. }) => {
            let outputs = object(json!({ "id": backup.id, "dir": backup.dir, "bytes": backup.bytes, "skipped": false }));
            if !warnings.is_empty() {
                let failure = Failure::failed(format!("backup {} is taken and valid, but {}", backup.id, warnings.join("; ")));
                return Err(StepError { failure, log: warnings });
            }
            Ok(StepDone { summary: format!("backup {} of {set}: {} bytes", backup.id, backup.bytes), outputs, ..StepDone::default() })
        }
    }
}

async fn restore_step(cx: &StepContext<'_>, args: &Args) -> Result<StepDone, StepError> {
    let options = RestoreOptions {
        target: args.text("target")?.map(|t| cx.config_dir.join(t)),
        force: args.flag("force")?,
        keep_extra: args.flag("keep_extra")?,
        owners: Owners::default(),
        dry_run: cx.dry_run,
        // Nobody can answer here: a backup directory the catalog does not
        // know is restored only under `target`.
        yes: false,
        allow_paths: false,
        confirm: None,
    };
    let restored = backup::restore(cx.app, &args.required("backup")?, &options).await?;
    let targets: Vec<String> = restored.targets.iter().map(|t| t.display().to_string()).collect();
    let summary = match cx.dry_run {
        true => format!("would restore {} into {}", restored.id, targets.join(", ")),
        false => format!("restored {} into {}", restored.id, targets.join(", ")),
    };
    let planned = restored.planned.iter().map(|c| format!("{} {}", c.call, c.detail)).collect();
    Ok(StepDone { outputs: object(json!({ "id": restored.id, "safety_backup": restored.safety_backup })), summary, planned, ..StepDone::default() })
}

/// `lock` holds a service's lock as `bosun lock acquire` does (until an
/// `unlock` or `bosun lock release`); `unlock` releases it.
fn lock_step(cx: &StepContext<'_>, uses: &str, args: &Args) -> Result<StepDone, StepError> {
    let service = args.required("service")?;
    deploy::service(cx.app, &service)?;
    let scope = format!("{service}@{}", cx.app.config.project.env);
    if cx.dry_run {
        return Ok(StepDone { summary: format!("would {uses} {scope}"), planned: vec![format!("{uses} {scope}")], ..StepDone::default() });
    }
    let state = cx.app.state()?;
    if uses == "unlock" {
        let released = state.release_lock(&scope)?;
        return Ok(StepDone { summary: released.map_or(format!("{scope} was not locked"), |l| format!("released {scope} (held by {})", l.holder)), ..StepDone::default() });
    }
    let message = format!("pipeline {} run {}: {}", cx.pipeline, cx.run_id, args.text("message")?.unwrap_or_default());
    state.acquire_lock(&scope, 0, "", message.trim_end_matches(": ")).map_err(Failure::from)?;
    Ok(StepDone { summary: format!("{scope} locked"), ..StepDone::default() })
}

async fn release_step(cx: &StepContext<'_>, uses: &str, args: &Args, cancel: Cancel) -> Result<StepDone, StepError> {
    let service = args.required("service")?;
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = log.clone();
    let on_step = Box::new(move |step: &deploy::Step| {
        let mut lines = seen.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.last() != Some(&step.what) {
            lines.push(step.what.clone());
        }
    });
    let (hosts, from) = (args.list("hosts")?, args.text("from")?);
    let options = ReleaseOptions { note: args.text("message")?.unwrap_or_default(), dry_run: cx.dry_run, force: args.flag("force")?, on_step, cancel, by: cx.by.clone(), hosts, from };
    let rollout = match uses {
        "rollback" => deploy::rollback(cx.app, &service, args.text("to")?.as_deref(), &options).await,
        _ => deploy::deploy(cx.app, &service, args.text("version")?.as_deref(), &options).await,
    };
    let log = std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner));
    let rollout = rollout.map_err(|failure| StepError { failure, log: log.clone() })?;
    let named = rollout.hosts.len() > 1;
    let mut per_host = serde_json::Map::new();
    let mut done = StepDone { log, ..StepDone::default() };
    let mut summaries = Vec::new();
    for on in &rollout.hosts {
        let (outputs, summary, planned) = released_outputs(&on.released, uses, &service);
        done.planned.extend(planned);
        summaries.push(if named { format!("{}: {summary}", on.host) } else { summary });
        if done.outputs.is_empty() {
            done.outputs = outputs.clone();
        }
        per_host.insert(on.host.clone(), Value::Object(outputs));
    }
    if named {
        done.outputs.insert("hosts".into(), Value::Object(per_host));
    }
    done.summary = summaries.join("; ");
    Ok(done)
}

/// One host's release as step outputs, summary and planned lines.
fn released_outputs(released: &Released, uses: &str, service: &str) -> (serde_json::Map<String, Value>, String, Vec<String>) {
    let (plan, mut outputs, planned) = match released {
        Released::Planned { plan } => (plan, serde_json::Map::new(), plan.to_string().lines().map(str::to_string).collect()),
        Released::Unchanged { container, plan } => (plan, object(json!({ "container": container, "unchanged": true })), vec![]),
        Released::Done { release, plan, .. } => {
            let outputs = json!({ "release": release.id, "container": release.container_name, "image_digest": release.image_digest, "unchanged": false });
            (plan, object(outputs), vec![])
        }
    };
    let facts = plan.facts();
    outputs.insert("version".into(), Value::from(facts.version.clone()));
    outputs.insert("previous_version".into(), plan.previous().map_or(Value::Null, |(version, _)| Value::from(version)));
    let summary = match released {
        Released::Planned { .. } => format!("would {uses} {service} to {}", facts.version),
        Released::Unchanged { container, .. } => format!("{service} {} already runs as {container}; nothing changed", facts.version),
        Released::Done { release, .. } => format!("release {}: {service} {} runs as {}", release.id, release.version, release.container_name),
    };
    (outputs, summary, planned)
}

async fn check_step(cx: &StepContext<'_>, args: &Args) -> Result<StepDone, StepError> {
    use crate::ops::check;
    let selected = check::select(cx.app, &args.list("checks")?).map_err(Failure::failed)?;
    check::validate(cx.app, &selected).await.map_err(Failure::bad_input_each)?;
    let reports = check::run_suite(cx.app, &selected, check::DEFAULT_JOBS, cx.dry_run).await;
    let failed: Vec<&str> = reports.iter().filter(|r| r.failed_check()).map(|r| r.name.as_str()).collect();
    let passed = reports.iter().filter(|r| r.passed).count();
    let log: Vec<String> = reports.iter().map(ToString::to_string).collect();
    let summary = match failed.is_empty() {
        true => format!("{passed} of {} checks passed", reports.len()),
        false => format!("{} of {} checks failed: {}", failed.len(), reports.len(), failed.join(", ")),
    };
    if !failed.is_empty() {
        return Err(StepError { failure: Failure::failed(summary), log });
    }
    let outputs = object(json!({ "summary": summary, "passed": passed, "failed": 0, "failed_checks": "" }));
    let planned = reports.iter().flat_map(|r| r.planned.iter().map(|c| format!("{}: {} {}", r.name, c.call, c.detail))).collect();
    Ok(StepDone { outputs, summary, log, planned, ..StepDone::default() })
}

async fn notify_step(cx: &StepContext<'_>, args: &Args) -> Result<StepDone, StepError> {
    let kind = args.text("kind")?.unwrap_or_else(|| "pipeline.note".into());
    let notice = Notice::new(&kind, Severity::Info, args.required("title")?, args.text("message")?.unwrap_or_default());
    let channels = channels_for(cx, &kind, &args.list("channels")?);
    if cx.dry_run {
        let planned: Vec<String> = channels.iter().map(|(name, _)| format!("notify {name}: {}", notice.title)).collect();
        return Ok(StepDone { summary: format!("would notify {} channel(s)", planned.len()), planned, ..StepDone::default() });
    }
    let deliveries = send(cx, notice, &channels).await;
    let log: Vec<String> = deliveries.iter().map(ToString::to_string).collect();
    let sent = deliveries.iter().filter(|d| d.ok).count();
    let summary = format!("{sent} of {} deliveries sent", deliveries.len());
    if sent < deliveries.len() {
        return Err(StepError { failure: Failure::failed(summary), log });
    }
    Ok(StepDone { outputs: object(json!({ "sent": sent })), summary, log, ..StepDone::default() })
}

type Channels<'a> = Vec<(&'a String, &'a crate::config::Channel)>;

/// The channels `named`, or with none named those subscribed to `kind`.
pub fn channels_for<'a>(cx: &StepContext<'a>, kind: &str, named: &[String]) -> Channels<'a> {
    let all = cx.app.config.notify.iter();
    match named.is_empty() {
        true => all.filter(|(_, c)| notify::subscribed(c, kind)).collect(),
        false => all.filter(|(name, _)| named.contains(name)).collect(),
    }
}

/// Sends `notice`, with the run's facts and link, to `channels`.
pub async fn send(cx: &StepContext<'_>, notice: Notice, channels: &Channels<'_>) -> Vec<notify::Delivery> {
    let project = &cx.app.config.project;
    let notice = notify::of_run(cx.app, cx.run_id, notice.fact("pipeline", cx.pipeline).fact("project", &project.name).fact("env", &project.env));
    let sends = channels.iter().map(|(name, channel)| notify::deliver(cx.app, name, channel, &notice));
    futures_util::future::join_all(sends).await.into_iter().flatten().collect()
}
