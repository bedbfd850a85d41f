//! `backup restore`: puts a backup (and the full backup it builds on) back,
//! into its original paths or `--target DIR`. The target and the plugin are
//! checked before anything is written; a backup directory the catalog does
//! not know restores in place only when confirmed (see [`foreign`]); a
//! non-empty target needs `--force` and is itself backed up first, then
//! made equal to the backup: what the backup does not hold is removed
//! (unless `--keep-extra`), so the restore, and restoring the safety backup
//! to undo it, each give back exactly one tree. The artifacts' hashes are checked first
//! too, except when restoring into paths that are all missing or empty:
//! then the check (a whole read of every artifact) runs beside the restore,
//! and a mismatch takes out what the restore wrote.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::around;
use super::foreign::{self, ForeignRestore};
use super::fresh_target::FreshTargets;
use super::locate::{Located, locate};
use super::take::{TakeOptions, Taken, set_config, source_paths, take};
use super::verify::check_chain;
use crate::app::App;
use super::files::file_list;
use crate::capability::PlannedCall;
use crate::capability::fs::{Expected, Extra, Locator, Owners, Tree, globs, unlisted};
use crate::failure::Failure;
use crate::ops::notify::{self, Notice, Severity};
use crate::bindings::backup_types::RestoreRequest;
use crate::bindings::types::HostError;
use crate::plugin::runtime::{CallSetup, Called, Plugin};
use crate::state::{BackupKind, Outcome};

#[derive(Clone, Default)]
pub struct RestoreOptions<'a> {
    /// Restore under this directory instead of the original paths.
    pub target: Option<PathBuf>,
    /// Overwrite a non-empty target (after a safety backup of it).
    pub force: bool,
    /// Leave what a non-empty target holds that the backup does not (by
    /// default it is removed, so the target equals the backup).
    pub keep_extra: bool,
    /// Whether restored entries get the owners the backup recorded.
    pub owners: Owners,
    pub dry_run: bool,
    /// Restore a backup directory the catalog does not know into its
    /// recorded paths without asking.
    pub yes: bool,
    /// Let such a restore write outside its set's configured paths (or for a
    /// set bosun.toml does not have).
    pub allow_paths: bool,
    /// Asks the operator about such a restore (shown what it would do); none
    /// where nobody can answer.
    pub confirm: Option<&'a dyn Fn(&ForeignRestore) -> bool>,
}

#[derive(Debug, Serialize)]
pub struct Restored {
    pub id: String,
    /// The backups read, oldest first.
    pub chain: Vec<String>,
    /// Where the restore wrote.
    pub targets: Vec<PathBuf>,
    /// The backup taken of the targets (empty ones too) before they were
    /// overwritten, when any held something.
    pub safety_backup: Option<String>,
    /// Targets that did not exist before: undoing means removing them too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub absent_before: Vec<PathBuf>,
    /// What the targets held that the backup does not: removed (in a dry
    /// run: to be removed)…
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<PathBuf>,
    /// …or, with `--keep-extra`, left where it is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept_extra: Vec<PathBuf>,
    /// In a dry run: the writes the plugin would have made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<PlannedCall>,
    pub elapsed_secs: f64,
}

pub async fn restore(app: &App, reference: &str, options: &RestoreOptions<'_>) -> Result<Restored, Failure> {
    let started = Instant::now();
    let located = locate(app.state()?, reference)?;
    let set = located.manifest.set.clone();
    let targets = match &options.target {
        Some(target) => vec![std::path::absolute(target).map_err(|e| Failure::bad_input(format!("--target {}: {e}", target.display())))?],
        None => recorded_paths(&located),
    };
    if located.record.is_none() && options.target.is_none() {
        let foreign = foreign::check(app, &located, &targets, options.allow_paths)?;
        if !options.dry_run && !options.yes {
            foreign::confirm(&foreign, options.confirm)?;
        }
    }
    let occupied: Vec<PathBuf> = targets.iter().filter(|t| is_occupied(t)).cloned().collect();
    if let Some(first) = occupied.first()
        && !options.force
    {
        return Err(Failure::bad_input(format!(
            "restore target {} is not empty; pass --force to overwrite it (bosun backs it up first), or --target an empty directory",
            first.display()
        )));
    }
    if !occupied.is_empty() && !app.config.backups.contains_key(&set) {
        return Err(Failure::bad_input(format!(
            "backup set {set} is not in bosun.toml, so bosun cannot back up {} before overwriting it; restore into an empty --target, or add [backups.{set}]",
            occupied[0].display()
        )));
    }
    // Restores into the engine (volumes, databases, images) have no target
    // to take out again, so they are always checked first.
    let check_beside = !targets.is_empty() && occupied.is_empty() && !options.dry_run;
    if !check_beside {
        check_chain(located.chain())?;
    }
    let chain = located.chain().map(|(_, m)| m.id.clone()).collect();
    let target = options.target.as_ref().and(targets.first()).map(PathBuf::as_path);

    if options.dry_run {
        let Extras { removed, kept: kept_extra } = match occupied.is_empty() {
            true => Extras::default(),
            false => extra_entries(app, &located, target, &targets, options.keep_extra, false)?,
        };
        let mut planned = call_restore(app, &located, target, &targets, None, options.owners).await?.planned;
        // Removed before the extraction, so that it sets directories' mtimes last.
        let removals = removed.iter().map(|path| PlannedCall { call: "remove".into(), detail: format!("{} (not in the backup)", path.display()) });
        planned.splice(0..0, removals);
        return Ok(Restored { id: located.id().into(), chain, targets, safety_backup: None, absent_before: Vec::new(), removed, kept_extra, planned, elapsed_secs: 0.0 });
    }

    // Empty targets are in the safety backup too, so that its restore
    // empties them again: the undo gives back exactly what was there.
    let (existing, absent): (Vec<PathBuf>, Vec<PathBuf>) = targets.iter().cloned().partition(|t| t.symlink_metadata().is_ok());
    let (safety_backup, absent_before) = match occupied.is_empty() {
        true => (None, Vec::new()),
        false => (Some(safety_backup(app, &set, existing).await?), absent),
    };
    let lock = match app.config.backups.contains_key(&set) {
        true => Some(set_config(app, &set)?.1.lock("restore")?),
        false => None,
    };
    // The set's containers are stopped around an in-place restore, as around its backups.
    let to_stop = match (app.config.backups.get(&set), &options.target) {
        (Some(config), None) => around::containers_to_stop(&app.config, &set, config).await?,
        _ => Vec::new(),
    };
    let state = app.state()?;
    let run_id = state.start_run("restore", located.id())?;
    let notice = |outcome: &str, severity, title: String, body: String| {
        Notice::new(format!("restore.{outcome}"), severity, title, body)
            .fact("project", &app.config.project.name)
            .fact("env", &app.config.project.env)
            .fact("set", &set)
            .fact("backup", located.id())
            .fact("who", crate::state::who())
    };
    let into = describe(&targets);
    notify::tell(app, run_id, &notice("started", Severity::Info, format!("Restoring backup {} of {set}", located.id()), format!("Into {into}."))).await;
    let docker_host = app.config.backups.get(&set).and_then(|c| c.docker_host.as_deref());
    let mut stopped = match around::stop(&app.config, docker_host, &to_stop).await {
        Ok(stopped) => stopped,
        Err(failure) => {
            state.finish_run(run_id, Outcome::Failed, &failure.message, "")?;
            notify::tell(app, run_id, &notice("failed", Severity::Failure, format!("Restore of {set} failed"), failure.message.clone()).fact("error", &failure.message)).await;
            return Err(failure);
        }
    };
    let mut extra = Extras::default();
    let mut result = match (check_beside, occupied.is_empty()) {
        (true, _) => restore_while_checking(app, &located, target, &targets, run_id, options.owners).await,
        (false, true) => call_restore(app, &located, target, &targets, Some(run_id), options.owners).await,
        (false, false) => match extra_entries(app, &located, target, &targets, options.keep_extra, true) {
            Ok(found) => {
                extra = found;
                call_restore(app, &located, target, &targets, Some(run_id), options.owners).await
            }
            Err(failure) => Err(failure),
        },
    };
    let restart_failures = stopped.start_again().await;
    if let (Err(failure), false) = (&mut result, restart_failures.is_empty()) {
        failure.message.push_str(&format!("; {}", restart_failures.join("; ")));
    }
    let (outcome, summary, log) = match &result {
        Ok(called) => (Outcome::Succeeded, format!("restored {} to {}", located.id(), describe(&targets)), called.log_text()),
        Err(failure) => (Outcome::Failed, failure.message.clone(), String::new()),
    };
    state.finish_run(run_id, outcome, &summary, &log)?;
    drop(lock);
    let finished = match (&result, restart_failures.is_empty()) {
        (Ok(_), true) => notice("succeeded", Severity::Success, format!("Backup {} of {set} restored", located.id()), summary.clone()),
        (Ok(_), false) => notice("succeeded", Severity::Warning, format!("Backup {} of {set} restored", located.id()), format!("{summary}, but {}", restart_failures.join("; "))),
        (Err(failure), _) => notice("failed", Severity::Failure, format!("Restore of {set} failed"), failure.message.clone()).fact("error", &failure.message),
    };
    notify::tell(app, run_id, &finished.fact("duration", format!("{:.1}s", started.elapsed().as_secs_f64()))).await;
    result?;
    if !restart_failures.is_empty() {
        return Err(Failure::failed(format!("restored {}, but {}", located.id(), restart_failures.join("; "))));
    }
    let elapsed_secs = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let Extras { removed, kept: kept_extra } = extra;
    Ok(Restored { id: located.id().into(), chain, targets, safety_backup, absent_before, removed, kept_extra, planned: Vec::new(), elapsed_secs })
}

/// Calls the backup's strategy plugin to restore `located` (into `target`,
/// or the original paths), allowed to read the chain and write `writes` only,
/// as part of run `run`; none is a dry run (which records no run).
pub(super) async fn call_restore(
    app: &App,
    located: &Located,
    target: Option<&Path>,
    writes: &[PathBuf],
    run: Option<i64>,
    owners: Owners,
) -> Result<Called<()>, Failure> {
    let (plugin, mut setup, request) = restore_call(app, located, target, writes, run.is_none())?;
    if let Some(run_id) = run {
        setup = setup.for_run(run_id);
    }
    setup.policy = Arc::new((*setup.policy).clone().with_owners(owners));
    Ok(app.runtime()?.restore(&plugin, setup, request).await?)
}

/// What the targets held that the backup does not.
#[derive(Default)]
struct Extras {
    /// Removed (in a dry run: to be removed).
    removed: Vec<PathBuf>,
    /// Left, with `--keep-extra`.
    kept: Vec<PathBuf>,
}

/// What the restored trees in `targets` hold that the backup's file list
/// does not (nothing for a strategy that keeps no list), reached as the
/// restore's own calls would be, beneath the grant of each target; removed
/// when `apply`, all of it or, with `keep_extra`, only directories in the
/// way of the backup's files. Entries the set excludes were never backed up
/// and stay.
fn extra_entries(app: &App, located: &Located, target: Option<&Path>, targets: &[PathBuf], keep_extra: bool, apply: bool) -> Result<Extras, Failure> {
    let Some(list) = file_list(located)? else { return Ok(Extras::default()) };
    let settings: toml::Table = serde_json::from_value(located.manifest.strategy_config.clone()).unwrap_or_default();
    let patterns: Vec<String> = settings.get("excludes").and_then(|e| e.as_array()).into_iter().flatten().filter_map(|p| p.as_str().map(String::from)).collect();
    let failed = |e| Failure::failed(format!("removing what backup {} does not hold: {}", located.id(), HostError::into_message(e)));
    let excludes = globs(&patterns).map_err(failed)?;
    let kept: Vec<PathBuf> = located.chain().map(|(dir, _)| dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())).collect();
    let expected = Expected { list: &list, excludes: &excludes, kept: &kept };
    let (_, setup, _) = restore_call(app, located, target, targets, !apply)?;
    let locator = Locator::new(setup.policy);
    let removes = |extra: Extra| !keep_extra || extra == Extra::InTheWay;
    let mut extras = Extras::default();
    for source in recorded_paths(located) {
        let relative = source.strip_prefix("/").unwrap_or(&source);
        let top = target.map_or_else(|| source.clone(), |t| t.join(relative));
        let tree = Tree { top: &top, name: &relative.to_string_lossy() };
        for (path, extra) in unlisted(&locator, "backup restore", &tree, &expected, &|extra| apply && removes(extra)).map_err(failed)? {
            match removes(extra) {
                true => extras.removed.push(path),
                false => extras.kept.push(path),
            }
        }
    }
    Ok(extras)
}

/// Restores into `targets`, each missing or empty, while the artifacts are
/// checked. When the check fails, what the restore wrote is removed and the
/// check's error returned, whatever the restore did.
async fn restore_while_checking(app: &App, located: &Located, target: Option<&Path>, targets: &[PathBuf], run_id: i64, owners: Owners) -> Result<Called<()>, Failure> {
    let fresh = FreshTargets::note(targets);
    let chain: Vec<_> = located.chain().map(|(dir, manifest)| (dir.to_path_buf(), manifest.clone())).collect();
    let check = tokio::task::spawn_blocking(move || check_chain(chain.iter().map(|(dir, manifest)| (dir.as_path(), manifest))));
    let restored = call_restore(app, located, target, targets, Some(run_id), owners).await;
    let Err(mut failure) = check.await.expect("the artifact check does not panic") else { return restored };
    match fresh.remove_restored() {
        Ok(()) => failure.message.push_str("; what it restored was removed again"),
        Err(e) => failure.message.push_str(&format!("; removing what was restored failed at {e}, remove it by hand")),
    }
    Err(failure)
}

/// The plugin, its setup and the request for restoring `located`.
pub(super) fn restore_call(
    app: &App,
    located: &Located,
    target: Option<&Path>,
    writes: &[PathBuf],
    dry_run: bool,
) -> Result<(Arc<Plugin>, CallSetup, RestoreRequest), Failure> {
    let plugin = app.plugin(&located.manifest.strategy)?;
    // The set's current settings where bosun.toml has it; the recorded ones
    // (secrets redacted) for a backup brought from elsewhere.
    let settings = match app.config.backups.get(&located.manifest.set) {
        Some(config) => config.settings.clone(),
        None => serde_json::from_value(located.manifest.strategy_config.clone()).unwrap_or_default(),
    };
    let reads: Vec<PathBuf> = located.chain().map(|(dir, _)| dir.to_path_buf()).collect();
    let docker_host = app.config.backups.get(&located.manifest.set).and_then(|c| c.docker_host.as_deref());
    let setup = crate::ops::hosts::aim(&app.config, app.setup_with_paths(&plugin, &settings, dry_run, writes, &reads)?, docker_host)?;
    let request = RestoreRequest {
        backup_dir: located.dir.display().to_string(),
        target: target.map(|t| t.display().to_string()),
        base_dirs: located.bases.iter().map(|(dir, _)| dir.display().to_string()).collect(),
    };
    Ok((plugin, setup, request))
}

/// The paths the backup was taken from, as its manifest records them; none
/// for strategies that restore into the engine (images, volumes, databases).
fn recorded_paths(located: &Located) -> Vec<PathBuf> {
    let settings: toml::Table = serde_json::from_value(located.manifest.strategy_config.clone()).unwrap_or_default();
    source_paths(&settings)
}

/// A file, or a directory with anything in it.
fn is_occupied(path: &Path) -> bool {
    match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_some(),
        Err(_) => path.symlink_metadata().is_ok(),
    }
}

/// A full backup of what the restore is about to overwrite, into the set's
/// own destination, listed like any other.
async fn safety_backup(app: &App, set: &str, paths: Vec<PathBuf>) -> Result<String, Failure> {
    let options = TakeOptions { kind: Some(BackupKind::Full), dry_run: false, paths: Some(paths), tags: vec!["safety".into()] };
    match take(app, set, &options).await {
        Ok(Taken::Done { backup, .. }) => Ok(backup.id),
        Ok(Taken::Planned { .. }) => Err(Failure::failed("safety backup: a dry run where a backup was asked for")),
        Err(e) => Err(Failure { message: format!("safety backup before restoring failed, nothing was restored: {}", e.message), ..e }),
    }
}

fn describe(targets: &[PathBuf]) -> String {
    targets.iter().map(|t| t.display().to_string()).collect::<Vec<_>>().join(", ")
}

