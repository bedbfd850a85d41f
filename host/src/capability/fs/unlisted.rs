//! What makes an in-place restore exact: the entries of a restored tree
//! that the backup's file list does not hold, found (and removed) through
//! directory handles opened beneath the grant root that covers the tree.
//! Nothing is reached by a path string: each directory is opened from its
//! parent's handle with `O_NOFOLLOW`, each entry is lstat'ed and removed
//! through the handle of the directory holding it, so a symlink is removed
//! as a link and never followed, wherever it points.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

use super::beneath::{is_protected_dir, protects_within, real_path_of};
use crate::backup_format::file_list::{FileList, Kind};
use super::grant::Access;
use super::io_error;
use super::locate::{Locator, remove_entry};
use crate::bindings::types::HostError;

/// One restored tree: where it is and how its backup names it.
pub struct Tree<'a> {
    /// Where the tree is now (under a restore target, or the original path).
    pub top: &'a Path,
    /// Its name in the file list: the backed-up path without its leading `/`.
    pub name: &'a str,
}

/// What decides which entries are extra.
pub struct Expected<'a> {
    pub list: &'a FileList,
    /// The set's exclude globs (relative to the tree's top): excluded entries
    /// were never backed up, so they are not extra either.
    pub excludes: &'a globset::GlobSet,
    /// Real paths never removed, nor any directory on the way to them (the
    /// backups being read, wherever they are).
    pub kept: &'a [PathBuf],
}

/// Why an entry of the tree is not what the backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// The backup has nothing there.
    Unlisted,
    /// A directory where the backup has a file or link: a restore cannot
    /// put that back without removing it (extraction replaces a file with a
    /// directory, never a directory with a file).
    InTheWay,
}

/// The entries under `tree` that `expected` does not hold as they are
/// (see [`Extra`]), where they are; those `remove` says are removed. A
/// missing tree, or one that is not a directory, has none.
pub fn unlisted(locator: &Locator, call: &str, tree: &Tree<'_>, expected: &Expected<'_>, remove: &dyn Fn(Extra) -> bool) -> Result<Vec<(PathBuf, Extra)>, HostError> {
    let opened = locator.reach(call, &tree.top.to_string_lossy(), Access::Write, |at| {
        let found = at.open(OFlags::PATH | OFlags::NOFOLLOW)?;
        match FileType::from_raw_mode(rustix::fs::fstat(&found)?.st_mode) {
            FileType::Directory => Ok(Some(at.open(OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW)?)),
            _ => Ok(None),
        }
    });
    let top = match opened {
        Ok(Some(top)) => top,
        Ok(None) | Err(HostError::NotFound(_)) => return Ok(Vec::new()),
        Err(other) => return Err(other),
    };
    let real = real_path_of(&top).map_err(|e| io_error(tree.top, e))?;
    let mut sweep = Sweep { tree, expected, remove, found: Vec::new() };
    sweep.directory(&top, &real, Path::new("")).map_err(|(at, e)| io_error(&tree.top.join(at), e.into()))?;
    Ok(sweep.found)
}

struct Sweep<'a> {
    tree: &'a Tree<'a>,
    expected: &'a Expected<'a>,
    remove: &'a dyn Fn(Extra) -> bool,
    found: Vec<(PathBuf, Extra)>,
}

/// Where an error happened (relative to the tree's top) and what it was.
type Failed = (PathBuf, rustix::io::Errno);

impl Sweep<'_> {
    /// Goes through the open directory `dir` (really at `real`, at `relative` in the tree).
    fn directory(&mut self, dir: &OwnedFd, real: &Path, relative: &Path) -> Result<(), Failed> {
        let at = |e| (relative.to_path_buf(), e);
        for name in names(dir).map_err(at)? {
            let child = relative.join(&name);
            if self.expected.excludes.is_match(&child) {
                continue;
            }
            let fail = |e| (child.clone(), e);
            let stat = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW).map_err(fail)?;
            let is_dir = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
            let extra = match self.listed(&child) {
                None => Some(Extra::Unlisted),
                Some(kind) if is_dir && kind != Kind::Dir => Some(Extra::InTheWay),
                Some(_) => None,
            };
            let real_child = real.join(&name);
            if let Some(extra) = extra.filter(|_| !(is_dir && self.holds_kept(&real_child))) {
                self.found.push((self.tree.top.join(&child), extra));
                if (self.remove)(extra) {
                    remove_entry(dir, &name).map_err(fail)?;
                }
                continue;
            }
            if is_dir {
                let opened = rustix::fs::openat(dir, &name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()).map_err(fail)?;
                if !is_protected_dir(&opened) {
                    self.directory(&opened, &real_child, &child)?;
                }
            }
        }
        Ok(())
    }

    /// The kind the file list holds at `relative` in the tree, if any.
    fn listed(&self, relative: &Path) -> Option<Kind> {
        let key = format!("{}/{}", self.tree.name.trim_end_matches('/'), relative.to_string_lossy());
        let entries = &self.expected.list.entries;
        entries.binary_search_by(|(name, _)| name.as_str().cmp(&key)).ok().map(|at| entries[at].1.kind)
    }

    /// Whether the directory really at `real` is, or holds, something never removed.
    fn holds_kept(&self, real: &Path) -> bool {
        protects_within(real) || self.expected.kept.iter().any(|kept| kept.starts_with(real))
    }
}

/// The names in an open directory, without `.` and `..`.
fn names(dir: &OwnedFd) -> rustix::io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    let mut listing = Dir::read_from(dir)?;
    while let Some(item) = listing.read() {
        let item = item?;
        let name = item.file_name();
        if name != c"." && name != c".." {
            names.push(OsStr::from_bytes(name.to_bytes()).to_os_string());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup_format::file_list::FileEntry;
    use crate::capability::{GrantSpec, Policy};

    fn listed(kind: Kind) -> FileEntry {
        FileEntry { kind, size: 0, mtime_ms: 0, mode: 0o755, owner: None, hash: None, link_target: None }
    }

    #[test]
    fn extras_are_removed_through_handles_and_a_link_out_is_removed_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().canonicalize().unwrap();
        let (tree, outside) = (top.join("tree"), top.join("outside"));
        for d in [tree.join("sub"), tree.join("extra-dir"), tree.join("was-a-file"), outside.join("sub")] {
            std::fs::create_dir_all(d).unwrap();
        }
        for f in [tree.join("kept"), tree.join("sub/kept"), tree.join("sub/extra"), tree.join("extra-dir/f"), tree.join("x.log"), outside.join("secret"), outside.join("sub/secret")] {
            std::fs::write(f, "x").unwrap();
        }
        std::os::unix::fs::symlink(&outside, tree.join("link-out")).unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("sub/inner-link")).unwrap();
        // A backed-up directory now a link out: not extra (the restore replaces it), never entered.
        std::os::unix::fs::symlink(&outside, tree.join("dir-now-link")).unwrap();

        let name = tree.to_str().unwrap().trim_start_matches('/').to_string();
        let mut entries: Vec<(String, FileEntry)> = [("", Kind::Dir), ("/kept", Kind::File), ("/sub", Kind::Dir), ("/sub/kept", Kind::File), ("/was-a-file", Kind::File), ("/dir-now-link", Kind::Dir)]
            .into_iter()
            .map(|(rest, kind)| (format!("{name}{rest}"), listed(kind)))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let list = FileList { entries };
        let excludes = crate::capability::fs::globs(&["*.log".to_string()]).unwrap();
        let expected = Expected { list: &list, excludes: &excludes, kept: &[] };
        let spec = |entry: String| GrantSpec { fs: vec![entry], ..GrantSpec::default() };
        let policy = Policy::new("test", &spec("rw:*".into()), &spec(format!("rw:{}", tree.display()))).unwrap();
        let locator = Locator::new(std::sync::Arc::new(policy));
        let sweep = |remove: &dyn Fn(Extra) -> bool| {
            let mut found = unlisted(&locator, "test", &Tree { top: &tree, name: &name }, &expected, remove).unwrap();
            found.sort_by(|a, b| a.0.cmp(&b.0));
            found
        };

        let unlisted = ["extra-dir", "link-out", "sub/extra", "sub/inner-link"].map(|p| (tree.join(p), Extra::Unlisted));
        let extra: Vec<_> = unlisted.iter().cloned().chain([(tree.join("was-a-file"), Extra::InTheWay)]).collect();
        assert_eq!(sweep(&|_| false), extra);
        assert!(extra.iter().all(|(p, _)| p.symlink_metadata().is_ok()), "finding removes nothing");
        assert_eq!(sweep(&|e| e == Extra::InTheWay), extra, "only what is in the restore's way");
        assert!(tree.join("was-a-file").symlink_metadata().is_err() && tree.join("extra-dir").is_dir());
        assert_eq!(sweep(&|_| true), unlisted);
        assert!(extra.iter().all(|(p, _)| p.symlink_metadata().is_err()));
        for kept in ["kept", "sub/kept", "x.log", "dir-now-link"] {
            assert!(tree.join(kept).symlink_metadata().is_ok(), "{kept} stays");
        }
        assert_eq!(std::fs::read_to_string(outside.join("secret")).unwrap(), "x");
        assert_eq!(std::fs::read_to_string(outside.join("sub/secret")).unwrap(), "x", "nothing is removed through a link");
        assert!(sweep(&|_| true).is_empty(), "the tree now holds only what is listed");
    }
}
