//! `fs.extract`: a tar archive unpacked by the host, each entry checked
//! against where it may write. Unpacking many small files is mostly the
//! kernel creating them, so they are written on every core while the archive
//! is read (and decompressed, on a thread of its own) in order.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{File, FileTimes};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid};

use super::bounded::Bounded;
use crate::backup_format::compression::decompressed;
use super::io_error;
use crate::capability::read_ahead::ReadAhead;
use crate::bindings::types::HostError;

/// Opens (creating it if missing) the directory an entry lands in, given
/// its path relative to the destination. It decides where writing is allowed:
/// beneath the destination's handle, or, for an in-place restore into a
/// directory no grant covers, beneath whichever `rw` grant covers that path.
/// When `probing`, a landing no grant covers is `Denied` without being
/// recorded as the call's denial: the caller has another way.
pub type Landing<'a> = dyn Fn(&Path, Probing) -> Result<OwnedFd, HostError> + Sync + 'a;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Probing {
    Yes,
    No,
}

/// Whether unpacked entries get the owners (uid and gid, by number) their
/// archive records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Owners {
    /// As GNU tar does: when bosun runs as root, else entries belong to whoever runs it.
    #[default]
    WhenRoot,
    /// Always (GNU tar's `--same-owner`): an entry that cannot be given its owner is an error.
    Always,
    /// Never (`--no-owners`): entries belong to whoever runs bosun.
    Never,
}

impl Owners {
    pub fn apply(self) -> bool {
        match self {
            Owners::WhenRoot => rustix::process::geteuid().is_root(),
            Owners::Always => true,
            Owners::Never => false,
        }
    }
}

/// Unpacks `archive` (read from `source`) into `dest`, keeping modes,
/// mtimes to the nanosecond (PAX `mtime`; directories' and links' too, as
/// GNU tar does), owners when `owners`, symlinks and hard links. Every
/// entry is created through the handle of the directory it lands in
/// (`landing`) and replaces, never follows, what is there: a symlink the
/// archive brought may point anywhere, but nothing is written through one,
/// and a directory reached through one is opened beneath the landing root or
/// not at all. An entry that would land outside is an error, not skipped.
pub fn extract(source: Bounded<File>, archive: &Path, dest: &Path, landing: &Landing<'_>, owners: bool) -> Result<u64, HostError> {
    super::beneath::raise_open_file_limit();
    let reader = decompressed(BufReader::with_capacity(1 << 20, source)).map_err(|e| io_error(archive, e))?;
    let mut tar = tar::Archive::new(ReadAhead::spawn(reader, 256 * 1024));
    let entries = tar.entries().map_err(|e| io_error(archive, e))?;
    std::thread::scope(|scope| {
        let mut writers = SmallFileWriters::start(scope);
        let mut dirs = OpenDirs { landing, open: HashMap::new() };
        let mut dir_mtimes = Vec::new();
        let mut links_unpacked = false;
        let mut count = 0;
        for entry in entries {
            let mut entry = entry.map_err(|e| io_error(archive, e))?;
            let named = entry.path().map_err(|e| io_error(archive, e))?.into_owned();
            let name = named.display().to_string();
            let outside = || HostError::Invalid(format!("{}: entry {name} would land outside {}", archive.display(), dest.display()));
            let failed = |e: io::Error| match e.raw_os_error() {
                Some(libc::EXDEV) => outside(),
                _ => HostError::Failed(format!("{}: entry {name}: {e}", archive.display())),
            };
            let relative = inside(&named).ok_or_else(outside)?;
            count += 1;
            // `./`, as `tar -C dir .` writes it: `dest` itself, left as it is.
            let Some(file_name) = relative.file_name().map(OsStr::to_os_string) else { continue };
            let entry_type = entry.header().entry_type();
            if matches!(entry_type, tar::EntryType::XGlobalHeader | tar::EntryType::XHeader | tar::EntryType::GNULongName | tar::EntryType::GNULongLink) {
                continue;
            }
            // Links carry no mode of their own (tar writers may leave it blank).
            let mode = entry.header().mode().map(|m| Mode::from_raw_mode(m & 0o7777));
            let mode = || mode.as_ref().map(|m| *m).map_err(|e| failed(io::Error::new(e.kind(), e.to_string())));
            let mtime = mtime_of(&mut entry);
            let owner = owners.then(|| owner_of(entry.header())).flatten();
            // In an in-place restore a directory may be a grant root whose
            // parent is not granted: it is opened (or made) as itself.
            let probing = if entry_type == tar::EntryType::Directory { Probing::Yes } else { Probing::No };
            let parent = match dirs.get(relative.parent().unwrap_or(Path::new("")), probing) {
                Ok(parent) => parent,
                Err(HostError::Denied(_)) if probing == Probing::Yes => {
                    let dir = dirs.get(&relative, Probing::No)?;
                    set_owner_and_mode(&dir, owner, mode()?).map_err(failed)?;
                    dir_mtimes.extend(mtime.map(|mtime| (dir.clone(), relative.clone(), mtime)));
                    continue;
                }
                // A landing refused as outside is this entry's to report.
                Err(HostError::Invalid(_)) => return Err(outside()),
                Err(other) => return Err(other),
            };
            match entry_type {
                tar::EntryType::Regular | tar::EntryType::Continuous if entry.size() <= SMALL_FILE => {
                    let meta = Meta { mode: mode()?, mtime, owner };
                    let file = SmallFile::read(&mut entry, parent, file_name, relative, meta).map_err(failed)?;
                    writers.write(file, links_unpacked)?;
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    writers.wait()?;
                    let mut file = create_file(&parent, &file_name).map_err(failed)?;
                    io::copy(&mut entry, &mut file).map_err(failed)?;
                    finish_file(&file, &Meta { mode: mode()?, mtime, owner }).map_err(failed)?;
                }
                tar::EntryType::Directory => {
                    let dir = make_dir(&parent, &file_name).map_err(failed)?;
                    set_owner_and_mode(&dir, owner, mode()?).map_err(failed)?;
                    dir_mtimes.extend(mtime.map(|mtime| (dir.clone(), relative.clone(), mtime)));
                    dirs.open.insert(relative, dir);
                }
                // What comes after a link may go through it: files still
                // being written must be in place before it appears.
                tar::EntryType::Symlink => {
                    writers.wait()?;
                    let target = entry.link_name().map_err(failed)?.ok_or_else(outside)?.into_owned();
                    replacing(&parent, &file_name, || rustix::fs::symlinkat(&target, &*parent, &file_name)).map_err(failed)?;
                    finish_in_place(&parent, &file_name, owner, mtime).map_err(failed)?;
                    links_unpacked = true;
                }
                // A hard link gives its source's content a second name: the
                // source must be somewhere this extraction may write too.
                tar::EntryType::Link => {
                    writers.wait()?;
                    let source = entry.link_name().map_err(failed)?.ok_or_else(outside)?;
                    let source = inside(&source).ok_or_else(outside)?;
                    let source_name = source.file_name().ok_or_else(outside)?;
                    let source_dir = dirs.get(source.parent().unwrap_or(Path::new("")), Probing::No)?;
                    replacing(&parent, &file_name, || rustix::fs::linkat(&*source_dir, source_name, &*parent, &file_name, AtFlags::empty())).map_err(failed)?;
                }
                tar::EntryType::Fifo => {
                    writers.wait()?;
                    replacing(&parent, &file_name, || rustix::fs::mknodat(&*parent, &file_name, FileType::Fifo, Mode::from_raw_mode(0o600), 0)).map_err(failed)?;
                    // Opened without waiting for a writer, never through a link, and finished as a file is.
                    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                    let fifo = rustix::fs::openat(&*parent, &file_name, flags, Mode::empty()).map_err(|e| failed(e.into()))?;
                    finish_file(&File::from(fifo), &Meta { mode: mode()?, mtime, owner }).map_err(failed)?;
                }
                other => {
                    return Err(HostError::Invalid(format!(
                        "{}: entry {name} is a {other:?} entry; bosun restores files, directories, links and FIFOs, never devices",
                        archive.display()
                    )));
                }
            }
        }
        writers.wait()?;
        set_dir_mtimes(&dir_mtimes, dest)?;
        Ok(count)
    })
}

/// An entry's path made of plain names only (`.` dropped); None if it
/// is absolute or holds `..`.
fn inside(named: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in named.components() {
        match part {
            Component::Normal(name) => out.push(name),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// The directories entries land in, opened once each.
struct OpenDirs<'a, 'l> {
    landing: &'a Landing<'l>,
    open: HashMap<PathBuf, Arc<OwnedFd>>,
}

impl OpenDirs<'_, '_> {
    fn get(&mut self, relative: &Path, probing: Probing) -> Result<Arc<OwnedFd>, HostError> {
        if let Some(dir) = self.open.get(relative) {
            return Ok(dir.clone());
        }
        let dir = Arc::new((self.landing)(relative, probing)?);
        self.open.insert(relative.to_path_buf(), dir.clone());
        Ok(dir)
    }
}

/// Runs `make`, which creates `name` in `dir`; if something is there
/// already it is removed first (replaced, never written through), unless it
/// is a directory.
fn replacing(dir: &OwnedFd, name: &OsStr, mut make: impl FnMut() -> rustix::io::Result<()>) -> io::Result<()> {
    match make() {
        Err(rustix::io::Errno::EXIST) => {
            rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
            Ok(make()?)
        }
        other => Ok(other?),
    }
}

fn create_file(dir: &OwnedFd, name: &OsStr) -> io::Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut created = None;
    replacing(dir, name, || {
        created = Some(rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o600))?);
        Ok(())
    })?;
    Ok(File::from(created.expect("created")))
}

/// What an unpacked entry gets besides its content.
struct Meta {
    mode: Mode,
    mtime: Option<SystemTime>,
    /// uid and gid, when owners are restored.
    owner: Option<(u32, u32)>,
}

fn finish_file(file: &File, meta: &Meta) -> io::Result<()> {
    if let Some(mtime) = meta.mtime {
        file.set_times(FileTimes::new().set_accessed(mtime).set_modified(mtime))?;
    }
    set_owner_and_mode(file, meta.owner, meta.mode)
}

/// The owner first: changing it clears the set-id bits the mode may set.
fn set_owner_and_mode(fd: impl AsFd, owner: Option<(u32, u32)>, mode: Mode) -> io::Result<()> {
    if let Some((uid, gid)) = owner {
        rustix::fs::fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).map_err(|e| owner_error(e, uid, gid))?;
    }
    Ok(rustix::fs::fchmod(&fd, mode)?)
}

/// Owner and mtime of a symlink, set through its directory without
/// following it (nothing can be opened to set them on).
fn finish_in_place(dir: &OwnedFd, name: &OsStr, owner: Option<(u32, u32)>, mtime: Option<SystemTime>) -> io::Result<()> {
    if let Some((uid, gid)) = owner {
        rustix::fs::chownat(dir, name, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)), AtFlags::SYMLINK_NOFOLLOW).map_err(|e| owner_error(e, uid, gid))?;
    }
    if let Some(mtime) = mtime {
        let time = timespec(mtime);
        rustix::fs::utimensat(dir, name, &Timestamps { last_access: time, last_modification: time }, AtFlags::SYMLINK_NOFOLLOW)?;
    }
    Ok(())
}

fn owner_error(error: rustix::io::Errno, uid: u32, gid: u32) -> io::Error {
    match error {
        rustix::io::Errno::PERM => io::Error::other(format!("cannot give it its owner {uid}:{gid} (only root can); run the restore as root, or pass --no-owners")),
        other => other.into(),
    }
}

/// An entry's uid and gid; none when its header leaves them blank (tar
/// writers may, as for links' modes).
fn owner_of(header: &tar::Header) -> Option<(u32, u32)> {
    let id = |value: io::Result<u64>| value.ok().and_then(|v| u32::try_from(v).ok());
    Some((id(header.uid())?, id(header.gid())?))
}

/// Creates (or keeps) the directory `name` in `dir` and opens it; a file or
/// symlink in its place is replaced.
fn make_dir(dir: &OwnedFd, name: &OsStr) -> io::Result<Arc<OwnedFd>> {
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
        Err(rustix::io::Errno::EXIST) => {
            let existing = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(existing.st_mode) != FileType::Directory {
                rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
                rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700))?;
            }
        }
        other => other?,
    }
    let opened = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
    Ok(Arc::new(opened))
}

/// Files up to this size are read whole and handed to a writer thread; at
/// most this many batches are queued for each.
const SMALL_FILE: u64 = 256 * 1024;
const QUEUED_PER_WRITER: usize = 8;
/// File creation stops scaling well before this many threads.
const MAX_WRITERS: usize = 8;

/// An entry's mtime: its PAX `mtime` (`seconds.fraction`) when it has one,
/// else the header's whole seconds. As tar-rs does: a zero mtime becomes 1,
/// which more tools accept, and one that does not parse is left alone.
fn mtime_of(entry: &mut tar::Entry<'_, impl Read>) -> Option<SystemTime> {
    let precise = entry.pax_extensions().ok().flatten().and_then(|extensions| {
        let value = extensions.filter_map(Result::ok).find(|e| e.key() == Ok("mtime"))?.value().ok()?.to_string();
        parse_pax_time(&value)
    });
    let time = precise.or_else(|| entry.header().mtime().ok().map(Duration::from_secs))?;
    SystemTime::UNIX_EPOCH.checked_add(time.max(Duration::from_secs(1)))
}

/// A PAX time, `seconds[.fraction]` since the epoch (none before it).
fn parse_pax_time(value: &str) -> Option<Duration> {
    let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
    let seconds = seconds.parse().ok()?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = &fraction[..fraction.len().min(9)];
    let nanos = format!("{digits:0<9}").parse().ok()?;
    Some(Duration::new(seconds, nanos))
}

fn timespec(time: SystemTime) -> Timespec {
    let since_epoch = time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    Timespec { tv_sec: since_epoch.as_secs() as i64, tv_nsec: since_epoch.subsec_nanos().into() }
}

/// Gives unpacked directories their archived mtimes, once nothing more is
/// created in them (each file created inside changes a directory's mtime).
fn set_dir_mtimes(dirs: &[(Arc<OwnedFd>, PathBuf, SystemTime)], dest: &Path) -> Result<(), HostError> {
    for (dir, relative, mtime) in dirs {
        let time = timespec(*mtime);
        rustix::fs::futimens(&**dir, &Timestamps { last_access: time, last_modification: time }).map_err(|e| io_error(&dest.join(relative), e.into()))?;
    }
    Ok(())
}

/// A regular file's content and metadata, read from the archive.
struct SmallFile {
    dir: Arc<OwnedFd>,
    name: OsString,
    /// Where it lands, relative to the destination (for messages and which writer).
    relative: PathBuf,
    data: Vec<u8>,
    meta: Meta,
}

impl SmallFile {
    fn read(entry: &mut tar::Entry<'_, impl Read>, dir: Arc<OwnedFd>, name: OsString, relative: PathBuf, meta: Meta) -> io::Result<SmallFile> {
        let mut data = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut data)?;
        if data.len() as u64 != entry.size() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("the archive ends {} bytes into this file", data.len())));
        }
        Ok(SmallFile { dir, name, relative, data, meta })
    }

    /// Writes a new file, replacing (not writing through) whatever is there.
    fn write(&self) -> io::Result<()> {
        let mut file = create_file(&self.dir, &self.name)?;
        file.write_all(&self.data)?;
        finish_file(&file, &self.meta)
    }
}

/// Threads that write small files, one per core. A directory's files go to
/// one thread (creating files in one directory does not run in parallel), so
/// a later entry for a path lands after an earlier one; once the archive has
/// brought a symlink, and one file may have two paths, all go to the first.
/// Files are handed over in batches: a writer woken for every file spent
/// more time being woken than writing.
struct SmallFileWriters<'scope> {
    queues: Vec<SyncSender<WriterJob>>,
    /// Per writer, the files not handed over yet and their bytes.
    batches: Vec<(Vec<SmallFile>, usize)>,
    threads: Vec<ScopedJoinHandle<'scope, Result<(), HostError>>>,
}

/// A batch is handed over at this many files or bytes, whichever comes first.
const BATCH_FILES: usize = 32;
const BATCH_BYTES: usize = 256 * 1024;

enum WriterJob {
    Write(Vec<SmallFile>),
    /// Answered once everything queued before it is written.
    Sync(SyncSender<()>),
}

impl<'scope> SmallFileWriters<'scope> {
    fn start(scope: &'scope Scope<'scope, '_>) -> SmallFileWriters<'scope> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WRITERS);
        let (queues, threads): (Vec<_>, Vec<_>) = (0..threads)
            .map(|_| {
                let (queue, jobs) = sync_channel(QUEUED_PER_WRITER);
                (queue, scope.spawn(move || run_writer(jobs)))
            })
            .unzip();
        let batches = queues.iter().map(|_| (Vec::new(), 0)).collect();
        SmallFileWriters { queues, batches, threads }
    }

    fn write(&mut self, file: SmallFile, links_unpacked: bool) -> Result<(), HostError> {
        let slot = match links_unpacked {
            true => 0,
            false => BuildHasherDefault::<DefaultHasher>::default().hash_one(file.relative.parent()) as usize % self.queues.len(),
        };
        let (files, bytes) = &mut self.batches[slot];
        *bytes += file.data.len();
        files.push(file);
        match files.len() >= BATCH_FILES || *bytes >= BATCH_BYTES {
            true => self.hand_over(slot),
            false => Ok(()),
        }
    }

    fn hand_over(&mut self, slot: usize) -> Result<(), HostError> {
        let (files, _) = std::mem::take(&mut self.batches[slot]);
        self.queues[slot].send(WriterJob::Write(files)).map_err(|_| self.stopped())
    }

    /// Waits until every file handed over is written.
    fn wait(&mut self) -> Result<(), HostError> {
        for slot in 0..self.batches.len() {
            if !self.batches[slot].0.is_empty() {
                self.hand_over(slot)?;
            }
        }
        let (done, finished) = sync_channel(self.queues.len());
        for queue in &self.queues {
            if queue.send(WriterJob::Sync(done.clone())).is_err() {
                return Err(self.stopped());
            }
        }
        drop(done);
        for _ in 0..self.queues.len() {
            if finished.recv().is_err() {
                return Err(self.stopped());
            }
        }
        Ok(())
    }

    /// The error a writer stopped at; the others finish what they hold.
    fn stopped(&mut self) -> HostError {
        self.queues.clear();
        let results: Vec<_> = self.threads.drain(..).map(|t| t.join().expect("a file writer does not panic")).collect();
        results.into_iter().find_map(Result::err).unwrap_or_else(|| HostError::Failed("a file writer stopped".into()))
    }
}

fn run_writer(jobs: Receiver<WriterJob>) -> Result<(), HostError> {
    for job in jobs {
        match job {
            WriterJob::Write(files) => {
                for file in files {
                    file.write().map_err(|e| io_error(&file.relative, e))?;
                }
            }
            WriterJob::Sync(done) => drop(done.send(())),
        }
    }
    Ok(())
}


#[cfg(test)]
mod tests {
    use super::*;

    /// A temp dir, its real path, and a directory `outside` in it.
    fn root_with_outside() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let outside = root.join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        (dir, root, outside)
    }

    fn link_header(kind: tar::EntryType) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(0);
        header
    }

    /// Extracts beneath `dest`'s handle, as `fs.extract` does for a granted destination.
    fn extract_into(archive: &Path, dest: &Path) -> Result<u64, HostError> {
        std::fs::create_dir_all(dest).unwrap();
        let top = rustix::fs::open(dest, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap();
        let landing = |relative: &Path, _probing| {
            let at = super::super::beneath::Located::from_fd(top.try_clone().unwrap(), relative.to_path_buf(), dest.join(relative));
            at.open_dir_creating().map_err(|refusal| super::super::locate::outside_dest(refusal, &dest.join(relative), dest))
        };
        extract(Bounded::new(File::open(archive).unwrap(), super::super::bounded::Deadline(std::time::Instant::now() + std::time::Duration::from_secs(600))), archive, dest, &landing, true)
    }

    #[test]
    fn nothing_is_written_through_a_link_the_archive_brings() {
        let (_dir, root, outside) = root_with_outside();
        let path = root.join("evil.tar");
        let mut tar = tar::Builder::new(File::create(&path).unwrap());
        tar.append_link(&mut link_header(tar::EntryType::Symlink), "link", &outside).unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_size(4);
        file.set_mode(0o644);
        tar.append_data(&mut file, "link/owned", &b"evil"[..]).unwrap();
        tar.finish().unwrap();
        let err = extract_into(&path, &root.join("dest")).unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.contains("would land outside")), "{err:?}");
        assert!(!outside.join("owned").exists());
        assert!(root.join("dest/link").is_symlink(), "entries before it were unpacked");
    }

    #[test]
    fn an_existing_link_is_replaced_by_the_file_not_followed() {
        let (_dir, root, outside) = root_with_outside();
        std::fs::write(outside.join("victim"), "safe").unwrap();
        let dest = root.join("dest");
        std::fs::create_dir_all(&dest).unwrap();
        std::os::unix::fs::symlink(outside.join("victim"), dest.join("f")).unwrap();
        let path = root.join("a.tar");
        let mut tar = tar::Builder::new(File::create(&path).unwrap());
        let mut file = tar::Header::new_gnu();
        file.set_size(3);
        file.set_mode(0o600);
        tar.append_data(&mut file, "f", &b"new"[..]).unwrap();
        tar.finish().unwrap();
        extract_into(&path, &dest).unwrap();
        assert_eq!(std::fs::read_to_string(outside.join("victim")).unwrap(), "safe");
        assert_eq!(std::fs::read_to_string(dest.join("f")).unwrap(), "new");
        assert!(!dest.join("f").is_symlink());
    }

    #[test]
    fn a_hard_link_to_a_file_out_of_reach_is_refused() {
        let (_dir, root, outside) = root_with_outside();
        std::fs::write(outside.join("secret"), "s").unwrap();
        let path = root.join("hard.tar");
        let mut tar = tar::Builder::new(File::create(&path).unwrap());
        tar.append_link(&mut link_header(tar::EntryType::Symlink), "link", &outside).unwrap();
        tar.append_link(&mut link_header(tar::EntryType::Link), "h", "link/secret").unwrap();
        tar.finish().unwrap();
        let dest = root.join("dest");
        let err = extract_into(&path, &dest).unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.contains("would land outside")), "{err:?}");
        assert!(!dest.join("h").exists());
    }

    #[test]
    fn devices_are_refused_and_dotdot_lands_nowhere() {
        let (_dir, root, _outside) = root_with_outside();
        let path = root.join("dev.tar");
        let mut tar = tar::Builder::new(File::create(&path).unwrap());
        let mut dev = link_header(tar::EntryType::Char);
        dev.set_device_major(1).unwrap();
        dev.set_device_minor(3).unwrap();
        tar.append_data(&mut dev, "null", io::empty()).unwrap();
        tar.finish().unwrap();
        let err = extract_into(&path, &root.join("dest")).unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.contains("never devices")), "{err:?}");
        assert!(inside(Path::new("a/../b")).is_none() && inside(Path::new("/etc")).is_none());
        assert_eq!(inside(Path::new("./a/./b")).unwrap(), Path::new("a/b"));
    }

    #[test]
    fn modes_and_directory_mtimes_are_kept() {
        let (_dir, root, _outside) = root_with_outside();
        let path = root.join("t.tar");
        let mut tar = tar::Builder::new(File::create(&path).unwrap());
        let mut dir = link_header(tar::EntryType::Directory);
        dir.set_mode(0o750);
        dir.set_mtime(1_700_000_000);
        tar.append_data(&mut dir, "sub", io::empty()).unwrap();
        for i in 0..50 {
            let mut file = tar::Header::new_gnu();
            file.set_size(1);
            file.set_mode(0o640);
            file.set_mtime(1_600_000_000);
            tar.append_data(&mut file, format!("sub/f{i}"), &b"x"[..]).unwrap();
        }
        tar.finish().unwrap();
        assert_eq!(extract_into(&path, &root.join("out")).unwrap(), 51);
        use std::os::unix::fs::PermissionsExt;
        let sub = std::fs::metadata(root.join("out/sub")).unwrap();
        assert_eq!((sub.permissions().mode() & 0o7777, sub.modified().unwrap()), (0o750, SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)));
        let file = std::fs::metadata(root.join("out/sub/f7")).unwrap();
        assert_eq!((file.permissions().mode() & 0o7777, file.modified().unwrap()), (0o640, SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000)));
    }
}
