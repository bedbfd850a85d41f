//! Restoring a backup directory the catalog does not know (one copied from
//! elsewhere) into its recorded paths. Its manifest names the strategy and
//! the paths that become writable, and nothing vouches for it: such a restore
//! first shows both and needs the operator's yes, and writes only inside the
//! paths bosun.toml gives its set unless `--allow-paths` says otherwise.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::locate::Located;
use super::take::source_paths;
use crate::app::App;
use crate::failure::Failure;

/// What restoring a foreign backup in place would do.
#[derive(Debug, Serialize)]
pub struct ForeignRestore {
    pub dir: PathBuf,
    pub set: String,
    pub strategy: String,
    /// The paths its manifest records, which the restore writes.
    pub paths: Vec<PathBuf>,
    /// Whether bosun.toml has the set (then its settings are used, else the manifest's).
    pub configured: bool,
}

/// The restore of `located` (not in the catalog) into `paths`, refused when
/// its strategy is not the one bosun.toml gives the set, and, unless
/// `allow_paths`, when the set is not in bosun.toml or a path lies outside
/// the set's configured `paths`.
pub fn check(app: &App, located: &Located, paths: &[PathBuf], allow_paths: bool) -> Result<ForeignRestore, Failure> {
    let manifest = &located.manifest;
    let dir = located.dir.display();
    let set = &manifest.set;
    let configured = app.config.backups.get(set);
    if let Some(config) = configured
        && config.strategy != manifest.strategy
    {
        return Err(Failure::bad_input(format!(
            "backup dir {dir} is not in the catalog and was taken with strategy {}, but [backups.{set}] uses {}; restore it with --target DIR",
            manifest.strategy, config.strategy
        )));
    }
    if !allow_paths {
        let Some(config) = configured else {
            return Err(Failure::bad_input(format!(
                "backup dir {dir} is not in the catalog and its set {set} is not in bosun.toml, so nothing vouches for where it restores ({}); \
                 restore it with --target DIR, or pass --allow-paths to restore it where its manifest says",
                describe_paths(paths)
            )));
        };
        let allowed: Vec<PathBuf> = source_paths(&config.settings).iter().filter_map(|p| resolved(p)).collect();
        let is_allowed = |path: &PathBuf| resolved(path).is_some_and(|real| allowed.iter().any(|a| real.starts_with(a)));
        if let Some(outside) = paths.iter().find(|p| !is_allowed(p)) {
            return Err(Failure::bad_input(format!(
                "backup dir {dir} is not in the catalog and would restore into {}, outside the paths of [backups.{set}] in bosun.toml ({}); \
                 restore it with --target DIR, or pass --allow-paths",
                outside.display(),
                describe_paths(&allowed)
            )));
        }
    }
    Ok(ForeignRestore {
        dir: located.dir.clone(),
        set: set.clone(),
        strategy: manifest.strategy.clone(),
        paths: paths.to_vec(),
        configured: configured.is_some(),
    })
}

/// Goes ahead when the operator said `--yes` before, or says yes to `ask`
/// now; without a way to ask (no terminal), refuses.
pub fn confirm(foreign: &ForeignRestore, ask: Option<&dyn Fn(&ForeignRestore) -> bool>) -> Result<(), Failure> {
    match ask {
        Some(ask) if ask(foreign) => Ok(()),
        Some(_) => Err(Failure::failed(format!("restore of {} not confirmed; nothing restored", foreign.dir.display()))),
        None => Err(Failure::bad_input(format!(
            "backup dir {} is not in the catalog: restoring it into {} with strategy {} needs confirmation; pass --yes, or restore it with --target DIR",
            foreign.dir.display(),
            describe_paths(&foreign.paths),
            foreign.strategy
        ))),
    }
}

impl fmt::Display for ForeignRestore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "backup dir {} is not in this machine's catalog; restoring it in place", self.dir.display())?;
        let settings = match self.configured {
            true => format!("its settings from [backups.{}] in bosun.toml", self.set),
            false => "the settings its manifest records".to_string(),
        };
        writeln!(f, "  uses strategy {} with {settings}", self.strategy)?;
        write!(f, "  writes {}", describe_paths(&self.paths))
    }
}

fn describe_paths(paths: &[PathBuf]) -> String {
    match paths {
        [] => "no paths: what the strategy's settings name (a volume, a database, images)".into(),
        paths => paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
    }
}

/// Where writing to `path` would really land: made absolute, with the
/// symlinks of its longest existing part resolved. A path with `..` in it
/// has none (where `..` leads depends on the links before it).
fn resolved(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    if absolute.components().any(|c| c == Component::ParentDir) {
        return None;
    }
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return Some(rest.iter().rev().fold(real, |p, name| p.join(name)));
        }
        rest.push(existing.file_name()?.to_owned());
        existing = existing.parent()?;
    }
}
