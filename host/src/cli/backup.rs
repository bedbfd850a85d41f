//! `bosun backup …`: take, list, show, verify, restore and prune backups.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Subcommand;
use indicatif::HumanBytes;

use super::output::{Failure, Output, PluginProgress};
use crate::app::App;
use crate::backup_format::Kind;
use crate::capability::fs::Owners;
use crate::ops::backup::{self, RestoreOptions, TakeOptions, Taken};
use crate::state::{BackupKind, BackupRecord};

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Take a backup of a set from bosun.toml.
    Run {
        set: String,
        /// A full backup (the default).
        #[arg(long, conflicts_with = "incremental")]
        full: bool,
        /// Only what changed since the set's latest full backup (full if there is none).
        #[arg(long)]
        incremental: bool,
        /// Show the writes the strategy would make, without making them.
        #[arg(long)]
        dry_run: bool,
        /// Record a tag with the backup (repeatable); `keep-tag` in the
        /// set's retention keeps tagged backups.
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// List the backups in the catalog, oldest first.
    List { set: Option<String> },
    /// Show one backup's manifest: artifacts, hashes, base, source config.
    Show {
        /// A backup id, or a backup directory.
        backup: String,
    },
    /// List the files a backup holds (the whole tree at that backup, also
    /// for an incremental): mode, owner and group (by number; `-` in lists
    /// older bosun versions wrote), size, mtime, path; --json adds content hashes.
    Files {
        /// A backup id, or a backup directory.
        backup: String,
    },
    /// Re-hash every artifact against the manifest.
    Verify {
        /// A backup id, or a backup directory.
        backup: String,
        /// Also restore into a temporary directory and compare every entry
        /// (a database dump: restore into a scratch database and check it).
        #[arg(long)]
        restore_test: bool,
    },
    /// Restore a backup to where it came from, or under --target.
    Restore {
        /// A backup id, or a backup directory (e.g. copied from another machine).
        backup: String,
        /// Restore under this directory instead of the original paths.
        #[arg(long)]
        target: Option<PathBuf>,
        /// Overwrite a non-empty target; bosun backs it up first, then
        /// removes what the backup does not hold, so the target equals the backup.
        #[arg(long)]
        force: bool,
        /// With --force: leave what the target holds that the backup does not.
        #[arg(long, requires = "force")]
        keep_extra: bool,
        /// Restored entries belong to whoever runs bosun, not the owners the
        /// backup recorded (the default as root is to restore owners, as GNU tar does).
        #[arg(long, conflicts_with = "same_owner")]
        no_owners: bool,
        /// Restore the owners the backup recorded even when not running as
        /// root (the default as root); an entry that cannot get its owner is an error.
        #[arg(long)]
        same_owner: bool,
        /// Show the writes the restore would make, without making them.
        #[arg(long)]
        dry_run: bool,
        /// Restore a backup directory the catalog does not know into its
        /// recorded paths without asking first.
        #[arg(long)]
        yes: bool,
        /// Let such a restore write outside the set's `paths` in bosun.toml,
        /// or restore a set bosun.toml does not have.
        #[arg(long)]
        allow_paths: bool,
    },
    /// Remove backups the sets' retention policies no longer keep.
    Prune {
        /// Only this set (default: every set with a retention policy).
        set: Option<String>,
        /// Print what would be kept and removed, and why, without removing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(command: BackupCommand, app: &App, out: Output) -> Result<(), Failure> {
    match command {
        BackupCommand::Run { set, full: _, incremental, dry_run, tags } => {
            let kind = Some(if incremental { BackupKind::Incremental } else { BackupKind::Full });
            let shown = (!out.json).then(|| PluginProgress::show(app, format!("backing up {set}")));
            let taken = backup::take(app, &set, &TakeOptions { kind, dry_run, paths: None, tags }).await;
            drop(shown);
            let taken = taken?;
            out.print(&taken, || describe_taken(&taken));
            if let Taken::Done { backup, warnings, .. } = &taken
                && !warnings.is_empty()
            {
                return Err(Failure::failed(format!("backup {} is taken and valid, but {}", backup.id, warnings.join("; "))));
            }
        }
        BackupCommand::List { set } => {
            if let Some(set) = &set {
                backup::set_config(app, set)?;
            }
            let backups = app.state()?.backups(set.as_deref())?;
            out.print(&backups, || list_text(&backups));
        }
        BackupCommand::Show { backup } => {
            let located = backup::locate(app.state()?, &backup)?;
            let value = serde_json::json!({ "dir": located.dir, "record": located.record, "manifest": located.manifest });
            out.print(&value, || serde_json::to_string_pretty(&value).expect("serializable"));
        }
        BackupCommand::Files { backup } => {
            let files = backup::files(app, &backup)?;
            out.print(&files, || files.iter().map(file_line).collect::<Vec<_>>().join("\n"));
        }
        BackupCommand::Verify { backup, restore_test } => {
            let verified = backup::verify(app, &backup, restore_test).await?;
            out.print(&verified, || {
                let test = match (&verified.restore_test_summary, verified.restore_test_entries) {
                    (Some(summary), _) => format!("; restore test: {summary}"),
                    (None, Some(n)) => format!("; restore test matched all {n} entries"),
                    (None, None) => String::new(),
                };
                format!("backup {}: {} artifacts, {} intact{test}", verified.id, verified.artifacts, HumanBytes(verified.bytes))
            });
        }
        BackupCommand::Restore { backup, target, force, keep_extra, no_owners, same_owner, dry_run, yes, allow_paths } => {
            let interactive = std::io::stdin().is_terminal() && !out.json;
            let ask: &dyn Fn(&backup::ForeignRestore) -> bool = &ask_foreign;
            let owners = match (no_owners, same_owner) {
                (true, _) => Owners::Never,
                (false, true) => Owners::Always,
                (false, false) => Owners::WhenRoot,
            };
            let options = RestoreOptions { target, force, keep_extra, owners, dry_run, yes, allow_paths, confirm: interactive.then_some(ask) };
            let restored = backup::restore(app, &backup, &options).await?;
            out.print(&restored, || restore_text(&restored, dry_run));
        }
        BackupCommand::Prune { set, dry_run } => {
            let pruned = backup::prune(app, set.as_deref(), dry_run)?;
            out.print(&pruned, || prune_text(&pruned));
        }
    }
    Ok(())
}

/// Shows what restoring a backup directory from elsewhere would do, and asks.
fn ask_foreign(foreign: &backup::ForeignRestore) -> bool {
    eprint!("{foreign}\nrestore it? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

fn describe_taken(taken: &Taken) -> String {
    match taken {
        Taken::Done { backup, elapsed_secs, cleaned, replicas, .. } => {
            let cleaned = match cleaned.len() {
                0 => String::new(),
                n => format!(" (removed {n} leftovers of interrupted runs)"),
            };
            let copies: String = replicas.iter().filter(|r| r.error.is_none()).map(|r| format!("\n  replicated to {}", r.dir.display())).collect();
            format!(
                "backup {} ({}): {} artifacts, {} in {elapsed_secs:.1}s -> {}{cleaned}{copies}",
                backup.id,
                backup.kind.as_str(),
                backup.artifacts,
                HumanBytes(backup.bytes),
                backup.dir.display()
            )
        }
        Taken::Planned { set, kind, base, calls } => {
            let base = base.as_ref().map(|b| format!(" on top of {b}")).unwrap_or_default();
            let calls: String = calls.iter().map(|c| format!("\n  {} {}", c.call, c.detail)).collect();
            format!("dry run of backup {set} ({}{base}); would run:{calls}", kind.as_str())
        }
    }
}

fn list_text(backups: &[BackupRecord]) -> String {
    if backups.is_empty() {
        return "no backups yet; take one with `bosun backup run <set>`".into();
    }
    let mut text = format!("{:<36} {:<11} {:<20} {:>10} {:<20} {}", "ID", "KIND", "CREATED", "SIZE", "VERIFIED", "TAGS");
    for b in backups {
        let verified = match (&b.verified_at, &b.verify_error) {
            (_, Some(_)) => "FAILED".to_string(),
            (Some(at), None) => crate::time::rfc3339(*at as u64),
            (None, None) => "-".into(),
        };
        let created = crate::time::rfc3339(b.created_at as u64);
        let tags = if b.tags.is_empty() { "-".to_string() } else { b.tags.join(",") };
        text.push_str(&format!("\n{:<36} {:<11} {:<20} {:>10} {verified:<20} {tags}", b.id, b.kind.as_str(), created, HumanBytes(b.bytes).to_string()));
    }
    text
}

/// One file as `ls -n` shows it: mode, owner and group, size, mtime (UTC),
/// path and link target.
fn file_line(file: &backup::ListedFile) -> String {
    let mtime = crate::time::rfc3339(file.mtime_ms.max(0) as u64 / 1000);
    let target = file.link_target.as_deref().map(|t| format!(" -> {}", printable(t))).unwrap_or_default();
    let id = |id: Option<u32>| id.map_or("-".to_string(), |id| id.to_string());
    let (uid, gid) = (id(file.uid), id(file.gid));
    format!("{} {uid:>5} {gid:>5} {:>12} {mtime} {}{target}", mode_text(file.kind, file.mode), file.size, printable(&file.path))
}

/// `-rwsr-x---` and the like: the kind, then each class's permissions,
/// with setuid, setgid and sticky in the execute places as `ls` shows them.
fn mode_text(kind: Kind, mode: u32) -> String {
    let kind = match kind {
        Kind::File => '-',
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::Other => '?',
    };
    let class = |shift: u32, special: u32, marks: [char; 2]| {
        let bits = mode >> shift;
        let read = if bits & 0o4 != 0 { 'r' } else { '-' };
        let write = if bits & 0o2 != 0 { 'w' } else { '-' };
        let execute = match (mode & special != 0, bits & 0o1 != 0) {
            (true, true) => marks[0],
            (true, false) => marks[1],
            (false, true) => 'x',
            (false, false) => '-',
        };
        [read, write, execute]
    };
    let classes = [class(6, 0o4000, ['s', 'S']), class(3, 0o2000, ['s', 'S']), class(0, 0o1000, ['t', 'T'])];
    std::iter::once(kind).chain(classes.into_iter().flatten()).collect()
}

/// A name as it is, or quoted and escaped when it holds control characters
/// (a newline in a name must not look like a second entry).
fn printable(name: &str) -> std::borrow::Cow<'_, str> {
    match name.chars().any(char::is_control) {
        true => format!("{name:?}").into(),
        false => name.into(),
    }
}

fn restore_text(restored: &backup::Restored, dry_run: bool) -> String {
    let targets: Vec<String> = restored.targets.iter().map(|t| t.display().to_string()).collect();
    if dry_run {
        let calls: String = restored.planned.iter().map(|c| format!("\n  {} {}", c.call, c.detail)).collect();
        let kept: String = restored.kept_extra.iter().map(|p| format!("\n  keep {} (not in the backup; --keep-extra)", p.display())).collect();
        return format!("dry run of restoring {} to {}; would run:{calls}{kept}", restored.id, targets.join(", "));
    }
    let extra = match (restored.removed.len(), restored.kept_extra.len()) {
        (0, 0) => String::new(),
        (removed, 0) => format!("; removed {removed} {} the backup does not hold, so the target equals it (--keep-extra keeps them)", entries(removed)),
        (0, kept) => format!("; kept {kept} {} the backup does not hold (--keep-extra)", entries(kept)),
        (removed, kept) => format!("; kept {kept} {} the backup does not hold (--keep-extra), removed {removed} in the way of its files", entries(kept)),
    };
    let safety = match (&restored.safety_backup, restored.absent_before.as_slice()) {
        (Some(id), []) => format!("; what was there is in backup {id} (undo, exactly as it was: bosun backup restore {id} --force)"),
        (Some(id), absent) => {
            let absent: Vec<String> = absent.iter().map(|p| p.display().to_string()).collect();
            format!("; what was there is in backup {id} (undo: bosun backup restore {id} --force, then remove {}, which did not exist before)", absent.join(", "))
        }
        (None, _) => String::new(),
    };
    format!("restored {} ({}) to {} in {:.1}s{extra}{safety}", restored.id, restored.chain.join(" + "), targets.join(", "), restored.elapsed_secs)
}

fn entries(count: usize) -> &'static str {
    if count == 1 { "entry" } else { "entries" }
}

fn prune_text(pruned: &backup::Pruned) -> String {
    let mut lines = Vec::new();
    for plan in &pruned.plans {
        lines.push(format!("{}:", plan.set));
        for d in &plan.decisions {
            let verdict = if d.keep { "keep  " } else if pruned.dry_run { "remove" } else { "removed" };
            let why = match d.keep {
                true => d.reasons.join(", "),
                false => format!("not kept: {}", d.reasons.join("; ")),
            };
            lines.push(format!("  {verdict} {}  {why}", d.id));
        }
    }
    for set in &pruned.without_policy {
        lines.push(format!("{set}: no retention policy, nothing removed"));
    }
    if pruned.dry_run {
        lines.push("dry run: nothing was removed".into());
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_names_show_as_ls_shows_them() {
        assert_eq!(mode_text(Kind::File, 0o644), "-rw-r--r--");
        assert_eq!(mode_text(Kind::File, 0o4750), "-rwsr-x---");
        assert_eq!(mode_text(Kind::File, 0o2640), "-rw-r-S---");
        assert_eq!(mode_text(Kind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_text(Kind::Dir, 0o1770), "drwxrwx--T");
        assert_eq!(mode_text(Kind::Symlink, 0o777), "lrwxrwxrwx");
        assert_eq!(printable("/srv/ünï code"), "/srv/ünï code");
        assert_eq!(printable("/srv/two\nlines"), "\"/srv/two\\nlines\"");
    }
}
