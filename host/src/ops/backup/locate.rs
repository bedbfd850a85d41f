//! Finds a backup by catalog id or by directory, with the chain of backups a
//! restore needs (its full base first).

use std::path::{Path, PathBuf};

use super::manifest::{self, BackupManifest};
use crate::failure::Failure;
use crate::state::{BackupRecord, State};

pub struct Located {
    pub dir: PathBuf,
    pub manifest: BackupManifest,
    /// The catalog row, when this machine took or knows the backup.
    pub record: Option<BackupRecord>,
    /// The backups this one builds on, oldest (the full one) first.
    pub bases: Vec<(PathBuf, BackupManifest)>,
}

impl Located {
    /// Every directory a restore reads, oldest first, ending with this backup.
    pub fn chain(&self) -> impl Iterator<Item = (&Path, &BackupManifest)> {
        self.bases.iter().map(|(d, m)| (d.as_path(), m)).chain([(self.dir.as_path(), &self.manifest)])
    }

    pub fn id(&self) -> &str {
        &self.manifest.id
    }
}

/// `reference` is a catalog id, or the path of a backup directory (a copy
/// brought from another machine restores without any catalog).
pub fn locate(state: &State, reference: &str) -> Result<Located, Failure> {
    let as_dir = Path::new(reference);
    let (dir, record) = if as_dir.join(manifest::FILE_NAME).is_file() {
        let dir = std::path::absolute(as_dir).unwrap_or_else(|_| as_dir.to_path_buf());
        let record = state.backup_in_dir(&dir)?;
        (dir, record)
    } else {
        let Some(record) = state.backup(reference)? else {
            return Err(Failure::bad_input(format!(
                "no backup called {reference} in the catalog; `bosun backup list` shows them, or pass a backup directory"
            )));
        };
        if !record.dir.join(manifest::FILE_NAME).is_file() {
            return Err(Failure::failed(format!(
                "backup {reference} is listed but {} is missing or has no {}; restore from a replica, or prune it",
                record.dir.display(),
                manifest::FILE_NAME
            )));
        }
        (record.dir.clone(), Some(record))
    };
    let manifest = BackupManifest::read(&dir)?;
    let bases = bases_of(state, &dir, &manifest)?;
    Ok(Located { dir, manifest, record, bases })
}

/// Follows `base` links: the catalog's directory for a base, else a sibling
/// directory of the same name (how backup sets are copied between machines).
fn bases_of(state: &State, dir: &Path, manifest: &BackupManifest) -> Result<Vec<(PathBuf, BackupManifest)>, Failure> {
    let mut bases = Vec::new();
    let mut next = manifest.base.clone();
    while let Some(base_id) = next {
        if bases.len() > 64 {
            return Err(Failure::failed(format!("backup {}: its chain of bases does not end; the manifests are inconsistent", manifest.id)));
        }
        let from_catalog = state.backup(&base_id)?.map(|b| b.dir).filter(|d| d.join(manifest::FILE_NAME).is_file());
        let sibling = dir.parent().map(|p| p.join(&base_id)).filter(|d| d.join(manifest::FILE_NAME).is_file());
        let Some(base_dir) = from_catalog.or(sibling) else {
            return Err(Failure::failed(format!(
                "backup {} is an incremental of {base_id}, which is neither in the catalog nor beside it; copy {base_id}'s directory next to it",
                manifest.id
            )));
        };
        let base = BackupManifest::read(&base_dir)?;
        next = base.base.clone();
        bases.push((base_dir, base));
    }
    bases.reverse();
    Ok(bases)
}
