//! `bosun:plugin/fs`: the host file system inside the operator's `ro:`/`rw:`
//! grants. Bulk work (archive, extract, copy, hash) runs on blocking threads in
//! the host; plugins only see paths, sizes and hashes.

mod archive;
mod content_hash;
mod extract;
mod file_list;
mod grant;
mod walk;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime::component::{HasSelf, Linker};

pub use archive::open_archive;
pub use content_hash::{FileHash, HashAlgorithm};
pub use file_list::{FileEntry, FileList, Kind, read_file_list};
pub use grant::{Access, Grant, resolve};

use super::artifact::{self, AtomicFile};
use super::{CallState, Denial, HostState, Policy};
use crate::plugin::bindings::fs::{self, ArchiveRequest, ArchiveResult, Entry, EntryKind};
use crate::plugin::bindings::types::{Artifact, HostError};

pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    fs::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

impl CallState {
    /// Resolves `path` (absolute; `..` and symlinks followed) and checks that the
    /// policy allows `access` to it. Used by every capability that touches files.
    pub fn fs_access(&mut self, call: &str, path: &str, access: Access) -> Result<PathBuf, HostError> {
        self.path_check().check(call, path, access)
    }

    /// The same check, movable to a blocking thread that checks path after path.
    pub fn path_check(&self) -> PathCheck {
        PathCheck { plugin: self.plugin.clone(), policy: self.policy.clone(), denials: self.denials.clone() }
    }
}

#[derive(Clone)]
pub struct PathCheck {
    plugin: String,
    policy: Arc<Policy>,
    denials: Arc<Mutex<Vec<Denial>>>,
}

impl PathCheck {
    pub fn check(&self, call: &str, path: &str, access: Access) -> Result<PathBuf, HostError> {
        let resolved = resolve(path).map_err(HostError::Invalid)?;
        self.check_resolved(call, path, resolved, access)
    }

    /// Checks `resolved`, the real location behind `path` (as the plugin named it).
    pub fn check_resolved(&self, call: &str, path: &str, resolved: PathBuf, access: Access) -> Result<PathBuf, HostError> {
        let entry = format!("{}:{path}", access.prefix());
        if let Err(denial) = self.policy.check(call, path, "fs", entry, |g| g.fs.allows(&resolved, access)) {
            tracing::warn!(plugin = %self.plugin, "{denial}");
            self.denials.lock().expect("denials lock").push(denial.clone());
            return Err(HostError::Denied(denial.to_string()));
        }
        Ok(resolved)
    }
}

pub(crate) fn io_error(path: &Path, error: std::io::Error) -> HostError {
    if error.raw_os_error() == Some(libc::ENOSPC) {
        return HostError::Failed(format!("{}: no space left on the device; free space and retry", path.display()));
    }
    match error.kind() {
        std::io::ErrorKind::NotFound => HostError::NotFound(format!("{}: not found", path.display())),
        _ => HostError::Failed(format!("{}: {error}", path.display())),
    }
}

/// Runs blocking file work off the async executor.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, HostError> + Send + 'static) -> Result<T, HostError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| HostError::Failed(format!("host task failed: {e}")))?
}

/// One path as lstat sees it (through the walk's own stat, so `fs.stat`,
/// `fs.list` and file lists agree).
pub(crate) fn entry_of(path: &Path) -> std::io::Result<Entry> {
    walk::TreeEntry::stat_at(rustix::fs::CWD, &walk::path_cstr(path)?, path.to_path_buf()).map(Entry::from)
}

fn globs(patterns: &[String]) -> Result<globset::GlobSet, HostError> {
    let mut set = globset::GlobSetBuilder::new();
    for p in patterns {
        set.add(globset::Glob::new(p).map_err(|e| HostError::Invalid(format!("glob {p:?}: {e}")))?);
    }
    set.build().map_err(|e| HostError::Invalid(e.to_string()))
}

fn list_tree(dir: &Path, include: &globset::GlobSet, exclude: &globset::GlobSet, recursive: bool, all: bool) -> Result<Vec<Entry>, HostError> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let read = std::fs::read_dir(&current).map_err(|e| io_error(&current, e))?;
        for item in read {
            let item = item.map_err(|e| io_error(&current, e))?;
            let path = item.path();
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            if exclude.is_match(relative) {
                continue;
            }
            let entry = entry_of(&path).map_err(|e| io_error(&path, e))?;
            if recursive && entry.kind == EntryKind::Dir {
                pending.push(path.clone());
            }
            if all || include.is_match(relative) {
                out.push(entry);
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

impl fs::Host for HostState {
    async fn list(&mut self, dir: String, include: Vec<String>, exclude: Vec<String>, recursive: bool) -> Result<Vec<Entry>, HostError> {
        let root = self.call.fs_access("fs.list", &dir, Access::Read)?;
        let (include_set, exclude_set) = (globs(&include)?, globs(&exclude)?);
        blocking(move || list_tree(&root, &include_set, &exclude_set, recursive, include.is_empty())).await
    }

    async fn stat(&mut self, path: String) -> Result<Option<Entry>, HostError> {
        // Checked on the path as named: stat does not follow a final symlink.
        let resolved = self.call.fs_access("fs.stat", &path, Access::Read)?;
        let named = Path::new(&path);
        let target = if named.is_symlink() { named.to_path_buf() } else { resolved };
        match entry_of(&target) {
            Ok(entry) => Ok(Some(Entry { path, ..entry })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&target, e)),
        }
    }

    async fn hash(&mut self, path: String) -> Result<String, HostError> {
        let file = self.call.fs_access("fs.hash", &path, Access::Read)?;
        blocking(move || artifact::sha256_file(&file).map_err(|e| io_error(&file, e))).await
    }

    async fn archive(&mut self, req: ArchiveRequest) -> Result<ArchiveResult, HostError> {
        let sources = req
            .sources
            .iter()
            .map(|s| self.call.fs_access("fs.archive", s, Access::Read))
            .collect::<Result<Vec<_>, _>>()?;
        let dest = self.call.fs_access("fs.archive", &req.dest, Access::Write)?;
        let since = match &req.since_manifest {
            Some(m) => Some(self.call.fs_access("fs.archive", m, Access::Read)?),
            None => None,
        };
        let manifest_dest = match &req.manifest_dest {
            Some(m) => Some(self.call.fs_access("fs.archive", m, Access::Write)?),
            None => None,
        };
        if !self.call.execute("fs.archive", format!("{} -> {}", req.sources.join(" "), req.dest)) {
            let manifest = req.manifest_dest.as_deref().map(artifact::planned);
            return Ok(ArchiveResult { archive: artifact::planned(&req.dest), manifest, entries: 0, deleted: vec![] });
        }
        let job = archive::ArchiveJob {
            sources,
            excludes: globs(&req.excludes)?,
            dest,
            compression: req.compression,
            level: req.level,
            since,
            manifest_dest,
        };
        blocking(move || job.run()).await
    }

    async fn extract(&mut self, archive_path: String, dest: String) -> Result<u64, HostError> {
        let archive = self.call.fs_access("fs.extract", &archive_path, Access::Read)?;
        // Each entry is checked where it lands, so extracting into `/` writes
        // only inside the rw grants (an in-place restore).
        let target = match Path::new(&dest).exists() {
            true => resolve(&dest).map_err(HostError::Invalid)?,
            false => self.call.fs_access("fs.extract", &dest, Access::Write)?,
        };
        if !self.call.execute("fs.extract", format!("{archive_path} -> {dest}")) {
            return Ok(0);
        }
        let check = self.call.path_check();
        let may_write = move |landing: &Path, real: PathBuf| check.check_resolved("fs.extract", &landing.to_string_lossy(), real, Access::Write).map(drop);
        blocking(move || extract::extract(&archive, &target, may_write)).await
    }

    async fn copy(&mut self, src: String, dest: String) -> Result<Artifact, HostError> {
        let from = self.call.fs_access("fs.copy", &src, Access::Read)?;
        let to = self.call.fs_access("fs.copy", &dest, Access::Write)?;
        if !self.call.execute("fs.copy", format!("{src} -> {dest}")) {
            return Ok(artifact::planned(&dest));
        }
        blocking(move || {
            let mut input = std::fs::File::open(&from).map_err(|e| io_error(&from, e))?;
            let mut out = AtomicFile::create(&to).map_err(|e| io_error(&to, e))?;
            std::io::copy(&mut input, &mut out).map_err(|e| io_error(&to, e))?;
            out.finish().map_err(|e| io_error(&to, e))
        })
        .await
    }

    async fn read_small(&mut self, path: String, max_bytes: u32) -> Result<Vec<u8>, HostError> {
        let file = self.call.fs_access("fs.read-small", &path, Access::Read)?;
        let meta = std::fs::metadata(&file).map_err(|e| io_error(&file, e))?;
        if meta.len() > u64::from(max_bytes) {
            return Err(HostError::Invalid(format!("{path} is {} bytes, more than the {max_bytes} asked for", meta.len())));
        }
        std::fs::read(&file).map_err(|e| io_error(&file, e))
    }

    async fn write_small(&mut self, path: String, contents: Vec<u8>) -> Result<Artifact, HostError> {
        const MAX: usize = 16 * 1024 * 1024;
        if contents.len() > MAX {
            return Err(HostError::Invalid(format!("write-small takes at most {MAX} bytes; use archive or copy")));
        }
        let file = self.call.fs_access("fs.write-small", &path, Access::Write)?;
        if !self.call.execute("fs.write-small", format!("{path} ({} bytes)", contents.len())) {
            return Ok(artifact::planned(&path));
        }
        let write = || -> std::io::Result<Artifact> {
            let mut out = AtomicFile::create(&file)?;
            std::io::Write::write_all(&mut out, &contents)?;
            out.finish()
        };
        write().map_err(|e| io_error(&file, e))
    }

    async fn create_dir(&mut self, path: String) -> Result<(), HostError> {
        let dir = self.call.fs_access("fs.create-dir", &path, Access::Write)?;
        if self.call.execute("fs.create-dir", &path) {
            std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        }
        Ok(())
    }

    async fn remove(&mut self, path: String) -> Result<(), HostError> {
        // Removing a symlink removes the link, so the check is on the directory
        // holding it (resolved) plus the name, not on where the link points.
        let named = Path::new(&path);
        let (Some(parent), Some(name)) = (named.parent(), named.file_name()) else {
            return Err(HostError::Invalid(format!("{path} cannot be removed")));
        };
        let target = self.call.fs_access("fs.remove", &parent.to_string_lossy(), Access::Write)?.join(name);
        if !self.call.execute("fs.remove", &path) {
            return Ok(());
        }
        blocking(move || {
            let meta = std::fs::symlink_metadata(&target).map_err(|e| io_error(&target, e))?;
            let result = if meta.is_dir() { std::fs::remove_dir_all(&target) } else { std::fs::remove_file(&target) };
            result.map_err(|e| io_error(&target, e))
        })
        .await
    }

    async fn rename(&mut self, src: String, dest: String) -> Result<(), HostError> {
        let from = self.call.fs_access("fs.rename", &src, Access::Write)?;
        let to = self.call.fs_access("fs.rename", &dest, Access::Write)?;
        if self.call.execute("fs.rename", format!("{src} -> {dest}")) {
            std::fs::rename(&from, &to).map_err(|e| io_error(&from, e))?;
        }
        Ok(())
    }
}
