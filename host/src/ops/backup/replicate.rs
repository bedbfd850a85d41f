//! Copies a finished backup to each of its set's replica directories, with
//! the same crash safety as the original: a `.partial-` copy, every artifact
//! re-hashed against the manifest, the manifest last, then a rename.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::dest::{remove_backup_dir, sync_dir};
use super::manifest::{self, BackupManifest};
use crate::capability::artifact::sha256_file;

/// One replica's outcome; a failed replica leaves the local backup valid.
#[derive(Debug, Clone, Serialize)]
pub struct Replica {
    pub dir: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn replicate_all(backup_dir: &Path, manifest: &BackupManifest, replicas: &[PathBuf]) -> Vec<Replica> {
    replicas
        .iter()
        .map(|root| match replicate(backup_dir, manifest, root) {
            Ok(dir) => Replica { dir, error: None },
            Err(error) => Replica { dir: root.join(&manifest.id), error: Some(error) },
        })
        .collect()
}

fn replicate(backup_dir: &Path, manifest: &BackupManifest, root: &Path) -> Result<PathBuf, String> {
    let id = &manifest.id;
    let partial = root.join(format!(".partial-{id}"));
    let copy = || -> Result<(), String> {
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(|e| super::take::describe_io(&format!("creating {}", partial.display()), &e))?;
        for artifact in &manifest.artifacts {
            let to = partial.join(&artifact.path);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            std::fs::copy(backup_dir.join(&artifact.path), &to)
                .and_then(|_| std::fs::File::open(&to)?.sync_all())
                .map_err(|e| super::take::describe_io(&format!("copying {} to {}", artifact.path, to.display()), &e))?;
            let sha256 = sha256_file(&to).map_err(|e| format!("{}: {e}", to.display()))?;
            if sha256 != artifact.sha256 {
                return Err(format!("the copy of {} has sha256 {sha256}, the manifest says {}", artifact.path, artifact.sha256));
            }
        }
        manifest.write(&partial).map_err(|e| format!("writing {}: {e}", partial.join(manifest::FILE_NAME).display()))?;
        sync_dir(&partial).map_err(|e| e.to_string())
    };
    let finished = root.join(id);
    let result = copy().and_then(|()| {
        remove_backup_dir(&finished).map_err(|e| format!("replacing {}: {e}", finished.display()))?;
        std::fs::rename(&partial, &finished).and_then(|()| sync_dir(root)).map_err(|e| format!("{}: {e}", finished.display()))
    });
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(format!("replica {}: {e}", root.display()));
    }
    Ok(finished)
}
