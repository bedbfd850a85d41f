//! `backup verify`: every artifact re-hashed against its manifest; with
//! `--restore-test`, a restore into a temporary directory compared entry by
//! entry with the backup's file list (or its single archive; an image
//! tarball's layers also against the digests its image configs name; a single
//! SQLite file by bosun's own `PRAGMA integrity_check`), unless the strategy
//! checks its own restore (a dump restored into a scratch database).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::files::file_list;
use super::locate::{Located, locate};
use super::manifest::BackupManifest;
use super::restore::restore_call;
use super::sqlite_check;
use crate::app::App;
use crate::backup_format::{FileEntry, FileHash, HashAlgorithm, Kind, Owner, open_archive};
use crate::capability::artifact::sha256_file;
use crate::capability::fs::{Owners, entry_of};
use crate::failure::Failure;
use crate::state::now_unix;

#[derive(Debug, Serialize)]
pub struct Verified {
    pub id: String,
    pub artifacts: usize,
    pub bytes: u64,
    /// Entries the restore test compared, when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_test_entries: Option<usize>,
    /// What the strategy's own restore test found, when it made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_test_summary: Option<String>,
}

/// What a restore test compared or checked.
struct RestoreTested {
    entries: usize,
    summary: Option<String>,
}

pub async fn verify(app: &App, reference: &str, restore_test: bool) -> Result<Verified, Failure> {
    let located = locate(app.state()?, reference)?;
    let outcome = check(app, &located, restore_test).await;
    if let Some(record) = &located.record {
        let error = outcome.as_ref().err().map(|f| f.message.as_str());
        app.state()?.record_verify(&record.id, now_unix(), error)?;
    }
    let tested = outcome?;
    Ok(Verified {
        id: located.id().to_string(),
        artifacts: located.manifest.artifacts.len(),
        bytes: located.manifest.bytes(),
        restore_test_entries: tested.as_ref().map(|t| t.entries),
        restore_test_summary: tested.and_then(|t| t.summary),
    })
}

async fn check(app: &App, located: &Located, restore_test: bool) -> Result<Option<RestoreTested>, Failure> {
    check_chain(located.chain())?;
    if !restore_test {
        return Ok(None);
    }
    let scratch = tempfile::Builder::new()
        .prefix("bosun-restore-test-")
        .tempdir()
        .map_err(|e| Failure::failed(format!("cannot create a directory for the restore test: {e}")))?;
    let (plugin, mut setup, request) = restore_call(app, located, Some(scratch.path()), &[scratch.path().to_path_buf()], false)?;
    setup.policy = std::sync::Arc::new((*setup.policy).clone().with_scratch_db(&scratch_database(scratch.path())));
    if let Some(own) = app.runtime()?.restore_test(&plugin, setup, request).await?.value {
        return Ok(Some(RestoreTested { entries: own.checked as usize, summary: Some(own.summary) }));
    }
    let (compared, differences) = match file_list(located)? {
        Some(list) => (list.entries.len(), compare_tree(scratch.path(), &list.entries, Owners::default().apply())),
        // No file list (e.g. `volume`): the single archive is the reference.
        None => match located.manifest.artifacts.as_slice() {
            [only] if sqlite_check::is_sqlite(&located.dir.join(&only.path)) => {
                let tables = sqlite_check::integrity_check(&located.dir.join(&only.path))
                    .map_err(|e| Failure::failed(format!("backup {}: {}: {e}", located.id(), only.path)))?;
                let summary = format!("opened read-only: integrity_check ok, {tables} table{}", if tables == 1 { "" } else { "s" });
                return Ok(Some(RestoreTested { entries: tables as usize, summary: Some(summary) }));
            }
            [only] => {
                let compared = compare_with_archive(scratch.path(), &located.dir.join(&only.path))
                    .map_err(|e| Failure::failed(format!("backup {}: reading {}: {e}", located.id(), only.path)))?;
                if scratch.path().join("manifest.json").is_file() {
                    check_image_layout(scratch.path()).map_err(|e| Failure::failed(format!("backup {}: {}: {e}", located.id(), only.path)))?;
                }
                compared
            }
            _ => {
                return Err(Failure::failed(format!(
                    "backup {}: restored, but it has no file list or single archive to compare against (strategy {})",
                    located.id(),
                    located.manifest.strategy
                )));
            }
        },
    };
    if let Some(first) = differences.first() {
        return Err(Failure::failed(format!(
            "backup {}: the restore test differs from the backup in {} entries, first: {first}",
            located.id(),
            differences.len()
        )));
    }
    Ok(Some(RestoreTested { entries: compared, summary: None }))
}

/// The scratch database a restore test may create, named after its scratch
/// directory (`/tmp/bosun-restore-test-AbC12` -> `bosun_restore_test_abc12`),
/// which `{scratch-db}` in a process grant stands for.
fn scratch_database(scratch: &Path) -> String {
    let base = scratch.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    base.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

/// Compares the tree under `root` with every entry of the tar `archive`
/// (content hash, mode, link target). Returns the entries compared and the differences.
fn compare_with_archive(root: &Path, archive: &Path) -> std::io::Result<(usize, Vec<String>)> {
    let mut tar = tar::Archive::new(open_archive(archive)?);
    let (mut compared, mut differences) = (0, Vec::new());
    for entry in tar.entries()? {
        let mut entry = entry?;
        let relative = entry.path()?.into_owned();
        let header = entry.header();
        let (kind, mode) = match header.entry_type() {
            t if t.is_dir() => (Kind::Dir, header.mode()? & 0o7777),
            t if t.is_symlink() => (Kind::Symlink, 0),
            t if t.is_file() => (Kind::File, header.mode()? & 0o7777),
            _ => continue,
        };
        let link_target = header.link_name()?.map(|l| l.display().to_string());
        let hash = match kind {
            Kind::File => Some(FileHash::of_reader(HashAlgorithm::Blake3, &mut entry)?),
            _ => None,
        };
        let want = FileEntry { kind, size: entry.header().size()?, mtime_ms: 0, mode, owner: None, hash, link_target };
        if let Some(difference) = compare_entry(&root.join(&relative), &want, Checks { mtime: false, owner: false }) {
            differences.push(format!("{}: {difference}", relative.display()));
        }
        compared += 1;
    }
    Ok((compared, differences))
}

/// A `docker save` tarball unpacked under `root`: each image's config and
/// layers are there and hash to the digests the config names, so loading it
/// gives back the same image ids.
fn check_image_layout(root: &Path) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Saved {
        #[serde(rename = "Config")]
        config: String,
        #[serde(rename = "Layers")]
        layers: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct ImageConfig {
        rootfs: RootFs,
    }
    #[derive(serde::Deserialize)]
    struct RootFs {
        diff_ids: Vec<String>,
    }
    let read = |name: &str| std::fs::read(root.join(name)).map_err(|e| format!("{name}: {e}"));
    let hash = |name: &str| sha256_file(&root.join(name)).map_err(|e| format!("{name}: {e}"));
    let saved: Vec<Saved> = serde_json::from_slice(&read("manifest.json")?).map_err(|e| format!("manifest.json is not a docker save manifest: {e}"))?;
    for image in &saved {
        let named = image.config.rsplit('/').next().unwrap_or_default().trim_end_matches(".json");
        let actual = hash(&image.config)?;
        if actual != named {
            return Err(format!("image config {} hashes to sha256:{actual}, not the digest in its name", image.config));
        }
        let config: ImageConfig = serde_json::from_slice(&read(&image.config)?).map_err(|e| format!("image config {}: {e}", image.config))?;
        if config.rootfs.diff_ids.len() != image.layers.len() {
            return Err(format!("image config {} names {} layers, the manifest {}", image.config, config.rootfs.diff_ids.len(), image.layers.len()));
        }
        for (layer, diff_id) in image.layers.iter().zip(&config.rootfs.diff_ids) {
            let actual = hash(layer)?;
            if diff_id.trim_start_matches("sha256:") != actual {
                return Err(format!("layer {layer} hashes to sha256:{actual}, but the image config expects {diff_id}"));
            }
        }
    }
    Ok(())
}

/// Re-hashes every artifact of each backup of a chain (its bases first).
pub fn check_chain<'a>(chain: impl IntoIterator<Item = (&'a Path, &'a BackupManifest)>) -> Result<(), Failure> {
    chain.into_iter().try_for_each(|(dir, manifest)| check_artifacts(dir, manifest))
}

/// Re-hashes every artifact of one backup directory. The error names the
/// artifact and both hashes (or sizes).
fn check_artifacts(dir: &Path, manifest: &BackupManifest) -> Result<(), Failure> {
    for artifact in &manifest.artifacts {
        let path = dir.join(&artifact.path);
        let id = &manifest.id;
        if Path::new(&artifact.path).components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Err(Failure::failed(format!("backup {id}: the manifest names artifact {} outside the backup directory", artifact.path)));
        }
        let size = std::fs::metadata(&path)
            .map_err(|e| Failure::failed(format!("backup {id}: artifact {}: {e}; restore from a replica or an older backup", artifact.path)))?
            .len();
        if size != artifact.size {
            return Err(Failure::failed(format!(
                "backup {id}: artifact {} is {size} bytes, the manifest says {} (truncated or overwritten); restore from a replica or an older backup",
                artifact.path, artifact.size
            )));
        }
        let sha256 = sha256_file(&path).map_err(|e| Failure::failed(format!("backup {id}: artifact {}: {e}", artifact.path)))?;
        if sha256 != artifact.sha256 {
            return Err(Failure::failed(format!(
                "backup {id}: artifact {} has sha256 {sha256}, the manifest says {} (corrupted); restore from a replica or an older backup",
                artifact.path, artifact.sha256
            )));
        }
    }
    Ok(())
}

/// How the tree under `root` differs from `expected` (keys are absolute
/// paths without the leading `/`, as stored in the archive), owners
/// included when the restore gave entries their owners.
fn compare_tree(root: &Path, expected: &[(String, FileEntry)], owners: bool) -> Vec<String> {
    let mut differences = Vec::new();
    for (key, want) in expected {
        let path = root.join(key);
        if let Some(difference) = compare_entry(&path, want, Checks { mtime: true, owner: owners }) {
            differences.push(format!("/{key}: {difference}"));
        }
    }
    // Ancestors of listed entries are created by the restore; anything else is extra.
    let mut allowed: BTreeSet<PathBuf> = BTreeSet::new();
    for (key, _) in expected {
        let mut path = root.join(key);
        while path.starts_with(root) && allowed.insert(path.clone()) {
            path.pop();
        }
    }
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(children) = std::fs::read_dir(&dir) else { continue };
        for child in children.flatten().map(|c| c.path()) {
            if !allowed.contains(&child) {
                differences.push(format!("{}: restored but not in the file list", child.strip_prefix(root).unwrap_or(&child).display()));
            } else if child.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                pending.push(child);
            }
        }
    }
    differences
}

/// What [`compare_entry`] compares besides kind, mode, size, content and link target.
#[derive(Clone, Copy)]
struct Checks {
    /// To the millisecond, as file lists keep mtimes.
    mtime: bool,
    /// When the list records one.
    owner: bool,
}

fn compare_entry(path: &Path, want: &FileEntry, checks: Checks) -> Option<String> {
    let Ok(entry) = entry_of(path) else { return Some("missing".into()) };
    let kind = Kind::from(entry.kind);
    if kind != want.kind {
        return Some(format!("is a {kind}, expected a {}", want.kind));
    }
    if kind != Kind::Symlink && entry.mode != want.mode {
        return Some(format!("mode {:o}, expected {:o}", entry.mode, want.mode));
    }
    if let Some(owner) = want.owner.filter(|_| checks.owner) {
        let found = owner_of(path);
        if found != Some(owner) {
            return Some(format!("owner {}, expected {owner}", found.map_or("unknown".into(), |o| o.to_string())));
        }
    }
    if checks.mtime && entry.mtime != want.mtime_ms {
        let at = |ms: i64| format!("{} +{}ms", crate::time::rfc3339(ms.max(0) as u64 / 1000), ms.rem_euclid(1000));
        return Some(format!("modified {}, expected {}", at(entry.mtime), at(want.mtime_ms)));
    }
    match kind {
        Kind::File if entry.size != want.size => Some(format!("{} bytes, expected {}", entry.size, want.size)),
        Kind::File => {
            let Some(expected) = want.hash else { return Some("listed without a content hash".into()) };
            match FileHash::of_file(expected.algorithm, path) {
                Ok(hash) if hash == expected => None,
                Ok(hash) => Some(format!("content {hash}, expected {expected}")),
                Err(e) => Some(format!("cannot read it: {e}")),
            }
        }
        Kind::Symlink => (entry.link_target != want.link_target).then(|| format!("points to {:?}, expected {:?}", entry.link_target, want.link_target)),
        _ => None,
    }
}

/// Who owns `path` (not following a symlink).
fn owner_of(path: &Path) -> Option<Owner> {
    use std::os::unix::fs::MetadataExt;
    path.symlink_metadata().ok().map(|meta| Owner { uid: meta.uid(), gid: meta.gid() })
}
