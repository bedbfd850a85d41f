//! The tree walk behind `fs.archive`: every entry under a source, lstat'ed
//! by name relative to its directory's descriptor (no path lookup from `/`
//! per file), with directories spread over every core.

use std::borrow::Cow;
use std::ffi::{CStr, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Dir, FileType, OFlags, ResolveFlags};

use crate::backup_format::file_list::Owner;
use super::io_error;
use crate::bindings::fs::{Entry, EntryKind};
use crate::bindings::types::HostError;

/// One walked entry, as lstat saw it.
pub struct TreeEntry {
    pub path: PathBuf,
    pub kind: EntryKind,
    pub size: u64,
    pub mtime_ms: i64,
    pub mode: u32,
    pub owner: Owner,
    pub link_target: Option<String>,
}

impl TreeEntry {
    /// What lstat says of `name` inside the directory `dir` (or of a path,
    /// with `CWD`); `path` is where that is.
    pub fn stat_at(dir: impl rustix::fd::AsFd, name: &CStr, path: PathBuf) -> io::Result<TreeEntry> {
        TreeEntry::stat_with(dir, name, AtFlags::SYMLINK_NOFOLLOW, path)
    }

    /// What lstat says of the open file, directory or symlink `fd` (opened
    /// with `O_PATH | O_NOFOLLOW`); `path` is where that is.
    pub fn stat_fd(fd: impl rustix::fd::AsFd, path: PathBuf) -> io::Result<TreeEntry> {
        TreeEntry::stat_with(fd, c"", AtFlags::SYMLINK_NOFOLLOW | AtFlags::EMPTY_PATH, path)
    }

    fn stat_with(dir: impl rustix::fd::AsFd, name: &CStr, flags: AtFlags, path: PathBuf) -> io::Result<TreeEntry> {
        let stat = rustix::fs::statat(&dir, name, flags)?;
        let kind = match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => EntryKind::File,
            FileType::Directory => EntryKind::Dir,
            FileType::Symlink => EntryKind::Symlink,
            _ => EntryKind::Other,
        };
        let link_target = match kind {
            EntryKind::Symlink => Some(OsStr::from_bytes(rustix::fs::readlinkat(&dir, name, Vec::new())?.as_bytes()).to_string_lossy().into_owned()),
            _ => None,
        };
        // Whole milliseconds since the epoch, 0 before it.
        let mtime_ms = if stat.st_mtime < 0 { 0 } else { stat.st_mtime * 1000 + i64::from(stat.st_mtime_nsec as u32 / 1_000_000) };
        let owner = Owner { uid: stat.st_uid, gid: stat.st_gid };
        Ok(TreeEntry { kind, size: stat.st_size as u64, mtime_ms, mode: stat.st_mode & 0o7777, owner, link_target, path })
    }

    /// The name archives and file lists store: the path without its leading `/`.
    pub fn name(&self) -> Cow<'_, str> {
        match self.path.to_string_lossy() {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim_start_matches('/')),
            Cow::Owned(s) => Cow::Owned(s.trim_start_matches('/').to_string()),
        }
    }
}

/// The source `top` (opened with `O_PATH | O_NOFOLLOW`, found at `root`)
/// itself, then everything below it (not following symlinks), sorted, minus
/// paths whose part relative to `root` matches an exclude glob. Directories
/// are opened beneath `top` with no symlinks allowed, so one swapped for a
/// link during the walk is an error, not a way out; bosun's own state
/// directories are never listed.
pub fn walk(top_fd: &OwnedFd, root: &Path, excludes: &globset::GlobSet) -> Result<Vec<TreeEntry>, HostError> {
    let top = TreeEntry::stat_fd(top_fd, root.to_path_buf()).map_err(|e| io_error(root, e))?;
    if top.kind != EntryKind::Dir {
        return Ok(vec![top]);
    }
    let queue = Mutex::new(Queue { pending: vec![root.to_path_buf()], busy: 0, failed: false });
    let wake = Condvar::new();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let found: Vec<Result<Vec<TreeEntry>, HostError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(|| work(&queue, &wake, top_fd, root, excludes))).collect();
        workers.into_iter().map(|w| w.join().expect("the walk does not panic")).collect()
    });
    let parts = found.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut all = Vec::with_capacity(1 + parts.iter().map(Vec::len).sum::<usize>());
    all.push(top);
    parts.into_iter().for_each(|part| all.extend(part));
    // Byte order keeps every directory before its contents and is much
    // cheaper than comparing path components.
    all[1..].sort_unstable_by(|a, b| a.path.as_os_str().as_bytes().cmp(b.path.as_os_str().as_bytes()));
    Ok(all)
}

/// Directories waiting to be listed, and how many are being listed now (the
/// walk is over when both are zero).
struct Queue {
    pending: Vec<PathBuf>,
    busy: usize,
    failed: bool,
}

/// One walker: lists directories from the queue until none are left, or
/// another walker failed (its error is the one reported).
fn work(queue: &Mutex<Queue>, wake: &Condvar, top: &OwnedFd, root: &Path, excludes: &globset::GlobSet) -> Result<Vec<TreeEntry>, HostError> {
    let mut found = Vec::new();
    loop {
        let dir = {
            let mut q = queue.lock().expect("walk queue lock");
            loop {
                if q.failed || (q.pending.is_empty() && q.busy == 0) {
                    return Ok(found);
                }
                if let Some(dir) = q.pending.pop() {
                    q.busy += 1;
                    break dir;
                }
                q = wake.wait(q).expect("walk queue lock");
            }
        };
        let listed = list(&dir, top, root, excludes, &mut found);
        let mut q = queue.lock().expect("walk queue lock");
        q.busy -= 1;
        q.failed |= listed.is_err();
        wake.notify_all();
        q.pending.extend(listed?);
    }
}

/// Adds the entries of `dir` to `found` and returns its subdirectories.
fn list(dir: &Path, top: &OwnedFd, root: &Path, excludes: &globset::GlobSet, found: &mut Vec<TreeEntry>) -> Result<Vec<PathBuf>, HostError> {
    let fail = |e: rustix::io::Errno| io_error(dir, e.into());
    let fd = open_beneath(top, relative(dir, root), OFlags::RDONLY | OFlags::DIRECTORY).map_err(fail)?;
    if super::beneath::is_protected_dir(&fd) {
        return Ok(Vec::new());
    }
    // The listing owns the descriptor (`read_from` would duplicate it: three
    // more system calls per directory); lstat only uses it for lookups.
    let mut listing = Dir::new(fd).map_err(fail)?;
    let mut subdirs = Vec::new();
    while let Some(item) = listing.read() {
        let item = item.map_err(fail)?;
        let name = item.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let path = dir.join(OsStr::from_bytes(name.to_bytes()));
        if excludes.is_match(relative(&path, root)) {
            continue;
        }
        let entry = TreeEntry::stat_at(listing.fd().map_err(fail)?, name, path).map_err(|e| io_error(&dir.join(OsStr::from_bytes(name.to_bytes())), e))?;
        if entry.kind == EntryKind::Dir {
            subdirs.push(entry.path.clone());
        }
        found.push(entry);
    }
    Ok(subdirs)
}

/// Opens `rest` beneath `top` with no symlink anywhere on the way: the walk
/// saw none there, so one now means the tree changed under it.
pub fn open_beneath(top: &OwnedFd, rest: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let rest = if rest.as_os_str().is_empty() { Path::new(".") } else { rest };
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS;
    super::beneath::openat2(top, rest, flags | OFlags::NOFOLLOW | OFlags::CLOEXEC, resolve)
}

/// `path` relative to `root`, which it starts with.
pub fn relative<'a>(path: &'a Path, root: &Path) -> &'a Path {
    let rest = &path.as_os_str().as_bytes()[root.as_os_str().len()..];
    Path::new(OsStr::from_bytes(rest.strip_prefix(b"/").unwrap_or(rest)))
}

pub fn path_cstr(path: &Path) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the path contains a NUL byte"))
}

impl From<TreeEntry> for Entry {
    fn from(entry: TreeEntry) -> Entry {
        Entry {
            path: entry.path.to_string_lossy().into_owned(),
            kind: entry.kind,
            size: entry.size,
            mtime: entry.mtime_ms,
            mode: entry.mode,
            link_target: entry.link_target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excludes(patterns: &[&str]) -> globset::GlobSet {
        let mut set = globset::GlobSetBuilder::new();
        patterns.iter().for_each(|p| _ = set.add(globset::Glob::new(p).unwrap()));
        set.build().unwrap()
    }

    fn walk(path: &Path, excludes: &globset::GlobSet) -> Result<Vec<TreeEntry>, HostError> {
        let top = rustix::fs::open(path, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, rustix::fs::Mode::empty()).map_err(|e| io_error(path, e.into()))?;
        super::walk(&top, path, excludes)
    }

    #[test]
    fn walks_sorted_without_following_links_or_excluded_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("b/deep")).unwrap();
        std::fs::create_dir_all(root.join("cache")).unwrap();
        std::fs::write(root.join("b/deep/file"), "12345").unwrap();
        std::fs::write(root.join("a.log"), "").unwrap();
        std::fs::write(root.join("cache/skipped"), "").unwrap();
        std::os::unix::fs::symlink("b", root.join("link")).unwrap();

        let walked = walk(&root, &excludes(&["cache"])).unwrap();
        let relative: Vec<_> = walked.iter().map(|e| relative(&e.path, &root).display().to_string()).collect();
        assert_eq!(relative, ["", "a.log", "b", "b/deep", "b/deep/file", "link"]);
        let file = &walked[4];
        assert_eq!((file.kind, file.size, file.link_target.as_deref()), (EntryKind::File, 5, None));
        assert_eq!((walked[5].kind, walked[5].link_target.as_deref()), (EntryKind::Symlink, Some("b")));
        assert_eq!(walked[2].kind, EntryKind::Dir);
        assert_eq!(file.name(), file.path.to_str().unwrap().trim_start_matches('/'));
    }

    #[test]
    fn stats_match_what_entry_of_reports() {
        // File lists written before this walk existed hold std's figures:
        // whole milliseconds since the epoch. Any difference would make every file look changed.
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, "data").unwrap();
        let mtime = std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 987_654_321);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(mtime).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o4750)).unwrap();

        let walked = &walk(tmp.path(), &excludes(&[])).unwrap()[1];
        let expected = super::super::entry_of(&file).unwrap();
        assert_eq!((walked.size, walked.mtime_ms, walked.mode), (expected.size, expected.mtime, expected.mode));
        assert_eq!(walked.mtime_ms, 1_700_000_000_987);
    }

    #[test]
    fn a_single_file_source_is_walked_as_itself_and_a_missing_one_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("only");
        std::fs::write(&file, "x").unwrap();
        let walked = walk(&file, &excludes(&[])).unwrap();
        assert_eq!(walked.iter().map(|e| e.path.clone()).collect::<Vec<_>>(), [file]);

        let missing = tmp.path().join("missing");
        match walk(&missing, &excludes(&[])) {
            Err(HostError::NotFound(message)) => assert!(message.contains("missing: not found"), "{message}"),
            other => panic!("expected not found, got {:?}", other.map(|w| w.len())),
        }
    }
}
