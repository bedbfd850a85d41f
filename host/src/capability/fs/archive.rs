//! tar archives the host writes for `fs.archive`, with a per-file list (size,
//! mtime, mode, content hash) for incrementals and verify.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;

use super::bounded::{Bounded, Deadline};
use super::file_list_io::{read_file_list_from, write_file_list};
use super::{io_error, is_out_of_space};
use super::walk::{TreeEntry, open_beneath, relative, walk};
use crate::backup_format::compression::compression_workers;
use crate::backup_format::content_hash::{ContentHasher, FileHash, HashAlgorithm};
use crate::backup_format::file_list::{BaseList, FileEntry, FileList, Kind};
use crate::capability::artifact::AtomicFile;
use crate::bindings::fs::{ArchiveResult, Compression, EntryKind};
use crate::bindings::types::{Artifact, HostError};

/// One tree to archive: opened (`O_PATH | O_NOFOLLOW`) where the plugin named it.
pub struct Source {
    pub top: OwnedFd,
    pub path: PathBuf,
}

pub struct ArchiveJob {
    pub sources: Vec<Source>,
    pub excludes: globset::GlobSet,
    pub dest: AtomicFile,
    pub compression: Compression,
    pub level: Option<i32>,
    /// The base's file list, open, and where it is.
    pub since: Option<(File, PathBuf)>,
    pub manifest_dest: Option<AtomicFile>,
    /// Every write of the archive fails past it (see [`super::bounded`]).
    pub deadline: Deadline,
}

impl ArchiveJob {
    pub fn run(self) -> Result<ArchiveResult, HostError> {
        // The base's file list is read while the tree is walked and stat'ed.
        let (base, walked) = std::thread::scope(|scope| {
            let base = scope.spawn(|| match self.since {
                Some((file, path)) => read_file_list_from(file, &path),
                None => Ok(FileList::default()),
            });
            let walked: Result<Vec<_>, HostError> = self.sources.iter().map(|source| walk(&source.top, &source.path, &self.excludes)).collect();
            (base.join().expect("the file list reader does not panic"), walked)
        });
        let (base, walked) = (base?, walked?);
        let mut base = BaseList::new(base);
        let dest = self.dest.dest().to_path_buf();
        let compressor = Compressor::new(self.dest, self.compression, self.level).map_err(|e| io_error(&dest, e))?;
        let mut tar = tar::Builder::new(Bounded::new(compressor, self.deadline));
        tar.follow_symlinks(false);
        let mut listed = Vec::with_capacity(walked.iter().map(Vec::len).sum());
        let mut written = 0u64;
        let mut buffer = vec![0; READ_CHUNK];
        for (source, entries) in self.sources.iter().zip(walked) {
            for entry in entries {
                let (name, record, was_written) = add(&mut tar, source, entry, &mut base, &mut buffer, &dest)?;
                written += u64::from(was_written);
                listed.push((name, record));
            }
        }
        let compressor = tar.into_inner().map_err(|e| io_error(&dest, e))?.into_inner();
        let archive = compressor.finish().map_err(|e| io_error(&dest, e))?;
        // What `add` did not take out of the base is gone from the tree.
        let deleted = base.untaken().map(|k| format!("/{k}")).collect();
        // Walk order is sorted within each source; sources may overlap or come in any order.
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        listed.dedup_by(|a, b| a.0 == b.0);
        let manifest = match self.manifest_dest {
            Some(out) => Some(write_file_list(out, &listed)?),
            None => None,
        };
        Ok(ArchiveResult { archive, manifest, entries: written, deleted })
    }
}

/// The archive's bytes: compressed into the temp file, within the deadline.
type Output = Bounded<Compressor>;

/// Adds one entry unless it is an unchanged file of an incremental, and
/// takes it out of `base`. Returns its name and record for the new list,
/// and whether it was written. Everything is read through `source`'s handle
/// as the walk saw it: a file is opened beneath it with no symlinks on the
/// way, and directories and links are stored from what the walk stat'ed.
fn add(tar: &mut tar::Builder<Output>, source: &Source, entry: TreeEntry, base: &mut BaseList, buffer: &mut [u8], dest: &Path) -> Result<(String, FileEntry, bool), HostError> {
    {
        // Reading names the file read; a full disk is the archive's.
        let failed = |path: &Path, e: io::Error| match is_out_of_space(&e) {
            true => io_error(dest, e),
            false => io_error(path, e),
        };
        let name = entry.name().into_owned();
        let path = entry.path.as_path();
        let old = base.take(&name);
        let mut record = FileEntry {
            kind: Kind::from(entry.kind),
            size: entry.size,
            mtime_ms: entry.mtime_ms,
            mode: entry.mode,
            owner: Some(entry.owner),
            hash: None,
            link_target: entry.link_target,
        };
        if entry.kind != EntryKind::File {
            append_non_file(tar, source, path, &name).map_err(|e| failed(path, e))?;
            return Ok((name, record, true));
        }
        // Unchanged: the same size, mtime, mode and owner (chmod and chown
        // keep the mtime; a base list from before owners were recorded
        // does not compare them). A file touched with the same content is
        // archived again: confirming it by hash read it whole anyway, and
        // left out, its restore would get the base's mtime.
        if let Some(old) = old.filter(|old| {
            old.size == record.size && old.mtime_ms == record.mtime_ms && old.mode == record.mode && old.owner.is_none_or(|owner| Some(owner) == record.owner)
        }) {
            record.hash = old.hash;
            return Ok((name, record, false));
        }
        // The metadata the regular-file check read is the header's.
        let (file, meta) = open_file(source, path)?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        append_precise_mtime(tar, &meta).map_err(|e| failed(path, e))?;
        // tar-rs writes the header (and a GNU long-name entry when needed)
        // and pads what it copied, which is nothing here; the body follows.
        tar.append_data(&mut header, &name, io::empty()).map_err(|e| failed(path, e))?;
        let hash = append_body(tar.get_mut(), file, path, meta.len(), buffer).map_err(|e| failed(path, e))?;
        record.hash = Some(hash);
        Ok((name, record, true))
    }
}

/// A walked regular file, opened beneath its source; anything else there
/// now (a FIFO, a link) means the tree changed during the backup.
fn open_file(source: &Source, path: &Path) -> Result<(File, std::fs::Metadata), HostError> {
    let fd = open_beneath(&source.top, relative(path, &source.path), OFlags::RDONLY | OFlags::NONBLOCK).map_err(|e| io_error(path, e.into()))?;
    let file = File::from(fd);
    match file.metadata() {
        Ok(meta) if meta.is_file() => Ok((file, meta)),
        Ok(_) => Err(HostError::Failed(format!("{}: changed during the backup (it is no longer a regular file); run the backup again", path.display()))),
        Err(e) => Err(io_error(path, e)),
    }
}

/// A directory, symlink or special file, stored as tar-rs stores a path
/// (`append_path_with_name`), but stat'ed and read through a handle opened
/// beneath its source rather than by name.
fn append_non_file(tar: &mut tar::Builder<Output>, source: &Source, path: &Path, name: &str) -> io::Result<()> {
    let fd = open_beneath(&source.top, relative(path, &source.path), OFlags::PATH)?;
    let meta = File::from(fd.try_clone()?).metadata()?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    append_precise_mtime(tar, &meta)?;
    if meta.file_type().is_symlink() {
        let target = rustix::fs::readlinkat(&fd, c"", Vec::new())?;
        return tar.append_link(&mut header, name, std::ffi::OsStr::from_bytes(target.as_bytes()));
    }
    tar.append_data(&mut header, name, io::empty())
}

/// A PAX extended header carrying the entry's mtime to the nanosecond
/// (`mtime=SECONDS.NANOSECONDS`, as GNU tar's `--format=posix` writes it),
/// when it has a fraction of a second the tar header's whole seconds drop.
fn append_precise_mtime(tar: &mut tar::Builder<Output>, meta: &std::fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    match (meta.mtime(), meta.mtime_nsec()) {
        (seconds, nanos) if seconds >= 0 && nanos > 0 => tar.append_pax_extensions([("mtime", format!("{seconds}.{nanos:09}").as_bytes())]),
        _ => Ok(()),
    }
}

/// Bytes read from a file at a time (and the most a small file costs: one read).
const READ_CHUNK: usize = 1 << 20;

/// Writes exactly `size` bytes of `file` and the padding to the next tar
/// block, and returns the (BLAKE3) hash of what it wrote. A file that grew after its
/// header was made is cut at `size`, as GNU tar does (a log being appended
/// to stays a consistent prefix); one that shrank is filled with zeros, with
/// a warning, so the archive stays readable.
fn append_body(out: &mut impl Write, mut file: File, path: &Path, size: u64, buffer: &mut [u8]) -> io::Result<FileHash> {
    let mut hasher = ContentHasher::new(HashAlgorithm::Blake3);
    let mut left = size;
    while left > 0 {
        let want = left.min(buffer.len() as u64) as usize;
        let read = match file.read(&mut buffer[..want]) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..read]);
        out.write_all(&buffer[..read])?;
        left -= read as u64;
    }
    if left > 0 {
        tracing::warn!("{} shrank while it was archived: its last {left} of {size} bytes are stored as zeros", path.display());
        buffer.fill(0);
        while left > 0 {
            let zeros = &buffer[..left.min(buffer.len() as u64) as usize];
            hasher.update(zeros);
            out.write_all(zeros)?;
            left -= zeros.len() as u64;
        }
    }
    let padding = (512 - size % 512) % 512;
    out.write_all(&[0; 512][..padding as usize])?;
    Ok(hasher.finish())
}

/// The compression layer between tar and the atomic file. Each is buffered:
/// tar headers come in small writes, and every write into the
/// multithreaded zstd encoder takes its locks.
pub(super) enum Compressor {
    Plain(BufWriter<AtomicFile>),
    Zstd(BufWriter<zstd::Encoder<'static, AtomicFile>>),
    Gzip(BufWriter<flate2::write::GzEncoder<AtomicFile>>),
}

const WRITE_BUFFER: usize = 1 << 20;

/// zstd levels from which compression jobs are kept small (see `Compressor::new`).
const SLOW_LEVEL: i32 = 10;

impl Compressor {
    pub(super) fn new(out: AtomicFile, compression: Compression, level: Option<i32>) -> io::Result<Compressor> {
        Ok(match compression {
            Compression::None => Compressor::Plain(BufWriter::with_capacity(WRITE_BUFFER, out)),
            Compression::Zstd => {
                let level = level.unwrap_or(1);
                let mut encoder = zstd::Encoder::new(out, level)?;
                encoder.multithread(compression_workers())?;
                // A write may wait for a whole job, and dropping the encoder
                // waits out the running ones. At the slow levels the default
                // job (4 × the window: 32 MiB at 19) takes tens of seconds, so
                // the call's deadline could not stop the work; 1 MiB takes
                // about a second at the slowest.
                if level >= SLOW_LEVEL {
                    encoder.set_parameter(zstd::stream::raw::CParameter::JobSize(1 << 20))?;
                }
                Compressor::Zstd(BufWriter::with_capacity(WRITE_BUFFER, encoder))
            }
            Compression::Gzip => {
                let level = flate2::Compression::new(level.unwrap_or(1).clamp(0, 9) as u32);
                Compressor::Gzip(BufWriter::with_capacity(WRITE_BUFFER, flate2::write::GzEncoder::new(out, level)))
            }
        })
    }

    pub(super) fn finish(self) -> io::Result<Artifact> {
        match self {
            Compressor::Plain(w) => w.into_inner().map_err(io::IntoInnerError::into_error)?.finish(),
            Compressor::Zstd(w) => w.into_inner().map_err(io::IntoInnerError::into_error)?.finish()?.finish(),
            Compressor::Gzip(w) => w.into_inner().map_err(io::IntoInnerError::into_error)?.finish()?.finish(),
        }
    }
}

impl Write for Compressor {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Plain(w) => w.write(buf),
            Compressor::Zstd(w) => w.write(buf),
            Compressor::Gzip(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Plain(w) => w.flush(),
            Compressor::Zstd(w) => w.flush(),
            Compressor::Gzip(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blake3_of(data: &[u8]) -> FileHash {
        FileHash { algorithm: HashAlgorithm::Blake3, digest: crate::backup_format::content_hash::Digest(*blake3::hash(data).as_bytes()) }
    }

    /// What `append_body` writes for a file holding `content` whose header said `size`.
    fn body(content: &[u8], size: u64) -> (Vec<u8>, FileHash) {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), content).unwrap();
        let mut out = Vec::new();
        let hash = append_body(&mut out, File::open(tmp.path()).unwrap(), tmp.path(), size, &mut [0; 4]).unwrap();
        (out, hash)
    }

    #[test]
    fn a_body_is_exactly_its_header_size_padded_to_a_block() {
        let (out, hash) = body(b"0123456789", 10);
        assert_eq!(out.len(), 512);
        assert_eq!(&out[..10], b"0123456789");
        assert!(out[10..].iter().all(|&b| b == 0));
        assert_eq!(hash, blake3_of(b"0123456789"));
        assert_eq!(body(&[7; 512], 512).0, [7; 512], "a full block needs no padding");
    }

    #[test]
    fn a_file_that_grew_is_cut_and_one_that_shrank_is_filled_with_zeros() {
        let (grew, hash) = body(b"0123456789", 6);
        assert_eq!(&grew[..7], b"012345\0");
        assert_eq!(hash, blake3_of(b"012345"));

        let (shrank, hash) = body(b"0123", 6);
        assert_eq!((shrank.len(), &shrank[..7]), (512, &b"0123\0\0\0"[..]));
        assert_eq!(hash, blake3_of(b"0123\0\0"), "the hash is of what was stored");
    }
}
