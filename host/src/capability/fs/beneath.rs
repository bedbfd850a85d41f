//! Files a plugin names, opened beneath the grant root that covers them.
//!
//! A root is opened by its real path with no symlinks allowed; everything
//! below it is opened relative to that handle with `openat2(RESOLVE_BENEATH)`,
//! so `..` and symlinks are resolved by the kernel at the moment of opening
//! and can never lead out of the root. Entries are created, replaced and
//! removed through the handle of the directory holding them (`O_EXCL |
//! O_NOFOLLOW`, `renameat`, `unlinkat`), which never follow a final symlink.
//! Nothing is checked by path and then opened again by name.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::RwLock;

use rustix::fs::{AtFlags, CWD, Mode, OFlags, ResolveFlags};

use super::walk::{TreeEntry, path_cstr};

const BENEATH: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_MAGICLINKS);

/// `openat2`, asked again when it answers EAGAIN: with `RESOLVE_BENEATH` the
/// kernel says so when a rename or mount anywhere on the machine raced a `..`
/// it was resolving, and openat2(2) says to retry. Bounded, so a machine that
/// renames without pause makes the call fail rather than spin.
pub fn openat2(dir: impl AsFd, path: &Path, flags: OFlags, resolve: ResolveFlags) -> rustix::io::Result<OwnedFd> {
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(dir.as_fd(), path, flags, Mode::empty(), resolve) {
            Err(rustix::io::Errno::AGAIN) if tries < 64 => tries += 1,
            other => return other,
        }
    }
}

/// A path inside a grant root: the root's handle and the rest of the path.
pub struct Located {
    root: OwnedFd,
    rest: PathBuf,
    /// How `rest` is resolved: beneath the root, and with no symlinks at
    /// all when the grant names a single file (opened through its directory).
    resolve: ResolveFlags,
    /// The path as the plugin named it, for messages and results.
    pub shown: PathBuf,
}

/// Why a path could not be reached.
#[derive(Debug)]
pub enum Refusal {
    /// `..` or a symlink leads out of the grant root.
    Escapes,
    /// It is bosun's own state (compiled cache, plugin store, lockfile, state database).
    Protected(PathBuf),
    Io(io::Error),
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Refusal {
        match e.raw_os_error() {
            Some(libc::EXDEV) => Refusal::Escapes,
            _ => Refusal::Io(e),
        }
    }
}

impl From<rustix::io::Errno> for Refusal {
    fn from(e: rustix::io::Errno) -> Refusal {
        Refusal::from(io::Error::from(e))
    }
}

impl Located {
    /// Opens the root at `real` (creating it and its missing parents when
    /// `create`), with `rest` to resolve beneath it.
    pub fn new(real: &Path, rest: PathBuf, shown: PathBuf, create: bool) -> Result<Located, Refusal> {
        let root = match open_real_dir(real) {
            Err(e) if create && e == rustix::io::Errno::NOENT => create_real_dirs(real)?,
            // A grant of one file: it is reached through its directory, as
            // itself only (never through a link in its place).
            Err(rustix::io::Errno::NOTDIR) if rest.as_os_str().is_empty() => {
                let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else { return Err(rustix::io::Errno::NOTDIR.into()) };
                let located = Located { root: open_real_dir(dir)?, rest: PathBuf::from(name), resolve: BENEATH | ResolveFlags::NO_SYMLINKS, shown };
                return Ok(located);
            }
            other => other?,
        };
        let located = Located { root, rest, resolve: BENEATH, shown };
        located.refuse_if_protected(&located.root)?;
        Ok(located)
    }

    /// `rest` beneath an already open directory.
    pub fn from_fd(root: OwnedFd, rest: PathBuf, shown: PathBuf) -> Located {
        Located { root, rest, resolve: BENEATH, shown }
    }

    /// Creates the path's directories if missing and opens it as a directory.
    pub fn open_dir_creating(&self) -> Result<OwnedFd, Refusal> {
        self.create_dirs()?;
        self.open(OFlags::RDONLY | OFlags::DIRECTORY)
    }

    /// Opens the path itself (following symlinks that stay beneath the root).
    pub fn open(&self, flags: OFlags) -> Result<OwnedFd, Refusal> {
        let fd = openat2(&self.root, self.rest_or_dot(), flags | OFlags::CLOEXEC, self.resolve)?;
        self.refuse_if_protected(&fd)?;
        Ok(fd)
    }

    /// Opens a regular file for reading; a FIFO, device or socket is refused
    /// before anything could block on it.
    pub fn open_regular(&self) -> Result<File, Refusal> {
        let fd = self.open(OFlags::RDONLY | OFlags::NONBLOCK)?;
        let kind = rustix::fs::FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode);
        if kind != rustix::fs::FileType::RegularFile {
            return Err(Refusal::Io(io::Error::new(io::ErrorKind::InvalidInput, format!("is a {}, not a regular file; bosun reads only regular files for plugins", kind_name(kind)))));
        }
        // Reads of a regular file never block; clear the flag for the writers that copy it.
        rustix::fs::fcntl_setfl(&fd, OFlags::empty())?;
        Ok(File::from(fd))
    }

    /// The directory holding the path, opened, and the path's last name. The
    /// name is acted on through the directory (never following it).
    pub fn parent(&self) -> Result<(OwnedFd, OsString), Refusal> {
        let name = match self.rest.components().next_back() {
            Some(Component::Normal(name)) => name.to_os_string(),
            _ => return Err(Refusal::Io(io::Error::new(io::ErrorKind::InvalidInput, "names no entry (a grant root itself, or one ending in `..`)"))),
        };
        let parent = self.rest.parent().unwrap_or(Path::new(""));
        let dir = openat2(&self.root, dot_if_empty(parent), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, BENEATH)?;
        let real = real_path_of(&dir)?.join(&name);
        if protected_root_of(&real).is_some() {
            return Err(Refusal::Protected(real));
        }
        Ok((dir, name))
    }

    /// Creates the path as a directory, with its missing parents (`mkdir -p`),
    /// each step beneath the root.
    pub fn create_dirs(&self) -> Result<(), Refusal> {
        let mut done = PathBuf::new();
        for part in self.rest.components() {
            done.push(part);
            match openat2(&self.root, &done, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, BENEATH) {
                Ok(fd) => self.refuse_if_protected(&fd)?,
                Err(rustix::io::Errno::NOENT) => {
                    let step = Located { root: self.root.try_clone()?, rest: done.clone(), resolve: self.resolve, shown: self.shown.clone() };
                    let (dir, name) = step.parent()?;
                    match rustix::fs::mkdirat(&dir, &name, Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// What lstat says of the path (a final symlink is described, not
    /// followed); None if nothing is there. `shown` is where it is.
    pub fn lstat(&self, shown: &Path) -> Result<Option<TreeEntry>, Refusal> {
        let stat = match self.rest.as_os_str().is_empty() {
            true => TreeEntry::stat_fd(&self.root, shown.to_path_buf()),
            false => {
                let (dir, name) = self.parent()?;
                TreeEntry::stat_at(&dir, &path_cstr(Path::new(&name))?, shown.to_path_buf())
            }
        };
        match stat {
            Ok(entry) => Ok(Some(entry)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether anything is at the path (a final symlink is not followed).
    pub fn exists(&self) -> Result<bool, Refusal> {
        if self.rest.as_os_str().is_empty() {
            return Ok(true);
        }
        let (dir, name) = self.parent()?;
        match rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn rest_or_dot(&self) -> &Path {
        dot_if_empty(&self.rest)
    }

    fn refuse_if_protected(&self, fd: &impl AsFd) -> Result<(), Refusal> {
        let real = real_path_of(fd)?;
        match protected_root_of(&real) {
            Some(_) => Err(Refusal::Protected(real)),
            None => Ok(()),
        }
    }
}

fn dot_if_empty(path: &Path) -> &Path {
    if path.as_os_str().is_empty() { Path::new(".") } else { path }
}

fn kind_name(kind: rustix::fs::FileType) -> &'static str {
    match kind {
        rustix::fs::FileType::Fifo => "FIFO",
        rustix::fs::FileType::CharacterDevice => "character device",
        rustix::fs::FileType::BlockDevice => "block device",
        rustix::fs::FileType::Socket => "socket",
        rustix::fs::FileType::Directory => "directory",
        rustix::fs::FileType::Symlink => "symlink",
        _ => "special file",
    }
}

/// Opens a directory by a real (already resolved) path: a symlink anywhere
/// in it means the path changed since it was resolved, and is refused.
fn open_real_dir(real: &Path) -> Result<OwnedFd, rustix::io::Errno> {
    openat2(CWD, real, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS)
}

/// `mkdir -p` of a real path, one step at a time from its deepest existing
/// ancestor, never through a symlink.
fn create_real_dirs(real: &Path) -> Result<OwnedFd, Refusal> {
    let mut missing: Vec<&OsStr> = Vec::new();
    let mut existing = real;
    let mut dir = loop {
        match open_real_dir(existing) {
            Ok(fd) => break fd,
            Err(rustix::io::Errno::NOENT) => {
                missing.extend(existing.file_name());
                existing = existing.parent().ok_or(Refusal::Io(io::Error::from(io::ErrorKind::NotFound)))?;
            }
            Err(e) => return Err(e.into()),
        }
    };
    for name in missing.into_iter().rev() {
        match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o777)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        dir = openat2(&dir, Path::new(name), OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, ResolveFlags::NO_SYMLINKS | BENEATH)?;
    }
    Ok(dir)
}

/// Raises this process's open-file limit to its hard limit (once): an
/// extraction holds a handle per directory it unpacks into.
pub fn raise_open_file_limit() {
    static RAISED: std::sync::Once = std::sync::Once::new();
    RAISED.call_once(|| {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: plain system calls on a local struct.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    });
}

/// Where an open file or directory really is, as the kernel names it.
pub fn real_path_of(fd: &impl AsFd) -> io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

/// bosun's own state directories: never reachable through any grant.
static PROTECTED: RwLock<Vec<PathBuf>> = RwLock::new(Vec::new());

/// Puts `dir` (bosun's state, cache or plugin store) out of every plugin's
/// reach for the rest of the process, whatever the grants say.
pub fn protect(dir: &Path) {
    let real = super::grant::real_location(dir);
    let mut protected = PROTECTED.write().expect("protected lock");
    if !protected.contains(&real) {
        protected.push(real);
    }
}

/// The protected directory `real` is in, if any.
pub fn protected_root_of(real: &Path) -> Option<PathBuf> {
    PROTECTED.read().expect("protected lock").iter().find(|p| real.starts_with(p)).cloned()
}

/// Whether the directory really at `real` is or holds a protected directory.
pub fn protects_within(real: &Path) -> bool {
    PROTECTED.read().expect("protected lock").iter().any(|p| p.starts_with(real))
}

/// Whether `dir` (an open directory) is a protected directory itself, by
/// device and inode: the tree walk skips it.
pub fn is_protected_dir(dir: &impl AsFd) -> bool {
    real_path_of(dir).is_ok_and(|real| PROTECTED.read().expect("protected lock").contains(&real))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(root: &Path, rest: &str) -> Located {
        Located::new(root, PathBuf::from(rest), root.join(rest), false).unwrap()
    }

    #[test]
    fn symlinks_and_dotdot_cannot_lead_out_of_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(top.join("root/sub")).unwrap();
        std::fs::write(top.join("secret"), "s").unwrap();
        std::fs::write(top.join("root/ok"), "ok").unwrap();
        std::os::unix::fs::symlink(top.join("secret"), top.join("root/out")).unwrap();
        std::os::unix::fs::symlink("../ok", top.join("root/sub/in")).unwrap();
        let root = top.join("root");
        assert!(matches!(located(&root, "out").open_regular(), Err(Refusal::Escapes)));
        assert!(matches!(located(&root, "../secret").open_regular(), Err(Refusal::Escapes)));
        assert!(matches!(located(&root, "sub/../../secret").open_regular(), Err(Refusal::Escapes)));
        let mut text = String::new();
        io::Read::read_to_string(&mut located(&root, "sub/in").open_regular().unwrap(), &mut text).unwrap();
        assert_eq!(text, "ok", "a link that stays inside is followed");
    }

    #[test]
    fn a_root_replaced_by_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().canonicalize().unwrap();
        std::fs::create_dir(top.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(top.join("elsewhere"), top.join("root")).unwrap();
        assert!(Located::new(&top.join("root"), PathBuf::new(), top.join("root"), false).is_err());
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        rustix::fs::mknodat(CWD, root.join("pipe"), rustix::fs::FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        match located(&root, "pipe").open_regular() {
            Err(Refusal::Io(e)) => assert!(e.to_string().contains("is a FIFO"), "{e}"),
            other => panic!("expected a refusal, got {:?}", other.map(drop)),
        }
    }

    #[test]
    fn a_single_file_grant_reaches_that_file_only_and_never_a_link_in_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().canonicalize().unwrap();
        std::fs::write(top.join("granted"), "g").unwrap();
        std::fs::write(top.join("sibling"), "s").unwrap();
        let at = Located::new(&top.join("granted"), PathBuf::new(), top.join("granted"), false).unwrap();
        assert!(at.open_regular().is_ok());
        std::fs::remove_file(top.join("granted")).unwrap();
        std::os::unix::fs::symlink("sibling", top.join("granted")).unwrap();
        let at = Located::new(&top.join("granted"), PathBuf::new(), top.join("granted"), false);
        assert!(at.is_err() || at.unwrap().open_regular().is_err(), "a link swapped in for the granted file is not followed");
        assert!(Located::new(&top.join("sibling"), PathBuf::from("x"), top.join("sibling/x"), false).is_err());
    }

    #[test]
    fn renames_elsewhere_on_the_machine_never_fail_an_open_through_dotdot() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("f"), "f").unwrap();
        let busy = tempfile::tempdir().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let renamer = {
            let (stop, from, to) = (stop.clone(), busy.path().join("a"), busy.path().join("b"));
            std::fs::write(&from, "").unwrap();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::fs::rename(&from, &to).unwrap();
                    std::fs::rename(&to, &from).unwrap();
                }
            })
        };
        let opened = (0..20_000).map(|_| located(&root, "sub/../sub/../f").open_regular()).filter(Result::is_ok).count();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        renamer.join().unwrap();
        assert_eq!(opened, 20_000, "an EAGAIN from a rename race is asked again, not turned into a failure");
    }
}
