//! Files the host writes for plugins: temp name, fsync, rename, so a reader
//! never sees a half-written artifact; size and sha256 computed while writing.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use sha2::{Digest, Sha256};

use crate::bindings::types::Artifact;

/// A writer to a temp file beside `dest` that becomes `dest` on
/// [`finish`](Self::finish). Everything happens through the handle of the
/// directory holding it: the temp file is created with `O_EXCL | O_NOFOLLOW`
/// under an unpredictable name (a planted file or symlink is never written
/// through) and renamed over `dest`, which replaces rather than follows
/// whatever is there. Dropped without finishing, it removes the temp file.
pub struct AtomicFile {
    dir: OwnedFd,
    name: OsString,
    temp: OsString,
    /// Where it lands, for the artifact and messages.
    dest: PathBuf,
    file: Option<File>,
    hasher: Sha256,
    size: u64,
    /// Where the writeback started so far ends.
    flushed: u64,
}

impl AtomicFile {
    /// For paths bosun itself chose (its state, catalog, backup manifests).
    pub fn create(dest: &Path) -> io::Result<AtomicFile> {
        let name = dest.file_name().ok_or_else(|| io::Error::other(format!("{} has no file name", dest.display())))?;
        let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let dir = rustix::fs::open(parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        AtomicFile::create_in(dir, name.to_os_string(), dest.to_path_buf())
    }

    /// Creates `name` in the open directory `dir`; `dest` is where that is.
    pub fn create_in(dir: OwnedFd, name: OsString, dest: PathBuf) -> io::Result<AtomicFile> {
        let mut random = [0u8; 8];
        rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty())?;
        let mut temp = OsString::from(".");
        temp.push(&name);
        temp.push(format!(".partial-{}", hex::encode(random)));
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let file = File::from(rustix::fs::openat(&dir, &temp, flags, Mode::from_raw_mode(0o666))?);
        Ok(AtomicFile { dir, name, temp, dest, file: Some(file), hasher: Sha256::new(), size: 0, flushed: 0 })
    }

    /// Where the file lands.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    pub fn finish(mut self) -> io::Result<Artifact> {
        let file = self.file.take().expect("finish once");
        file.sync_all()?;
        drop(file);
        rustix::fs::renameat(&self.dir, &self.temp, &self.dir, &self.name)?;
        rustix::fs::fsync(&self.dir)?;
        Ok(Artifact {
            path: self.dest.to_string_lossy().into_owned(),
            size: self.size,
            digest: crate::bindings::types::Digest::sha256(hex::encode(self.hasher.clone().finalize())),
        })
    }
}

/// The most one write hands the kernel: the slice is hashed right after the
/// kernel copied it, while it is still in the CPU's cache (a whole MiB at a
/// time, both copy and hash ran from memory, several times slower).
const WRITE_SLICE: usize = 128 * 1024;

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self.file.as_mut().expect("not finished");
        let n = file.write(&buf[..buf.len().min(WRITE_SLICE)])?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        if self.size - self.flushed >= FLUSH_BEHIND {
            start_writeback(file, self.flushed, self.size - self.flushed);
            self.flushed = self.size;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("not finished").flush()
    }
}

/// How far writing runs ahead of the disk: each time this much more is
/// written, its writeback starts, so the fsync at the end waits for the last
/// part only instead of the whole file (about a second per 512 MiB here).
const FLUSH_BEHIND: u64 = 8 << 20;

/// Starts (does not wait for) writing `len` bytes at `offset` to the disk.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // Only a hint: where it fails, the fsync in `finish` does all the work.
    unsafe { libc::sync_file_range(file.as_raw_fd(), offset as libc::off64_t, len as libc::off64_t, libc::SYNC_FILE_RANGE_WRITE) };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = rustix::fs::unlinkat(&self.dir, &self.temp, rustix::fs::AtFlags::empty());
        }
    }
}

/// sha256 of a file, streamed in large reads (with `io::copy`'s own 8 KiB,
/// a 550 MiB artifact took 70k reads).
pub fn sha256_file(path: &Path) -> io::Result<String> {
    sha256_reader(File::open(path)?)
}

/// sha256 of everything `source` yields, read in large chunks.
pub fn sha256_reader(source: impl io::Read) -> io::Result<String> {
    let mut file = io::BufReader::with_capacity(256 * 1024, source);
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// The placeholder a dry run returns for an artifact it did not write.
pub fn planned(path: &str) -> Artifact {
    Artifact { path: path.to_string(), size: 0, digest: crate::bindings::types::Digest::sha256(String::new()) }
}
