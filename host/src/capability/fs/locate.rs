//! From a path a plugin names to an open handle inside its grants, or a
//! denial that names the plugin, the call and the real location with the
//! grant line that would allow it.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::AtFlags;

use super::beneath::{Located, Refusal};
use super::grant::{Access, real_location};
use super::io_error;
use crate::capability::artifact::AtomicFile;
use crate::capability::{CallScope, Denial, DenialReason, Policy};
use crate::bindings::types::HostError;

/// Finds and opens what a plugin's paths name, inside its grants; movable
/// to the blocking threads that do bulk work.
#[derive(Clone)]
pub struct Locator {
    policy: Arc<Policy>,
    denials: Arc<Mutex<Vec<Denial>>>,
}


/// What one attempt at a path came to.
enum Attempt<T> {
    Done(T),
    /// No grant covers it, or `..` / a symlink leads out of the one that does.
    Outside,
    Failed(HostError),
}

impl Locator {
    /// Reaches paths for a plugin call, recording its denials.
    pub fn of(call: &CallScope) -> Locator {
        Locator { policy: call.policy.clone(), denials: call.denials.clone() }
    }

    /// Reaches paths as a call under `policy` would, for the host's own
    /// work within that call's grants (an in-place restore's clean-up).
    pub fn new(policy: Arc<Policy>) -> Locator {
        Locator { policy, denials: Arc::default() }
    }

    /// Runs `use_it` on `path` located for `access` beneath the grant root
    /// covering it. If no root covers it, or it leads out of its root, it is
    /// tried once more as where it really is (another grant may cover that:
    /// the answer is still decided by a handle, never by this string), and
    /// otherwise denied, quoting that real location.
    pub fn reach<T>(&self, call: &str, path: &str, access: Access, use_it: impl FnMut(Located) -> Result<T, Refusal>) -> Result<T, HostError> {
        self.reach_with(call, path, access, false, use_it)
    }

    /// [`reach`](Self::reach) for writing, making the grant root (and its
    /// missing parents) first if it does not exist yet: only once a call is
    /// really carried out, never in a dry run.
    pub fn reach_creating<T>(&self, call: &str, path: &str, use_it: impl FnMut(Located) -> Result<T, Refusal>) -> Result<T, HostError> {
        self.reach_with(call, path, Access::Write, true, use_it)
    }

    /// Whether `path` may be written or made (its grant root may not exist
    /// yet): the check a dry run stops at.
    pub fn may_create(&self, call: &str, path: &str) -> Result<(), HostError> {
        match self.reach(call, path, Access::Write, |at| at.exists().map(drop)) {
            Err(HostError::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    fn reach_with<T>(&self, call: &str, path: &str, access: Access, create_root: bool, mut use_it: impl FnMut(Located) -> Result<T, Refusal>) -> Result<T, HostError> {
        let spelled = Path::new(path);
        if !spelled.is_absolute() {
            return Err(HostError::Invalid(format!("{call}: {path} is not an absolute path")));
        }
        let real = match self.attempt(call, spelled, access, create_root, &mut use_it) {
            Attempt::Done(value) => return Ok(value),
            Attempt::Failed(error) => return Err(error),
            Attempt::Outside => real_location(spelled),
        };
        if real != spelled {
            match self.attempt(call, &real, access, create_root, &mut use_it) {
                Attempt::Done(value) => return Ok(value),
                Attempt::Failed(error) => return Err(error),
                Attempt::Outside => {}
            }
        }
        // Quoted: where the entry itself is, its final symlink not followed
        // (where that points may be outside every grant, and is not the
        // plugin's to learn).
        let location = location_of(spelled);
        let target = match location == spelled {
            true => path.to_string(),
            false => format!("{path} (which is {})", location.display()),
        };
        let reason = DenialReason::NotGranted { interface: "fs", entry: format!("{}:{}", access.prefix(), location.display()) };
        Err(self.deny(Denial { plugin: self.policy.plugin.clone(), call: call.to_string(), target, reason }))
    }

    fn attempt<T>(&self, call: &str, path: &Path, access: Access, create_root: bool, use_it: &mut impl FnMut(Located) -> Result<T, Refusal>) -> Attempt<T> {
        let Some(cover) = self.policy.granted.fs.cover(path, access) else { return Attempt::Outside };
        if self.policy.requested.fs.cover(path, access).is_none() {
            let denial = Denial { plugin: self.policy.plugin.clone(), call: call.to_string(), target: path.display().to_string(), reason: DenialReason::NotRequested };
            return Attempt::Failed(self.deny(denial));
        }
        let result = Located::new(&cover.root, cover.rest, path.to_path_buf(), create_root).and_then(&mut *use_it);
        match result {
            Ok(value) => Attempt::Done(value),
            Err(Refusal::Escapes) => Attempt::Outside,
            Err(Refusal::Protected(real)) => {
                let denial = Denial { plugin: self.policy.plugin.clone(), call: call.to_string(), target: format!("{} (which is {})", path.display(), real.display()), reason: DenialReason::Protected };
                Attempt::Failed(self.deny(denial))
            }
            Err(Refusal::Io(e)) => Attempt::Failed(io_error(path, e)),
        }
    }

    /// Whether a grant root covers `path` for `access`, as spelled.
    pub fn covers(&self, path: &str, access: Access) -> bool {
        self.policy.granted.fs.cover(Path::new(path), access).is_some()
    }

    /// A regular file to read (a FIFO, device or socket is refused).
    pub fn open_file(&self, call: &str, path: &str) -> Result<File, HostError> {
        self.reach(call, path, Access::Read, |at| at.open_regular())
    }

    /// Where a file will be written or removed: the directory holding it,
    /// open, and its name. Nothing is created yet (a dry run stops here, so
    /// a granted directory that does not exist yet is not an error until the
    /// place is used).
    pub fn place(&self, call: &str, path: &str) -> Result<Place, HostError> {
        let found = self.reach(call, path, Access::Write, |at| {
            let (dir, name) = at.parent()?;
            Ok(Place { dir: Ok(dir), name, shown: at.shown })
        });
        match found {
            Err(HostError::NotFound(why)) => Ok(Place { dir: Err(why), name: OsString::new(), shown: PathBuf::from(path) }),
            other => other,
        }
    }

    fn deny(&self, denial: Denial) -> HostError {
        let error = HostError::Denied(denial.to_string());
        crate::capability::scope::record_denial(&self.denials, denial);
        error
    }
}

/// Where the entry `path` names is: its directory resolved, its own name kept.
fn location_of(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => real_location(parent).join(name),
        _ => real_location(path),
    }
}

/// An entry in an open directory, acted on through that directory.
pub struct Place {
    /// The open directory, or why it could not be opened (it does not exist).
    dir: Result<OwnedFd, String>,
    name: OsString,
    /// The path as the plugin named it.
    pub shown: PathBuf,
}

impl Place {
    fn dir(&self) -> Result<&OwnedFd, HostError> {
        self.dir.as_ref().map_err(|why| HostError::NotFound(why.clone()))
    }

    /// A new file that replaces whatever is at the place once finished.
    pub fn create(self) -> Result<AtomicFile, HostError> {
        let shown = self.shown.clone();
        let dir = self.dir.map_err(HostError::NotFound)?;
        AtomicFile::create_in(dir, self.name, self.shown).map_err(|e| io_error(&shown, e))
    }

    /// Opens the place for appending, creating it; a symlink there is refused.
    pub fn open_append(&self) -> Result<File, HostError> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let fd = rustix::fs::openat(self.dir()?, &self.name, flags, Mode::from_raw_mode(0o644)).map_err(|e| io_error(&self.shown, e.into()))?;
        let file = File::from(fd);
        match file.metadata() {
            Ok(meta) if meta.is_file() => Ok(file),
            Ok(_) => Err(HostError::Invalid(format!("{} is not a regular file", self.shown.display()))),
            Err(e) => Err(io_error(&self.shown, e)),
        }
    }

    /// Removes what is at the place (a directory with everything in it); a
    /// symlink is removed, never followed.
    pub fn remove(self) -> Result<(), HostError> {
        remove_entry(self.dir()?, &self.name).map_err(|e| io_error(&self.shown, e.into()))
    }

    pub fn rename_to(&self, to: &Place) -> Result<(), HostError> {
        rustix::fs::renameat(self.dir()?, &self.name, to.dir()?, &to.name).map_err(|e| io_error(&self.shown, e.into()))
    }
}

/// `rm -r` of `name` in `dir`, through handles: directories are opened
/// without following links and emptied before they are removed.
pub(super) fn remove_entry(dir: &OwnedFd, name: &std::ffi::OsStr) -> rustix::io::Result<()> {
    use rustix::fs::{Dir, FileType, Mode, OFlags};
    let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
        return rustix::fs::unlinkat(dir, name, AtFlags::empty());
    }
    let inner = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
    let mut names = Vec::new();
    let mut listing = Dir::read_from(&inner)?;
    while let Some(item) = listing.read() {
        let item = item?;
        let child = item.file_name();
        if child != c"." && child != c".." {
            names.push(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(child.to_bytes()).to_os_string());
        }
    }
    for child in names {
        remove_entry(&inner, &child)?;
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)
}

/// An extraction's refusal to write where an entry would land.
pub fn outside_dest(refusal: Refusal, landing: &Path, dest: &Path) -> HostError {
    match refusal {
        Refusal::Escapes => HostError::Invalid(format!("{} would land outside {}", landing.display(), dest.display())),
        Refusal::Protected(real) => HostError::Denied(format!("{} is bosun's own state ({}); no grant reaches it", landing.display(), real.display())),
        Refusal::Io(e) => io_error(landing, e),
    }
}
