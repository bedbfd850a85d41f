//! Restore targets that are missing or empty, noted before a restore writes
//! into them, so that what it wrote can be taken out again and each target
//! left as it was found.

use std::io;
use std::path::{Path, PathBuf};

pub struct FreshTargets(Vec<Undo>);

enum Undo {
    /// The topmost directory the restore will create on the way to a missing target.
    Remove(PathBuf),
    /// An empty directory the restore writes into: it is emptied again.
    Empty(PathBuf),
}

impl FreshTargets {
    /// Notes `targets`, each missing or an empty directory.
    pub fn note(targets: &[PathBuf]) -> FreshTargets {
        FreshTargets(targets.iter().map(|target| Undo::before(target)).collect())
    }

    /// Removes what was written since `note`; the error names the first path
    /// that could not be removed.
    pub fn remove_restored(&self) -> Result<(), String> {
        for undo in &self.0 {
            let (path, result) = match undo {
                Undo::Remove(top) => (top, remove(top)),
                Undo::Empty(dir) => (dir, std::fs::read_dir(dir).and_then(|mut entries| entries.try_for_each(|e| remove(&e?.path())))),
            };
            result.map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }
}

impl Undo {
    fn before(target: &Path) -> Undo {
        if target.symlink_metadata().is_ok() {
            return Undo::Empty(target.to_path_buf());
        }
        let mut top = target;
        while let Some(parent) = top.parent().filter(|p| p.symlink_metadata().is_err()) {
            top = parent;
        }
        Undo::Remove(top.to_path_buf())
    }
}

/// Removes a file, link or directory tree; one already gone is fine.
fn remove(path: &Path) -> io::Result<()> {
    let removed = match path.symlink_metadata() {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_target_goes_with_the_directories_made_for_it_and_an_empty_one_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("new/deeper/target");
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let fresh = FreshTargets::note(&[missing.clone(), empty.clone()]);
        std::fs::create_dir_all(missing.join("sub")).unwrap();
        std::fs::write(missing.join("sub/f"), "x").unwrap();
        std::fs::create_dir(empty.join("sub")).unwrap();
        std::fs::write(empty.join("f"), "x").unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("kept"), "x").unwrap();
        std::os::unix::fs::symlink(&elsewhere, empty.join("link")).unwrap();

        fresh.remove_restored().unwrap();
        assert!(!dir.path().join("new").exists(), "the directories made on the way are gone too");
        assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "the empty target stays, empty");
        assert!(elsewhere.join("kept").exists(), "a restored link is removed, not followed");
    }
}
