//! Files the host writes for plugins: temp name, fsync, rename, so a reader
//! never sees a half-written artifact; size and sha256 computed while writing.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::plugin::bindings::types::Artifact;

/// A writer to `<dest>.partial-<pid>` that becomes `dest` on [`finish`](Self::finish).
/// Dropped without finishing, it removes the temp file.
pub struct AtomicFile {
    dest: PathBuf,
    temp: PathBuf,
    file: Option<File>,
    hasher: Sha256,
    size: u64,
    /// Where the writeback started so far ends.
    flushed: u64,
}

impl AtomicFile {
    pub fn create(dest: &Path) -> io::Result<AtomicFile> {
        let name = dest.file_name().ok_or_else(|| io::Error::other(format!("{} has no file name", dest.display())))?;
        let temp = dest.with_file_name(format!(".{}.partial-{}", name.to_string_lossy(), std::process::id()));
        let file = File::create(&temp)?;
        Ok(AtomicFile { dest: dest.to_path_buf(), temp, file: Some(file), hasher: Sha256::new(), size: 0, flushed: 0 })
    }

    pub fn finish(mut self) -> io::Result<Artifact> {
        let file = self.file.take().expect("finish once");
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temp, &self.dest)?;
        if let Some(parent) = self.dest.parent() {
            File::open(parent)?.sync_all()?;
        }
        Ok(Artifact {
            path: self.dest.to_string_lossy().into_owned(),
            size: self.size,
            sha256: hex::encode(self.hasher.clone().finalize()),
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
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// sha256 of a file, streamed in large reads (with `io::copy`'s own 8 KiB,
/// a 550 MiB artifact took 70k reads).
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = io::BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// The placeholder a dry run returns for an artifact it did not write.
pub fn planned(path: &str) -> Artifact {
    Artifact { path: path.to_string(), size: 0, sha256: String::new() }
}
