//! A release across a service's hosts. Every host is reached and planned
//! before any changes; then they change all at once, `parallel` at a time,
//! or `rolling` in batches with a pause between. A host that fails stops
//! the rollout and the hosts already done are put back, as Kamal does;
//! `on_failure = "continue"` goes on with the others instead. One service
//! lock and one run cover every host; each host gets its release record.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::Serialize;

use super::client::DockerClient;
use super::snapshot::Snapshot;
use super::steps::{OnStep, Step};
use super::{ReleaseOptions, ReleasePlan, Released, Target, apply, compose, plan_run, rollback_target, swarm};
use crate::app::App;
use crate::config::{OnFailure, Strategy};
use crate::docker::Endpoint;
use crate::failure::Failure;
use crate::ops::lock::ServiceLock;
use crate::ops::notify::{self, Notice, Severity};
use crate::state::{NewRelease, Outcome, ReleaseKind, ReleaseOutcome, ReleaseRecord};

/// A release's target on one host.
pub struct HostTarget {
    pub host: String,
    pub target: Target,
}

/// What a release did on each host.
#[derive(Serialize)]
pub struct Rollout {
    /// In the order the hosts were taken.
    pub hosts: Vec<OnHost>,
    /// Hosts of the service left out, each with why (`--from`, a rollback
    /// already there).
    pub skipped: Vec<Skipped>,
}

#[derive(Serialize)]
pub struct OnHost {
    pub host: String,
    #[serde(flatten)]
    pub released: Released,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub host: String,
    pub reason: String,
}

/// One host, reached and planned.
struct Prepared {
    host: String,
    engine: DockerClient,
    plan: ReleasePlan,
}

enum Prep {
    Ready(Prepared),
    Unchanged(OnHost),
}

/// One host's release, applied.
struct HostDone {
    host: String,
    engine: DockerClient,
    release: ReleaseRecord,
    plan: ReleasePlan,
    removed: Vec<String>,
    warnings: Vec<String>,
    elapsed_secs: f64,
}

/// `--from VERSION`: the hosts whose current release of `service` is that
/// version, and the others with why each was left out.
pub(super) fn running(app: &App, service: &str, hosts: Vec<String>, from: &str) -> Result<(Vec<String>, Vec<Skipped>), Failure> {
    let state = app.state()?;
    let env = &app.config.project.env;
    let (mut chosen, mut skipped) = (Vec::new(), Vec::new());
    for host in hosts {
        match state.succeeded_releases(service, env, Some(&host))?.first() {
            Some(current) if current.version == from => chosen.push(host),
            Some(current) => skipped.push(Skipped { host, reason: format!("runs {} (release {})", current.version, current.id) }),
            None => skipped.push(Skipped { host, reason: format!("has no release of {service}") }),
        }
    }
    if chosen.is_empty() {
        let why: Vec<String> = skipped.iter().map(|s| format!("{} {}", s.host, s.reason)).collect();
        return Err(Failure::bad_input(format!("--from {from}: no host of {service} runs version {from} ({}); nothing was changed", why.join("; "))));
    }
    Ok((chosen, skipped))
}

/// A rollback across hosts: to `to`, or to the newest version before the
/// current one that every host has run successfully. A host already on it
/// is skipped; one that never ran it refuses the whole rollback.
pub(super) fn back_to(service: &str, env: &str, history: &[(String, Vec<ReleaseRecord>)], to: Option<&str>) -> Result<(Vec<HostTarget>, Vec<Skipped>), Failure> {
    let ran = |releases: &[ReleaseRecord], version: &str| releases.iter().any(|r| r.version == version);
    let current = |releases: &[ReleaseRecord]| releases.first().map(|r| r.version.clone());
    let version = match to {
        Some(version) => version.to_string(),
        None => {
            let newest_first = history.iter().flat_map(|(_, releases)| releases.iter().skip(1)).map(|r| r.version.as_str());
            let shared = newest_first.filter(|v| history.iter().all(|(_, releases)| ran(releases, v)));
            let mut earlier = shared.filter(|v| !history.iter().all(|(_, releases)| current(releases).as_deref() == Some(*v)));
            let Some(version) = earlier.next() else {
                let ran: Vec<String> = history.iter().map(|(host, releases)| format!("{host}: {}", versions(releases))).collect();
                return Err(Failure::bad_input(format!(
                    "{service}@{env}: no earlier version ran successfully on every host ({}); roll back one host with --hosts, or name a version with --to",
                    ran.join("; ")
                )));
            };
            version.to_string()
        }
    };
    let never: Vec<&str> = history.iter().filter(|(_, releases)| !ran(releases, &version)).map(|(host, _)| host.as_str()).collect();
    if !never.is_empty() {
        return Err(Failure::bad_input(format!(
            "{service}@{env}: version {version} never ran successfully on {}; `bosun releases {service} --matrix` shows what each host ran; nothing was changed",
            never.join(", ")
        )));
    }
    let (mut targets, mut skipped) = (Vec::new(), Vec::new());
    for (host, releases) in history {
        let chosen = releases.iter().find(|r| r.version == version).expect("every host ran it");
        if releases.first().is_some_and(|c| c.id == chosen.id) {
            skipped.push(Skipped { host: host.clone(), reason: format!("already runs release {} (version {version})", chosen.id) });
        } else {
            targets.push(HostTarget { host: host.clone(), target: rollback_target(chosen)? });
        }
    }
    if targets.is_empty() {
        return Err(Failure::bad_input(format!("{service}@{env} already runs version {version} on every host")));
    }
    Ok((targets, skipped))
}

/// `1.5, 1.4`: a host's successful versions, newest first, each once.
fn versions(releases: &[ReleaseRecord]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for release in releases {
        if !seen.contains(&release.version.as_str()) {
            seen.push(&release.version);
        }
    }
    if seen.is_empty() { "none".to_string() } else { seen.join(", ") }
}

/// Reaches and plans every host (refusing before anything changes), then
/// applies the plans batch by batch.
pub(super) async fn run(app: &App, targets: Vec<HostTarget>, skipped: Vec<Skipped>, options: &ReleaseOptions) -> Result<Rollout, Failure> {
    let started = Instant::now();
    let first = &targets.first().expect("a rollout has a host").target;
    let service_name = first.service_name.clone();
    // A check that cannot run would fail the release after the switch; say so first.
    let checks: Vec<&str> = first.service.checks.iter().map(String::as_str).collect();
    crate::ops::check::validate(app, &checks).await.map_err(|problems| Failure::bad_input_each(problems.iter().map(|p| format!("{p}; nothing was changed"))))?;
    let named = !app.config.hosts.is_empty();
    let scope = format!("{service_name}@{}", app.config.project.env);
    let state = app.state()?;
    let _lock = if options.dry_run { None } else { Some(ServiceLock::acquire(state, &scope, &first.version, &options.note)?) };
    let config_dir = std::path::absolute(app.config.resolve(Path::new(""))).map_err(anyhow::Error::from)?;

    let prepared = join_all(targets.into_iter().map(|t| prepare(app, t, &config_dir, options, named))).await;
    let mut refusals = Vec::new();
    let mut rollout = Rollout { hosts: Vec::new(), skipped };
    let mut ready = Vec::new();
    for prep in prepared {
        match prep {
            Ok(Prep::Ready(prepared)) => ready.push(prepared),
            Ok(Prep::Unchanged(on_host)) => rollout.hosts.push(on_host),
            Err(failure) => refusals.push(failure),
        }
    }
    if let Some(first) = refusals.first() {
        let code = first.code;
        let lines: Vec<String> = refusals.into_iter().map(|f| f.message).collect();
        let mut message = lines.join("\n");
        if named && !message.contains("nothing was changed") {
            message.push_str("; nothing was changed on any host");
        }
        return Err(Failure { message, code });
    }
    if options.dry_run {
        rollout.hosts.extend(ready.into_iter().map(|p| OnHost { host: p.host, released: Released::Planned { plan: Box::new(p.plan) } }));
        return Ok(rollout);
    }
    let Some(facts) = ready.first().map(|p| p.plan.facts().clone()) else {
        return Ok(rollout);
    };
    let hosts: Vec<String> = ready.iter().map(|p| p.host.clone()).collect();
    let run_id = state.start_run(facts.kind.as_str(), &scope)?;
    let who = options.by.clone().unwrap_or_else(crate::state::who);
    let notice = |outcome: &str, severity, title: String, body: String| {
        Notice::new(format!("{}.{outcome}", facts.kind.as_str()), severity, title, body)
            .fact("project", &app.config.project.name)
            .fact("env", &facts.env)
            .fact("service", &facts.service)
            .fact("version", &facts.version)
            .fact("image", &facts.image)
            .fact("who", &who)
    };
    let verb = match facts.kind {
        ReleaseKind::Rollback => "Rolling back",
        _ => "Deploying",
    };
    let on_hosts = if named { format!(" on {}", hosts.join(", ")) } else { String::new() };
    let started_notice = notice("started", Severity::Info, format!("{verb} {} {} to {}{on_hosts}", facts.service, facts.version, facts.env), options.note.clone());
    let service = app.config.services.get(&service_name);
    let (batch, pause) = service.map_or((None, Duration::ZERO), |s| s.batches());
    let on_failure = service.map_or(OnFailure::Undo, |s| s.on_failure);
    let batches = Batches { size: batch.unwrap_or(ready.len()).max(1), pause, on_failure };
    let run = RunOn { app, run_id, options, named };
    let (went, _) = tokio::join!(batches.apply(&run, ready), notify::tell(app, run_id, &started_notice));
    let Went { done, failed, not_started, mut log } = went;

    if failed.is_empty() {
        let summary = done.iter().map(|d| format!("{}{} {} {} as {}", on(named, &d.host, ""), facts.kind.as_str(), facts.service, facts.version, d.release.container_name));
        let summary = summary.collect::<Vec<_>>().join("; ");
        state.finish_run(run_id, Outcome::Succeeded, &summary, &log.join("\n"))?;
        let elapsed_secs = started.elapsed().as_secs_f64();
        let runs_as: Vec<String> = done.iter().map(|d| format!("release {} ({}) runs as {}{}", d.release.id, facts.kind.as_str(), d.release.container_name, on(named, &d.host, " on"))).collect();
        let mut done_notice = notice(
            "succeeded",
            Severity::Success,
            format!("{} {} is live on {}{on_hosts}", facts.service, facts.version, facts.env),
            format!("{}; took {elapsed_secs:.1}s.", capitalised(&runs_as.join("; "))),
        );
        if let [only] = done.as_slice() {
            done_notice = done_notice.fact("container", &only.release.container_name);
        }
        notify::tell(app, run_id, &done_notice.fact("duration", format!("{elapsed_secs:.1}s"))).await;
        rollout.hosts.extend(done.into_iter().map(HostDone::into_on_host));
        return Ok(rollout);
    }

    let mut parts: Vec<String> = failed.iter().map(|f| f.message.clone()).collect();
    if on_failure == OnFailure::Undo && !done.is_empty() {
        let mut put_back = Vec::new();
        for host in done.iter().rev() {
            put_back.push(undo(&run, host, &mut log).await);
        }
        parts.push(format!("put back: {}", put_back.join(", ")));
    } else if !done.is_empty() {
        parts.push(format!("done: {}", done.iter().map(|d| format!("{} (release {})", d.host, d.release.id)).collect::<Vec<_>>().join(", ")));
    }
    if !not_started.is_empty() {
        parts.push(format!("not started: {}", not_started.join(", ")));
    }
    let mut message = parts.join("; ");
    if named {
        message.push_str(&format!(" (run {run_id})"));
    }
    state.finish_run(run_id, Outcome::Failed, &failed.iter().map(|f| f.problem.as_str()).collect::<Vec<_>>().join("; "), &log.join("\n"))?;
    let error = failed.iter().map(|f| f.problem.as_str()).collect::<Vec<_>>().join("; ");
    let failed_notice = notice("failed", Severity::Failure, format!("{} of {} {} to {}{on_hosts} failed", facts.kind.as_str(), facts.service, facts.version, facts.env), message.clone())
        .fact("error", &error)
        .fact("duration", format!("{:.1}s", started.elapsed().as_secs_f64()));
    notify::tell(app, run_id, &failed_notice).await;
    Err(Failure::failed(message))
}

/// `prefix`` host b` / `host b: ` when hosts are named in bosun.toml; nothing otherwise.
fn on(named: bool, host: &str, prefix: &str) -> String {
    match (named, prefix.is_empty()) {
        (false, _) => String::new(),
        (true, true) => format!("host {host}: "),
        (true, false) => format!("{prefix} host {host}"),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// Reaches `target.host`'s engine (its errors name the host) and plans the release there.
async fn prepare(app: &App, target: HostTarget, config_dir: &Path, options: &ReleaseOptions, named: bool) -> Result<Prep, Failure> {
    let HostTarget { host, target } = target;
    let engine = DockerClient::for_host(&app.config, &host).await?;
    let named_host = on(named, &host, "");
    plan_on(app, host, engine, target, config_dir, options).await.map_err(|f| Failure { message: format!("{named_host}{}", f.message), code: f.code })
}

async fn plan_on(app: &App, host: String, engine: DockerClient, target: Target, config_dir: &Path, options: &ReleaseOptions) -> Result<Prep, Failure> {
    // Host paths and sockets are the engine's only when it runs here.
    let here = matches!(crate::ops::hosts::endpoint(&app.config, &host), Ok(Endpoint::Unix(_)));
    let snapshot = Snapshot::gather(&engine, &target, config_dir, here).await?;
    let plan = match target.service.strategy {
        Strategy::Run => ReleasePlan::Run(Box::new(plan_run(app, &snapshot, target, config_dir.to_path_buf(), options).await?)),
        Strategy::Compose => ReleasePlan::Compose(Box::new(compose::plan(app, &snapshot, target).await?)),
        Strategy::Swarm => ReleasePlan::Swarm(Box::new(swarm::plan(app, &engine, &snapshot, target, config_dir).await?)),
    };
    if let ReleasePlan::Run(run) = &plan
        && let Some(running) = &run.unchanged
    {
        let container = running.name.clone();
        return Ok(Prep::Unchanged(OnHost { host, released: Released::Unchanged { container, plan: Box::new(plan) } }));
    }
    Ok(Prep::Ready(Prepared { host, engine, plan }))
}

/// How the hosts are taken: `size` at a time, `pause` between batches.
struct Batches {
    size: usize,
    pause: Duration,
    on_failure: OnFailure,
}

/// What the batches came to.
struct Went {
    done: Vec<HostDone>,
    failed: Vec<HostFailed>,
    not_started: Vec<String>,
    log: Vec<String>,
}

struct HostFailed {
    /// The operator's line: what failed, where the host is now.
    message: String,
    /// What failed, for the run record: `host c: …` when hosts are named.
    problem: String,
}

/// One rollout's run, as each host's release sees it.
#[derive(Clone, Copy)]
struct RunOn<'a> {
    app: &'a App,
    run_id: i64,
    options: &'a ReleaseOptions,
    /// Whether bosun.toml names hosts (and so messages and logs name them).
    named: bool,
}

impl Batches {
    async fn apply(&self, run: &RunOn<'_>, ready: Vec<Prepared>) -> Went {
        let options = run.options;
        let mut went = Went { done: Vec::new(), failed: Vec::new(), not_started: Vec::new(), log: Vec::new() };
        let mut queue = ready.into_iter().peekable();
        let mut first = true;
        while queue.peek().is_some() {
            let stop = (!went.failed.is_empty() && self.on_failure == OnFailure::Undo) || options.cancel.is_cancelled();
            if !first && !stop && !self.pause.is_zero() {
                (options.on_step)(&Step::waiting(format!("pausing {}s before the next hosts", self.pause.as_secs()), self.pause));
                tokio::select! {
                    () = tokio::time::sleep(self.pause) => {}
                    () = options.cancel.cancelled() => {}
                }
            }
            if stop || options.cancel.is_cancelled() {
                went.not_started.extend(queue.map(|p| p.host));
                break;
            }
            first = false;
            let batch: Vec<Prepared> = queue.by_ref().take(self.size).collect();
            let applied = join_all(batch.into_iter().map(|p| run.apply_on(p))).await;
            for (outcome, log) in applied {
                went.log.extend(log);
                match outcome {
                    Ok(done) => went.done.push(done),
                    Err(failed) => went.failed.push(failed),
                }
            }
        }
        went
    }
}

impl RunOn<'_> {
    /// Applies one host's plan under its own release record.
    async fn apply_on(&self, prepared: Prepared) -> (Result<HostDone, HostFailed>, Vec<String>) {
        let started = Instant::now();
        let named_host = on(self.named, &prepared.host, "");
        let shown = |step: &Step| (self.options.on_step)(&Step { what: format!("{named_host}{}", step.what), left: step.left });
        let mut log = vec![prepared.plan.to_string()];
        let outcome = self.apply_plan(&prepared, &shown, &mut log).await;
        let log = log.into_iter().map(|line| format!("{named_host}{line}")).collect();
        let Prepared { host, engine, plan } = prepared;
        let outcome = outcome.map(|(release, removed, warnings)| HostDone { host, engine, release, plan, removed, warnings, elapsed_secs: started.elapsed().as_secs_f64() });
        (outcome, log)
    }

    async fn apply_plan(&self, prepared: &Prepared, on_step: OnStep<'_>, log: &mut Vec<String>) -> Result<(ReleaseRecord, Vec<String>, Vec<String>), HostFailed> {
        let RunOn { app, run_id, options, named } = *self;
        let Prepared { host, engine, plan } = prepared;
        let state_failed = |e: crate::state::StateError| HostFailed { message: e.to_string(), problem: e.to_string() };
        let state = app.state().map_err(state_failed)?;
        let facts = plan.facts();
        let release_id = state
            .start_release(&NewRelease {
                service: &facts.service,
                env: &facts.env,
                host,
                version: &facts.version,
                kind: facts.kind,
                image: &facts.image,
                image_digest: &facts.image_id,
                config_hash: &facts.config_hash,
                service_config: &facts.service_config,
                note: &options.note,
                backup_id: None,
                run_id: Some(run_id),
                by: options.by.as_deref(),
            })
            .map_err(state_failed)?;
        let applied = match plan {
            ReleasePlan::Run(run) => apply::apply(app, engine, run, apply::ReleaseRun { release: release_id, run: run_id }, log, on_step, &options.cancel).await,
            ReleasePlan::Compose(compose) => compose::apply(app, engine, compose, run_id, log, on_step, &options.cancel).await,
            ReleasePlan::Swarm(plan) => swarm::apply(app, engine, plan, release_id, log, on_step, &options.cancel).await,
        };
        match applied {
            Ok(applied) => {
                let checks = serde_json::to_value(&applied.health.checks).unwrap_or_default();
                state.finish_release(release_id, ReleaseOutcome::Succeeded, &applied.container_id, &applied.container_name, &checks).map_err(state_failed)?;
                let release = state.release(release_id).map_err(state_failed)?.expect("the release was just recorded");
                Ok((release, applied.removed, applied.warnings))
            }
            Err(failed) => {
                let checks = failed.health.as_ref().map(|h| serde_json::to_value(&h.checks).unwrap_or_default()).unwrap_or_default();
                state.finish_release(release_id, ReleaseOutcome::Failed, "", "", &checks).map_err(state_failed)?;
                if !failed.logs.is_empty() {
                    log.push(format!("output of the new container:\n{}", failed.logs));
                }
                let scope = format!("{}@{}{}", facts.service, facts.env, on(named, host, " on"));
                let back = plan.back_to(&scope);
                let mut message = format!("{} of {} {} failed{}: {}; {back}", facts.kind.as_str(), facts.service, facts.version, on(named, host, " on"), failed.problem);
                if !failed.undo_failures.is_empty() {
                    message = format!("{message}; but putting it back failed too, look at it now: {}", failed.undo_failures.join("; "));
                }
                if let Some(last) = failed.logs.lines().rev().find(|l| !l.trim().is_empty()) {
                    message.push_str(&format!("; its last output: {}", last.trim()));
                }
                message.push_str(&format!(" (release {release_id}{})", if named { String::new() } else { format!(", run {run_id}") }));
                Err(HostFailed { message, problem: format!("{}{}", on(named, host, ""), failed.problem) })
            }
        }
    }
}

impl HostDone {
    fn into_on_host(self) -> OnHost {
        let released = Released::Done {
            release: Box::new(self.release),
            plan: Box::new(self.plan),
            removed: self.removed,
            warnings: self.warnings,
            elapsed_secs: self.elapsed_secs,
        };
        OnHost { host: self.host, released }
    }
}

/// Puts back a host the failed rollout already changed: a rollback to its
/// release before this one, or, when it ran nothing before, the new
/// container removed. Says where the host is now.
async fn undo(run: &RunOn<'_>, done: &HostDone, log: &mut Vec<String>) -> String {
    let RunOn { app, run_id, options, .. } = *run;
    let host = &done.host;
    let release = &done.release;
    let earlier = app.state().ok().and_then(|state| state.succeeded_releases(&release.service, &release.env, Some(host)).ok());
    let earlier = earlier.and_then(|releases| releases.into_iter().find(|r| r.id < release.id));
    let Some(earlier) = earlier else {
        return match done.engine.remove(&release.container_id).await {
            Ok(()) => {
                if let Ok(state) = app.state() {
                    let _ = state.finish_release(release.id, ReleaseOutcome::Failed, "", "", &release.checks);
                }
                log.push(format!("{}removed {} (nothing ran before)", on(run.named, host, ""), release.container_name));
                format!("{host} had nothing running before and has nothing running now")
            }
            Err(e) => format!("{host}: removing {} failed too, look at it now: {e:#}", release.container_name),
        };
    };
    let note = format!("putting {host} back: the rollout of {} {} failed (run {run_id})", release.service, release.version);
    let undo_options = ReleaseOptions { note, by: options.by.clone(), ..ReleaseOptions::default() };
    let config_dir = std::path::absolute(app.config.resolve(Path::new(""))).unwrap_or_default();
    let target = match rollback_target(&earlier) {
        Ok(target) => target,
        Err(e) => return format!("{host}: putting it back failed too, look at it now: {}", e.message),
    };
    let prepared = match plan_on(app, host.clone(), done.engine.clone(), target, &config_dir, &undo_options).await {
        Ok(Prep::Ready(prepared)) => prepared,
        Ok(Prep::Unchanged(_)) => return format!("{host} is back on version {}", earlier.version),
        Err(e) => return format!("{host}: putting it back failed too, look at it now: {}", e.message),
    };
    match (RunOn { options: &undo_options, ..*run }).apply_on(prepared).await {
        (Ok(back), lines) => {
            log.extend(lines);
            format!("{host} is back on version {} (release {})", back.release.version, back.release.id)
        }
        (Err(failed), lines) => {
            log.extend(lines);
            format!("{host}: putting it back failed too, look at it now: {}", failed.problem)
        }
    }
}
