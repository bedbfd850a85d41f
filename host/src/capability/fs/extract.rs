//! `fs.extract`: a tar archive unpacked by the host, each entry checked
//! against where it may write. Unpacking many small files is mostly the
//! kernel creating them, so they are written on every core while the archive
//! is read (and decompressed, on a thread of its own) in order.

use std::collections::HashSet;
use std::fs::{FileTimes, OpenOptions, Permissions};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, SystemTime};

use super::archive::open_archive;
use super::io_error;
use crate::capability::read_ahead::ReadAhead;
use crate::plugin::bindings::types::HostError;

/// Unpacks `archive` into `dest`, keeping modes, mtimes (directories' too,
/// as GNU tar does) and symlinks; an entry
/// that would land outside `dest` is an error, not silently skipped.
/// `may_write(landing, real)` approves where each entry's bytes really go.
/// A check resolves a path, so it is made once per directory: entries inside
/// an approved directory skip it until a symlink is unpacked, and an entry
/// replacing an existing symlink is always checked (a directory this
/// extraction created holds no symlink it did not unpack, so its entries are
/// not looked up first).
pub fn extract(archive: &Path, dest: &Path, may_write: impl Fn(&Path, PathBuf) -> Result<(), HostError>) -> Result<u64, HostError> {
    std::fs::create_dir_all(dest).map_err(|e| io_error(dest, e))?;
    let dest_real = resolve_path(dest)?;
    let mut tar = tar::Archive::new(ReadAhead::spawn(open_archive(archive).map_err(|e| io_error(archive, e))?, 256 * 1024));
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(true);
    tar.set_overwrite(true);
    let entries = tar.entries().map_err(|e| io_error(archive, e))?;
    std::thread::scope(|scope| {
        let mut writers = SmallFileWriters::start(scope);
        let mut dirs = UnpackedDirs::default();
        let mut dir_mtimes = Vec::new();
        let mut count = 0;
        for entry in entries {
            let mut entry = entry.map_err(|e| io_error(archive, e))?;
            let relative = entry.path().map_err(|e| io_error(archive, e))?.into_owned();
            let name = relative.display().to_string();
            let failed = |e: io::Error| HostError::Failed(format!("{}: entry {name}: {e}", archive.display()));
            let outside = || HostError::Invalid(format!("{}: entry {name} would land outside {}", archive.display(), dest.display()));
            if relative.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
                return Err(outside());
            }
            let landing = dest.join(&relative);
            // `./`, as `tar -C dir .` writes it: `dest` itself, left as it is.
            if landing.components().eq(dest.components()) {
                count += 1;
                continue;
            }
            let (Some(parent), Some(file_name)) = (landing.parent(), landing.file_name()) else { return Err(outside()) };
            let entry_type = entry.header().entry_type();
            let before = match dirs.created.contains(parent) {
                true => None,
                false => std::fs::symlink_metadata(&landing).ok(),
            };
            let replaces_link = before.as_ref().is_some_and(|m| m.is_symlink());
            if replaces_link || !dirs.approved.contains(parent) {
                // tar replaces an existing file or link rather than writing through
                // it, but follows a link where a directory is expected.
                let real = match entry_type.is_dir() {
                    true => resolve_path(&landing)?,
                    false => resolve_path(parent)?.join(file_name),
                };
                may_write(&landing, real.clone())?;
                if !real.starts_with(&dest_real) {
                    return Err(outside());
                }
                std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
            }
            match entry_type {
                tar::EntryType::Regular if entry.size() <= SMALL_FILE => {
                    let file = SmallFile::read(&mut entry, landing.clone()).map_err(failed)?;
                    writers.write(file, dirs.links_unpacked)?;
                }
                // Where they land was checked above, so tar need not check again.
                tar::EntryType::Directory => {
                    entry.unpack(&landing).map_err(failed)?;
                    dir_mtimes.extend(mtime_of(entry.header()).map(|mtime| (landing.clone(), mtime)));
                }
                tar::EntryType::Regular => {
                    writers.wait()?;
                    entry.unpack(&landing).map_err(failed)?;
                }
                // What comes after a link may go through it: files still
                // being written must be in place before it appears.
                tar::EntryType::Symlink => {
                    writers.wait()?;
                    entry.unpack(&landing).map_err(failed)?;
                    dirs = UnpackedDirs { links_unpacked: true, ..UnpackedDirs::default() };
                }
                // A hard link gives its source's content a second name: the
                // source must be somewhere this extraction may write too.
                tar::EntryType::Link => {
                    writers.wait()?;
                    let source = entry.link_name().map_err(failed)?.ok_or_else(outside)?;
                    if source.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
                        return Err(outside());
                    }
                    let source = dest.join(source);
                    let real = resolve_path(&source)?;
                    may_write(&source, real.clone())?;
                    if !real.starts_with(&dest_real) {
                        return Err(outside());
                    }
                    if !entry.unpack_in(dest).map_err(failed)? {
                        return Err(outside());
                    }
                }
                _ => {
                    writers.wait()?;
                    if !entry.unpack_in(dest).map_err(failed)? {
                        return Err(outside());
                    }
                }
            }
            if entry_type.is_dir() {
                dirs.approved.insert(landing.clone());
                if before.is_none() {
                    dirs.created.insert(landing);
                }
            }
            count += 1;
        }
        writers.wait()?;
        set_dir_mtimes(&dir_mtimes)?;
        Ok(count)
    })
}

fn resolve_path(path: &Path) -> Result<PathBuf, HostError> {
    super::resolve(&path.to_string_lossy()).map_err(HostError::Invalid)
}

/// Directories an extraction has unpacked since its last symlink.
#[derive(Default)]
struct UnpackedDirs {
    /// Checked by `may_write`: what lands directly inside needs no check.
    approved: HashSet<PathBuf>,
    /// Did not exist before: nothing inside is a symlink the archive did not bring.
    created: HashSet<PathBuf>,
    /// Whether the archive has brought a symlink, so that one file may be
    /// reached by two paths.
    links_unpacked: bool,
}

/// Files up to this size are read whole and handed to a writer thread; at
/// most this many batches are queued for each.
const SMALL_FILE: u64 = 256 * 1024;
const QUEUED_PER_WRITER: usize = 8;
/// File creation stops scaling well before this many threads.
const MAX_WRITERS: usize = 8;

/// An entry's mtime. As tar-rs does: a zero mtime becomes 1, which more
/// tools accept, and one that does not parse is left alone.
fn mtime_of(header: &tar::Header) -> Option<SystemTime> {
    header.mtime().ok().and_then(|t| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(t.max(1))))
}

/// Gives unpacked directories their archived mtimes, once nothing more is
/// created in them (each file created inside changes a directory's mtime).
/// By path, as a directory need not be readable to be given its times.
fn set_dir_mtimes(dirs: &[(PathBuf, SystemTime)]) -> Result<(), HostError> {
    use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, utimensat};
    for (dir, mtime) in dirs {
        let since_epoch = mtime.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let time = Timespec { tv_sec: since_epoch.as_secs() as i64, tv_nsec: since_epoch.subsec_nanos().into() };
        let times = Timestamps { last_access: time, last_modification: time };
        utimensat(CWD, dir, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| io_error(dir, e.into()))?;
    }
    Ok(())
}

/// A regular file's content and metadata, read from the archive.
struct SmallFile {
    path: PathBuf,
    data: Vec<u8>,
    mode: u32,
    mtime: Option<SystemTime>,
}

impl SmallFile {
    fn read(entry: &mut tar::Entry<'_, impl Read>, path: PathBuf) -> io::Result<SmallFile> {
        let header = entry.header();
        let mode = header.mode()? & 0o7777;
        let mtime = mtime_of(header);
        let mut data = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut data)?;
        if data.len() as u64 != entry.size() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("the archive ends {} bytes into this file", data.len())));
        }
        Ok(SmallFile { path, data, mode, mtime })
    }

    /// Writes a new file, replacing (not writing through) whatever is there.
    fn write(&self) -> io::Result<()> {
        let create = || OpenOptions::new().write(true).create_new(true).open(&self.path);
        let mut file = match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                match std::fs::remove_file(&self.path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => create()?,
                }
            }
            other => other?,
        };
        file.write_all(&self.data)?;
        if let Some(mtime) = self.mtime {
            file.set_times(FileTimes::new().set_accessed(mtime).set_modified(mtime))?;
        }
        file.set_permissions(Permissions::from_mode(self.mode))
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
            false => BuildHasherDefault::<DefaultHasher>::default().hash_one(file.path.parent()) as usize % self.queues.len(),
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
                    file.write().map_err(|e| io_error(&file.path, e))?;
                }
            }
            WriterJob::Sync(done) => drop(done.send(())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;
    use crate::capability::fs::archive::ArchiveJob;
    use crate::plugin::bindings::fs::Compression;

    /// A temp dir (removed when the first value drops), its real path, and a directory `outside` in it.
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

    /// A tar with a symlink to `outside` and then a file written through it.
    fn archive_escaping_through_a_link(dir: &Path, outside: &Path) -> PathBuf {
        let path = dir.join("evil.tar");
        let mut tar = tar::Builder::new(File::create(&path).unwrap());
        let mut dir_header = tar::Header::new_gnu();
        dir_header.set_entry_type(tar::EntryType::Directory);
        dir_header.set_mode(0o755);
        dir_header.set_size(0);
        tar.append_data(&mut dir_header, "granted", io::empty()).unwrap();
        tar.append_link(&mut link_header(tar::EntryType::Symlink), "granted/link", outside).unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_size(4);
        file.set_mode(0o644);
        tar.append_data(&mut file, "granted/link/owned", &b"evil"[..]).unwrap();
        tar.finish().unwrap();
        path
    }

    #[test]
    fn extraction_stops_at_an_entry_that_lands_outside_what_may_be_written() {
        let (_dir, root, outside) = root_with_outside();
        let archive = archive_escaping_through_a_link(&root, &outside);
        let dest = root.join("dest");
        let granted = dest.join("granted");
        let checked = std::sync::Mutex::new(Vec::new());
        let may_write = |landing: &Path, real: PathBuf| {
            checked.lock().unwrap().push(landing.to_path_buf());
            match real.starts_with(&granted) {
                true => Ok(()),
                false => Err(HostError::Denied(format!("{}", real.display()))),
            }
        };
        let err = extract(&archive, &dest, may_write).unwrap_err();
        assert!(matches!(&err, HostError::Denied(real) if real == &outside.join("owned").display().to_string()), "{err:?}");
        assert!(!outside.join("owned").exists(), "nothing written through the link");
        assert!(granted.join("link").is_symlink(), "entries before it were unpacked");
        // The entry after the symlink was checked even though its directory had been approved.
        assert_eq!(checked.lock().unwrap().last().unwrap(), &granted.join("link/owned"));
    }

    #[test]
    fn extraction_refuses_a_link_out_of_dest_even_where_writing_is_allowed() {
        let (_dir, root, outside) = root_with_outside();
        let archive = archive_escaping_through_a_link(&root, &outside);
        let err = extract(&archive, &root.join("dest"), |_, _| Ok(())).unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.contains("granted/link/owned would land outside")), "{err:?}");
        assert!(!outside.join("owned").exists());
    }

    #[test]
    fn extraction_over_an_existing_tree_checks_a_symlink_it_replaces() {
        let (_dir, root, outside) = root_with_outside();
        let archive = archive_escaping_through_a_link(&root, &outside);
        // A second extraction finds `granted` existing: its entries are looked at again.
        let dest = root.join("dest");
        std::fs::create_dir_all(dest.join("granted")).unwrap();
        std::os::unix::fs::symlink(&outside, dest.join("granted/link")).unwrap();
        let checked = std::sync::Mutex::new(Vec::new());
        let err = extract(&archive, &dest, |landing, real| {
            checked.lock().unwrap().push((landing.to_path_buf(), real));
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.contains("would land outside")), "{err:?}");
        let checked = checked.into_inner().unwrap();
        assert!(checked.contains(&(dest.join("granted/link"), dest.join("granted/link"))), "the replaced link was checked: {checked:?}");
        assert!(!outside.join("owned").exists());
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
        let err = extract(&path, &dest, |_, _| Ok(())).unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.contains("entry h would land outside")), "{err:?}");
        assert!(!dest.join("h").exists());
    }

    #[test]
    fn extraction_checks_each_directory_once_not_each_file_and_keeps_its_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let source = root.join("src");
        std::fs::create_dir_all(source.join("sub")).unwrap();
        for i in 0..50 {
            std::fs::write(source.join("sub").join(format!("f{i}")), "x").unwrap();
        }
        let archived_mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        File::open(source.join("sub")).unwrap().set_modified(archived_mtime).unwrap();
        let job = ArchiveJob {
            sources: vec![source.clone()],
            excludes: globset::GlobSet::empty(),
            dest: root.join("a.tar.zst"),
            compression: Compression::Zstd,
            level: None,
            since: None,
            manifest_dest: None,
        };
        job.run().unwrap();
        let checks = std::sync::atomic::AtomicUsize::new(0);
        let count = extract(&root.join("a.tar.zst"), &root.join("out"), |_, _| {
            checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
        assert_eq!(count, 52);
        assert_eq!(checks.into_inner(), 1, "only the top directory entry needs a check");
        let restored_sub = root.join("out").join(source.strip_prefix("/").unwrap()).join("sub");
        assert_eq!(std::fs::metadata(restored_sub).unwrap().modified().unwrap(), archived_mtime, "set after its 50 files were created");
    }
}
