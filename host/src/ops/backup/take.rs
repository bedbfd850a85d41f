//! `backup run`: one backup of a set into its own directory, written under a
//! `.partial-` name, renamed when complete, and only then entered in the catalog.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::around;
use super::dest::{Dest, remove_backup_dir, sync_dir};
use super::manifest::{BackupManifest, FORMAT, ManifestArtifact, redacted};
use super::replicate::{Replica, replicate_all};
use crate::app::App;
use crate::capability::PlannedCall;
use crate::config::BackupSet;
use crate::config::retention::check_tag;
use crate::failure::Failure;
use crate::bindings::backup_types::{BackupKind as WitKind, BackupRequest};
use crate::ops::notify::{self, Notice, Severity};
use crate::bindings::types::Artifact;
use crate::state::{BackupKind, BackupRecord, Outcome, now_unix};

/// What `backup run` did.
#[derive(Debug, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Taken {
    Done {
        backup: Box<BackupRecord>,
        manifest: Box<BackupManifest>,
        elapsed_secs: f64,
        cleaned: Vec<PathBuf>,
        /// Containers stopped for the copy (and started again).
        stopped: Vec<String>,
        /// Copies in the set's replica directories.
        replicas: Vec<Replica>,
        /// What went wrong after the backup was safely taken: a container that
        /// did not start again, a failed `after` hook, a failed replica.
        warnings: Vec<String>,
    },
    /// A dry run: the host calls the plugin would have made.
    Planned { set: String, kind: BackupKind, base: Option<String>, calls: Vec<PlannedCall> },
}

/// How to take a backup.
#[derive(Debug, Clone, Default)]
pub struct TakeOptions {
    /// None: full. An incremental without a full backup to build on is taken full.
    pub kind: Option<BackupKind>,
    pub dry_run: bool,
    /// Back up these paths instead of the set's `paths` (the safety backup of a
    /// restore target); they are granted read-only for this call.
    pub paths: Option<Vec<PathBuf>>,
    /// Tags to record with the backup (checked by [`check_tag`]).
    pub tags: Vec<String>,
}

/// The set's config and absolute destination, or a one-line error naming what is wrong.
pub fn set_config<'a>(app: &'a App, set: &str) -> Result<(&'a BackupSet, Dest), Failure> {
    let Some(config) = app.config.backups.get(set) else {
        let known: Vec<_> = app.config.backups.keys().cloned().collect();
        let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
        return Err(Failure::bad_input(format!("no backup set called {set}; bosun.toml has: {known}")));
    };
    let root = std::path::absolute(app.config.resolve(&config.dest))
        .map_err(|e| Failure::bad_input(format!("backups.{set}.dest: {e}")))?;
    refuse_dest_inside_source(set, &config.settings, &root)?;
    Ok((config, Dest::new(root, set)))
}

/// The `paths` a strategy's settings back up (the convention all built-in
/// file strategies follow).
pub fn source_paths(settings: &toml::Table) -> Vec<PathBuf> {
    let paths = settings.get("paths").and_then(|p| p.as_array()).map(Vec::as_slice).unwrap_or_default();
    paths.iter().filter_map(|p| p.as_str()).map(PathBuf::from).collect()
}

/// A destination inside a source path would back itself up, again and again.
fn refuse_dest_inside_source(set: &str, settings: &toml::Table, dest: &Path) -> Result<(), Failure> {
    for source in source_paths(settings) {
        let source = std::path::absolute(&source).unwrap_or(source);
        if dest.starts_with(&source) || source.starts_with(dest) {
            return Err(Failure::bad_input(format!(
                "backups.{set}: dest {} overlaps the source path {}; choose a destination outside what is backed up",
                dest.display(),
                source.display()
            )));
        }
    }
    Ok(())
}

pub async fn take(app: &App, set: &str, options: &TakeOptions) -> Result<Taken, Failure> {
    options.tags.iter().try_for_each(|tag| check_tag(tag)).map_err(|e| Failure::bad_input(format!("--tag {e}; nothing was backed up")))?;
    let (config, dest) = set_config(app, set)?;
    let (requested, dry_run) = (options.kind, options.dry_run);
    let mut settings = config.settings.clone();
    if let Some(paths) = &options.paths {
        let paths = paths.iter().map(|p| toml::Value::String(p.display().to_string())).collect();
        settings.insert("paths".into(), toml::Value::Array(paths));
        refuse_dest_inside_source(set, &settings, &dest.root)?;
    }
    let extra_reads: Vec<PathBuf> = options.paths.clone().unwrap_or_default();
    let call = CallPaths { settings: &settings, docker_host: config.docker_host.as_deref(), extra_reads: &extra_reads, base: None };
    let plugin = app.plugin(&config.strategy)?;
    // The strategy's judgement of its config, before anything is stopped or written.
    app.runtime()?.validate_backup(&plugin, app.setup(&plugin, &settings, true)?).await?;
    let state = app.state()?;
    // The base of an incremental: the newest full backup still on disk.
    let base = match requested {
        Some(BackupKind::Incremental) => state.latest_full_backup(set)?.filter(|b| b.dir.join(super::manifest::FILE_NAME).exists()),
        _ => None,
    };
    if requested == Some(BackupKind::Incremental) && base.is_none() {
        tracing::warn!("backup set {set} has no full backup yet: taking a full one");
    }
    let kind = if base.is_some() { BackupKind::Incremental } else { BackupKind::Full };
    let created_unix = now_unix();

    let to_stop = around::containers_to_stop(&app.config, set, config).await?;
    if dry_run {
        let id = dest.new_id(created_unix, |_| false);
        let request = request(set, kind, &dest.partial(&id), base.as_ref());
        let setup = call_setup(app, &plugin, &CallPaths { base: base.as_ref(), ..call }, &dest.partial(&id), true)?;
        let called = app.runtime()?.backup(&plugin, setup, request).await?;
        let (mut calls, after) = around::planned(config, &to_stop);
        calls.extend(called.planned);
        calls.extend(after);
        return Ok(Taken::Planned { set: set.to_string(), kind, base: base.map(|b| b.id), calls });
    }

    let lock = dest.lock("backup")?;
    let cleaned = dest.clean_leftovers(&lock);
    let run_id = state.start_run("backup", set)?;
    let started = std::time::Instant::now();
    notify::tell(app, run_id, &notice(app, set, "started", Severity::Info, format!("Backing up {set}"), String::new())).await;
    let failed = |failure: Failure, log: String| async move {
        let skipped = failure.code == crate::failure::SKIPPED;
        state.finish_run(run_id, if skipped { Outcome::Skipped } else { Outcome::Failed }, &failure.message, &log)?;
        if !skipped {
            let title = format!("Backup {set} failed");
            let failed_notice = notice(app, set, "failed", Severity::Failure, title, failure.message.clone())
                .fact("error", &failure.message)
                .fact("duration", format!("{:.1}s", started.elapsed().as_secs_f64()));
            notify::tell(app, run_id, &failed_notice).await;
        }
        Err::<Taken, Failure>(failure)
    };
    let project_dir = app.config.resolve(Path::new(""));
    if let Some(command) = &config.before
        && let Err(failure) = around::run_hook(set, "before", command, &project_dir, &[]).await
    {
        return failed(failure, String::new()).await;
    }
    let mut stopped = match around::stop(&app.config, config.docker_host.as_deref(), &to_stop).await {
        Ok(stopped) => stopped,
        Err(failure) => return failed(failure, String::new()).await,
    };
    let id = dest.new_id(created_unix, |id| state.backup(id).ok().flatten().is_some());
    let partial = dest.partial(&id);
    let setup = call_setup(app, &plugin, &CallPaths { base: base.as_ref(), ..call }, &partial, false).map(|setup| setup.for_run(run_id));
    let result = match (setup, std::fs::create_dir_all(&partial)) {
        (Ok(setup), Ok(())) => app.runtime()?.backup(&plugin, setup, request(set, kind, &partial, base.as_ref())).await.map_err(Failure::from),
        (Err(failure), _) => Err(failure),
        (_, Err(e)) => Err(Failure::failed(format!("{}: cannot create: {e}", partial.display()))),
    };
    // Started again right after the copy, whatever its outcome.
    let mut warnings = stopped.start_again().await;
    let called = match result {
        Ok(called) => {
            notify::emitted(app, Some(run_id), &config.strategy, &called.events).await;
            called
        }
        Err(mut failure) => {
            let _ = std::fs::remove_dir_all(&partial);
            warnings.iter().for_each(|w| failure.message.push_str(&format!("; {w}")));
            return failed(failure, String::new()).await;
        }
    };
    let log = called.log_text();

    let manifest = BackupManifest {
        format: FORMAT,
        id: id.clone(),
        project: app.config.project.name.clone(),
        set: set.to_string(),
        strategy: plugin.manifest.name.clone(),
        strategy_version: plugin.manifest.version.clone(),
        strategy_config: redacted(&settings),
        kind,
        base: base.as_ref().map(|b| b.id.clone()),
        created_at: crate::time::rfc3339(created_unix as u64),
        created_unix,
        bosun_version: env!("CARGO_PKG_VERSION").to_string(),
        services: Default::default(),
        artifacts: Vec::new(),
        facts: called.value.facts.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect(),
    };
    let finished = finish(&dest, &id, &partial, manifest, &called.value.artifacts);
    let (final_dir, manifest) = match finished {
        Ok(done) => done,
        Err(message) => {
            let _ = std::fs::remove_dir_all(&partial);
            return failed(Failure::failed(message), log).await;
        }
    };
    let record = BackupRecord {
        id: id.clone(),
        set: set.to_string(),
        kind,
        base: manifest.base.clone(),
        dir: final_dir,
        created_at: created_unix,
        strategy: manifest.strategy.clone(),
        strategy_version: manifest.strategy_version.clone(),
        artifacts: manifest.artifacts.len() as u32,
        bytes: manifest.bytes(),
        run_id: Some(run_id),
        verified_at: None,
        verify_error: None,
        tags: sorted_tags(&options.tags),
    };
    if let Err(e) = state.insert_backup(&record) {
        // Not in the catalog means not a backup: take the directory away again.
        let _ = remove_backup_dir(&record.dir);
        return failed(e.into(), log).await;
    }
    if let Some(command) = &config.after
        && let Err(failure) = around::run_hook(set, "after", command, &project_dir, &around::after_env(&id, &record.dir)).await
    {
        warnings.push(failure.message);
    }
    let replicas = replicate_all(&record.dir, &manifest, &config.replicas);
    warnings.extend(replicas.iter().filter_map(|r| r.error.clone()));
    let mut summary = format!("{} {} backup {id}: {} artifacts, {} bytes", set, kind.as_str(), record.artifacts, record.bytes);
    warnings.iter().for_each(|w| summary.push_str(&format!("; {w}")));
    state.finish_run(run_id, Outcome::Succeeded, &summary, &log)?;
    drop(lock);
    let size = indicatif::HumanBytes(record.bytes).to_string();
    let (severity, mut body) = match warnings.as_slice() {
        [] => (Severity::Success, format!("{} backup {id}: {} artifact(s), {size}.", kind.as_str(), record.artifacts)),
        _ => (Severity::Warning, format!("{} backup {id} is taken and valid, but: {}", kind.as_str(), warnings.join("; "))),
    };
    body.push_str(&format!(" Took {:.1}s.", started.elapsed().as_secs_f64()));
    let done = notice(app, set, "succeeded", severity, format!("Backup {set} taken ({size})"), body).fact("backup", &id).fact("size", &size);
    notify::tell(app, run_id, &done.fact("duration", format!("{:.1}s", started.elapsed().as_secs_f64()))).await;
    let stopped = to_stop;
    Ok(Taken::Done { backup: Box::new(record), manifest: Box::new(manifest), elapsed_secs: round_secs(called.elapsed), cleaned, stopped, replicas, warnings })
}

/// A `backup.<outcome>` notice about `set`.
fn sorted_tags(tags: &[String]) -> Vec<String> {
    let mut tags = tags.to_vec();
    tags.sort();
    tags.dedup();
    tags
}

fn notice(app: &App, set: &str, outcome: &str, severity: Severity, title: String, body: String) -> Notice {
    Notice::new(format!("backup.{outcome}"), severity, title, body)
        .fact("project", &app.config.project.name)
        .fact("env", &app.config.project.env)
        .fact("set", set)
        .fact("who", crate::state::who())
}

fn round_secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn request(set: &str, kind: BackupKind, dir: &Path, base: Option<&BackupRecord>) -> BackupRequest {
    BackupRequest {
        set: set.to_string(),
        kind: match kind {
            BackupKind::Full => WitKind::Full,
            BackupKind::Incremental => WitKind::Incremental,
        },
        dest_dir: dir.display().to_string(),
        base_dir: base.map(|b| b.dir.display().to_string()),
    }
}

/// What one backup call may touch beyond the operator's grants.
#[derive(Clone, Copy)]
struct CallPaths<'a> {
    settings: &'a toml::Table,
    /// The set's `docker_host`.
    docker_host: Option<&'a str>,
    extra_reads: &'a [PathBuf],
    base: Option<&'a BackupRecord>,
}

/// The call setup, with this backup's own directory writable and its base
/// (and any overriding source paths) readable for this call only.
fn call_setup(app: &App, plugin: &crate::plugin::Plugin, call: &CallPaths, dir: &Path, dry_run: bool) -> Result<crate::plugin::CallSetup, Failure> {
    let reads = call.extra_reads.iter().cloned().chain(call.base.map(|b| b.dir.clone()));
    let setup = app.setup_with_paths(plugin, call.settings, dry_run, &[dir.to_path_buf()], &reads.collect::<Vec<_>>())?;
    Ok(crate::ops::hosts::aim(&app.config, setup, call.docker_host)?)
}

/// Checks what the plugin reported, writes the manifest, renames the
/// directory into place and fsyncs it. Returns the final directory.
fn finish(
    dest: &Dest,
    id: &str,
    partial: &Path,
    mut manifest: BackupManifest,
    artifacts: &[Artifact],
) -> Result<(PathBuf, BackupManifest), String> {
    for artifact in artifacts {
        let path = Path::new(&artifact.path);
        let relative = path
            .strip_prefix(partial)
            .map_err(|_| format!("plugin {} reported artifact {} outside the backup directory", manifest.strategy, artifact.path))?;
        let size = std::fs::metadata(path).map(|m| m.len()).map_err(|e| format!("artifact {}: {e}", artifact.path))?;
        if size != artifact.size {
            return Err(format!("artifact {}: plugin reported {} bytes, the file has {size}", artifact.path, artifact.size));
        }
        if artifact.digest.algorithm != "sha256" {
            return Err(format!("artifact {}: plugin reported a {} digest; bosun records sha256 (use the artifact the host returned)", artifact.path, artifact.digest.algorithm));
        }
        manifest.artifacts.push(ManifestArtifact { path: relative.display().to_string(), size, sha256: artifact.digest.hex.clone() });
    }
    let final_dir = dest.final_dir(id);
    let write = || -> std::io::Result<()> {
        manifest.write(partial)?;
        sync_dir(partial)?;
        std::fs::rename(partial, &final_dir)?;
        sync_dir(&dest.root)
    };
    write().map_err(|e| describe_io(&format!("finishing backup {id} in {}", dest.root.display()), &e))?;
    Ok((final_dir, manifest))
}

/// An I/O error in words that say what to do; a full disk says so.
pub fn describe_io(doing: &str, e: &std::io::Error) -> String {
    if e.raw_os_error() == Some(libc::ENOSPC) {
        format!("{doing}: no space left on the device; earlier backups are intact, free space (bosun backup prune) and retry")
    } else {
        format!("{doing}: {e}")
    }
}
