//! `bosun:plugin/fs`: the host file system inside the operator's `ro:`/`rw:`
//! grants. Every path a plugin names is opened beneath the handle of the
//! grant root covering it ([`beneath`]); bulk work (archive, extract, copy,
//! hash) runs on blocking threads in the host; plugins only see paths, sizes
//! and hashes.

mod archive;
pub mod beneath;
mod bounded;
mod extract;
mod file_list_io;
mod grant;
mod locate;
mod unlisted;
mod walk;

use std::path::{Path, PathBuf};

use rustix::fs::{Dir, OFlags};
use wasmtime::component::{HasData, Linker};

pub use beneath::protect;
pub use extract::Owners;
pub use file_list_io::read_file_list;
pub use grant::{Access, Grant};
pub use locate::{Locator, Place};
pub use unlisted::{Expected, Extra, Tree, unlisted};

use super::artifact;
use super::{CallScope, Capability, HostState, Side};
use bounded::{Bounded, Deadline};
use crate::bindings::fs::{self, ArchiveRequest, ArchiveResult, Entry, EntryKind};
use crate::bindings::types::{Artifact, Digest, HostError};

pub struct Fs;

impl HasData for Fs {
    type Data<'a> = FsView<'a>;
}

/// What the fs interface sees of a call: its scope.
pub struct FsView<'a> {
    call: &'a mut CallScope,
}

impl Capability for Fs {
    const NAME: &'static str = "fs";
    type Grant = Grant;

    fn parse(entries: &[String], _: Side) -> Result<Grant, String> {
        Grant::parse(entries)
    }

    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        fs::add_to_linker::<HostState, Fs>(linker, view)
    }
}

pub(super) fn view(state: &mut HostState) -> FsView<'_> {
    FsView { call: &mut state.call }
}

impl FsView<'_> {
    /// Finds what the plugin's paths name, inside its grants.
    fn locate(&self) -> Locator {
        Locator::of(self.call)
    }

    /// The deadline file work of this call reads and writes within.
    fn deadline(&self) -> Deadline {
        Deadline(self.call.deadline)
    }
}

pub(crate) fn io_error(path: &Path, error: std::io::Error) -> HostError {
    if error.kind() == std::io::ErrorKind::TimedOut && error.to_string() == bounded::PASSED {
        return HostError::TimedOut(format!("{}: {}", path.display(), bounded::PASSED));
    }
    if is_out_of_space(&error) {
        let full = match error.raw_os_error() {
            Some(libc::EDQUOT) => "the disk quota is used up on",
            _ => "no space left on",
        };
        return HostError::Failed(format!("{}: {full} the file system mounted at {}; free space there and retry", path.display(), mount_point(path).display()));
    }
    match error.kind() {
        std::io::ErrorKind::NotFound => HostError::NotFound(format!("{}: not found", path.display())),
        _ => HostError::Failed(format!("{}: {error}", path.display())),
    }
}

/// A write that failed because its file system is full (or its quota is).
pub(crate) fn is_out_of_space(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// The directory the file system holding `path` (or its nearest existing
/// ancestor) is mounted at: the topmost ancestor on the same device.
fn mount_point(path: &Path) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let Some((mut top, device)) = path.ancestors().find_map(|p| std::fs::metadata(p).ok().map(|m| (p, m.dev()))) else { return path.to_path_buf() };
    while let Some(parent) = top.parent().filter(|p| std::fs::metadata(p).is_ok_and(|m| m.dev() == device)) {
        top = parent;
    }
    top.to_path_buf()
}

/// Runs blocking file work off the async executor, within the call's
/// deadline: the call gets `timed-out` at the deadline, and the work, given
/// the deadline to read and write through ([`bounded`]), stops soon after.
async fn blocking<T: Send + 'static>(deadline: Deadline, what: &str, work: impl FnOnce(Deadline) -> Result<T, HostError> + Send + 'static) -> Result<T, HostError> {
    let task = tokio::task::spawn_blocking(move || work(deadline));
    match tokio::time::timeout_at(deadline.0.into(), task).await {
        Err(_elapsed) => Err(HostError::TimedOut(format!("{what}: {}", bounded::PASSED))),
        Ok(joined) => joined.map_err(|e| HostError::Failed(format!("host task failed: {e}")))?,
    }
}

/// One path as lstat sees it (through the walk's own stat, so `fs.stat`,
/// `fs.list` and file lists agree). For paths bosun itself chose.
pub(crate) fn entry_of(path: &Path) -> std::io::Result<Entry> {
    walk::TreeEntry::stat_at(rustix::fs::CWD, &walk::path_cstr(path)?, path.to_path_buf()).map(Entry::from)
}

pub fn globs(patterns: &[String]) -> Result<globset::GlobSet, HostError> {
    let mut set = globset::GlobSetBuilder::new();
    for p in patterns {
        set.add(globset::Glob::new(p).map_err(|e| HostError::Invalid(format!("glob {p:?}: {e}")))?);
    }
    set.build().map_err(|e| HostError::Invalid(e.to_string()))
}

/// The entries under the open directory `top` (found at `dir`), through
/// handles: subdirectories are opened beneath `top` with no symlinks on the
/// way; bosun's own state directories are not listed into.
fn list_tree(top: std::os::fd::OwnedFd, dir: &Path, include: &globset::GlobSet, exclude: &globset::GlobSet, recursive: bool, all: bool) -> Result<Vec<Entry>, HostError> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let shown = dir.join(&relative);
        let fail = |e: rustix::io::Errno| io_error(&shown, e.into());
        let fd = walk::open_beneath(&top, &relative, OFlags::RDONLY | OFlags::DIRECTORY).map_err(fail)?;
        if beneath::is_protected_dir(&fd) {
            continue;
        }
        let mut listing = Dir::new(fd).map_err(fail)?;
        while let Some(item) = listing.read() {
            let item = item.map_err(fail)?;
            let name = item.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            let child = relative.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name.to_bytes()));
            if exclude.is_match(&child) {
                continue;
            }
            let path = dir.join(&child);
            let entry = walk::TreeEntry::stat_at(listing.fd().map_err(fail)?, name, path.clone()).map_err(|e| io_error(&path, e))?;
            if recursive && entry.kind == EntryKind::Dir {
                pending.push(child.clone());
            }
            if all || include.is_match(&child) {
                out.push(Entry::from(entry));
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

impl fs::Host for FsView<'_> {
    async fn list(&mut self, dir: String, include: Vec<String>, exclude: Vec<String>, recursive: bool) -> Result<Vec<Entry>, HostError> {
        let top = self.locate().reach("fs.list", &dir, Access::Read, |at| at.open(OFlags::RDONLY | OFlags::DIRECTORY))?;
        let (include_set, exclude_set) = (globs(&include)?, globs(&exclude)?);
        blocking(self.deadline(), "fs.list", move |_| list_tree(top, Path::new(&dir), &include_set, &exclude_set, recursive, include.is_empty())).await
    }

    async fn stat(&mut self, path: String) -> Result<Option<Entry>, HostError> {
        let shown = PathBuf::from(&path);
        let found = self.locate().reach("fs.stat", &path, Access::Read, |at| at.lstat(&shown));
        match found {
            Ok(entry) => Ok(entry.map(Entry::from)),
            Err(HostError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn hash(&mut self, path: String) -> Result<Digest, HostError> {
        let file = self.locate().open_file("fs.hash", &path)?;
        blocking(self.deadline(), "fs.hash", move |deadline| {
            artifact::sha256_reader(Bounded::new(file, deadline)).map_err(|e| io_error(Path::new(&path), e))
        })
        .await
        .map(Digest::sha256)
    }

    async fn archive(&mut self, req: ArchiveRequest) -> Result<ArchiveResult, HostError> {
        let fs = self.locate();
        let sources = req
            .sources
            .iter()
            .map(|s| Ok(archive::Source { top: fs.reach("fs.archive", s, Access::Read, |at| at.open(OFlags::PATH | OFlags::NOFOLLOW))?, path: PathBuf::from(s) }))
            .collect::<Result<Vec<_>, HostError>>()?;
        let dest = fs.place("fs.archive", &req.dest)?;
        let since = match &req.since_manifest {
            Some(m) => Some((fs.open_file("fs.archive", m)?, PathBuf::from(m))),
            None => None,
        };
        let manifest_dest = match &req.manifest_dest {
            Some(m) => Some(fs.place("fs.archive", m)?),
            None => None,
        };
        if !self.call.execute("fs.archive", format!("{} -> {}", req.sources.join(" "), req.dest)) {
            let manifest = req.manifest_dest.as_deref().map(artifact::planned);
            return Ok(ArchiveResult { archive: artifact::planned(&req.dest), manifest, entries: 0, deleted: vec![] });
        }
        let excludes = globs(&req.excludes)?;
        blocking(self.deadline(), "fs.archive", move |deadline| {
            let job = archive::ArchiveJob {
                deadline,
                sources,
                excludes,
                dest: dest.create()?,
                compression: req.compression,
                level: req.level,
                since,
                manifest_dest: manifest_dest.map(Place::create).transpose()?,
            };
            job.run()
        })
        .await
    }

    async fn extract(&mut self, archive_path: String, dest: String) -> Result<u64, HostError> {
        let fs = self.locate();
        let archive = fs.open_file("fs.extract", &archive_path)?;
        // Beneath the destination when a grant covers it; an in-place restore
        // into `/` (which none does) writes each entry beneath the rw grant
        // covering where it lands, and nowhere else.
        let beneath_dest = fs.covers(&dest, Access::Write) || !Path::new(&dest).is_dir();
        if beneath_dest {
            fs.may_create("fs.extract", &dest)?;
        }
        if !self.call.execute("fs.extract", format!("{archive_path} -> {dest}")) {
            return Ok(0);
        }
        let owners = self.call.policy.owners.apply();
        blocking(self.deadline(), "fs.extract", move |deadline| {
            let dest_path = PathBuf::from(&dest);
            let dest_dir = match beneath_dest {
                true => Some(fs.reach_creating("fs.extract", &dest, |at| at.open_dir_creating())?),
                false => None,
            };
            let landing = |relative: &Path, probing: extract::Probing| -> Result<std::os::fd::OwnedFd, HostError> {
                let landing = dest_path.join(relative);
                let landing_text = landing.to_string_lossy();
                match &dest_dir {
                    Some(dir) => {
                        let dir = dir.try_clone().map_err(|e| io_error(&dest_path, e))?;
                        let at = beneath::Located::from_fd(dir, relative.to_path_buf(), landing.clone());
                        at.open_dir_creating().map_err(|refusal| locate::outside_dest(refusal, &landing, &dest_path))
                    }
                    None if probing == extract::Probing::Yes && !fs.covers(&landing_text, Access::Write) => {
                        Err(HostError::Denied(format!("{landing_text}: no grant covers it")))
                    }
                    None => fs.reach_creating("fs.extract", &landing_text, |at| at.open_dir_creating()),
                }
            };
            extract::extract(Bounded::new(archive, deadline), Path::new(&archive_path), &dest_path, &landing, owners)
        })
        .await
    }

    async fn copy(&mut self, src: String, dest: String) -> Result<Artifact, HostError> {
        let fs = self.locate();
        let mut input = fs.open_file("fs.copy", &src)?;
        let place = fs.place("fs.copy", &dest)?;
        if !self.call.execute("fs.copy", format!("{src} -> {dest}")) {
            return Ok(artifact::planned(&dest));
        }
        blocking(self.deadline(), "fs.copy", move |deadline| {
            let fail = |e| io_error(Path::new(&dest), e);
            let mut out = place.create()?;
            std::io::copy(&mut Bounded::new(&mut input, deadline), &mut out).map_err(fail)?;
            out.finish().map_err(fail)
        })
        .await
    }

    async fn read_small(&mut self, path: String, max_bytes: u32) -> Result<Vec<u8>, HostError> {
        let file = self.locate().open_file("fs.read-small", &path)?;
        let size = file.metadata().map_err(|e| io_error(Path::new(&path), e))?.len();
        if size > u64::from(max_bytes) {
            return Err(HostError::Invalid(format!("{path} is {size} bytes, more than the {max_bytes} asked for")));
        }
        // A file that grows while it is read is still read only up to the limit.
        let mut contents = Vec::with_capacity(size as usize);
        std::io::Read::read_to_end(&mut std::io::Read::take(file, u64::from(max_bytes)), &mut contents).map_err(|e| io_error(Path::new(&path), e))?;
        Ok(contents)
    }

    async fn write_small(&mut self, path: String, contents: Vec<u8>) -> Result<Artifact, HostError> {
        const MAX: usize = 16 * 1024 * 1024;
        if contents.len() > MAX {
            return Err(HostError::Invalid(format!("write-small takes at most {MAX} bytes; use archive or copy")));
        }
        let place = self.locate().place("fs.write-small", &path)?;
        if !self.call.execute("fs.write-small", format!("{path} ({} bytes)", contents.len())) {
            return Ok(artifact::planned(&path));
        }
        let mut out = place.create()?;
        std::io::Write::write_all(&mut out, &contents).map_err(|e| io_error(Path::new(&path), e))?;
        out.finish().map_err(|e| io_error(Path::new(&path), e))
    }

    async fn create_dir(&mut self, path: String) -> Result<(), HostError> {
        let fs = self.locate();
        fs.may_create("fs.create-dir", &path)?;
        if self.call.execute("fs.create-dir", &path) {
            fs.reach_creating("fs.create-dir", &path, |at| at.create_dirs())?;
        }
        Ok(())
    }

    async fn remove(&mut self, path: String) -> Result<(), HostError> {
        // Through the directory holding it: a symlink is removed, never followed.
        let fs = self.locate();
        let place = fs.place("fs.remove", &path)?;
        if !self.call.execute("fs.remove", &path) {
            return Ok(());
        }
        blocking(self.deadline(), "fs.remove", move |_| place.remove()).await
    }

    async fn rename(&mut self, src: String, dest: String) -> Result<(), HostError> {
        let fs = self.locate();
        let from = fs.place("fs.rename", &src)?;
        let to = fs.place("fs.rename", &dest)?;
        if self.call.execute("fs.rename", format!("{src} -> {dest}")) {
            from.rename_to(&to)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;
    use crate::capability::GrantSpec;
    use crate::capability::scope::test_scope;
    use crate::bindings::fs::Host;

    fn scope(granted: &[String], dry_run: bool) -> CallScope {
        let requested = GrantSpec { fs: vec!["rw:*".into()], ..Default::default() };
        test_scope(requested, GrantSpec { fs: granted.to_vec(), ..Default::default() }, dry_run)
    }

    #[tokio::test]
    async fn writes_land_inside_the_grant_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let mut call = scope(&[format!("rw:{root}")], false);
        let mut fs = FsView { call: &mut call };
        fs.write_small(format!("{root}/note.txt"), b"hi".to_vec()).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("note.txt")).unwrap(), b"hi");
        assert_eq!(fs.read_small(format!("{root}/note.txt"), 10).await.unwrap(), b"hi");
        // `..` out of the grant is judged where it really leads.
        let escaped = fs.write_small(format!("{root}/../bosun-escape.txt"), b"x".to_vec()).await.unwrap_err();
        assert!(matches!(escaped, HostError::Denied(_)), "{escaped:?}");
        let outside = fs.read_small("/etc/hostname".into(), 10).await.unwrap_err();
        assert!(matches!(outside, HostError::Denied(_)), "{outside:?}");
        assert_eq!(call.take_denials().len(), 2);
    }

    #[tokio::test]
    async fn a_symlink_out_of_the_grant_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
        let root = dir.path().display().to_string();
        let mut call = scope(&[format!("ro:{root}")], false);
        let read = FsView { call: &mut call }.read_small(format!("{root}/etc/hostname"), 100).await.unwrap_err();
        assert!(matches!(read, HostError::Denied(_)), "{read:?}");
    }

    #[tokio::test]
    async fn a_dry_run_records_writes_and_makes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let mut call = scope(&[format!("rw:{root}")], true);
        let mut fs = FsView { call: &mut call };
        fs.create_dir(format!("{root}/sub")).await.unwrap();
        fs.write_small(format!("{root}/sub/a"), b"x".to_vec()).await.unwrap();
        assert!(!dir.path().join("sub").exists());
        let planned: Vec<_> = call.take_planned().into_iter().map(|p| p.call).collect();
        assert_eq!(planned, ["fs.create-dir", "fs.write-small"]);
    }
}
