//! tar archives the host writes for `fs.archive`, with a per-file list (size,
//! mtime, mode, sha256) for incrementals and verify.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{entry_of, io_error};
use crate::capability::artifact::AtomicFile;
use crate::plugin::bindings::fs::{ArchiveResult, Compression, Entry, EntryKind};
use crate::plugin::bindings::types::{Artifact, HostError};

/// The file list written next to an archive (`manifest-dest`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FileList {
    pub version: u32,
    /// Keyed by the path as stored in the archive (absolute, without the leading `/`).
    pub entries: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub kind: String,
    pub size: u64,
    pub mtime_ms: i64,
    pub mode: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}

pub struct ArchiveJob {
    pub sources: Vec<PathBuf>,
    pub excludes: globset::GlobSet,
    pub dest: PathBuf,
    pub compression: Compression,
    pub level: Option<i32>,
    pub since: Option<PathBuf>,
    pub manifest_dest: Option<PathBuf>,
}

impl ArchiveJob {
    pub fn run(self) -> Result<ArchiveResult, HostError> {
        // The base's file list is read while the tree is walked and stat'ed.
        let (base, walked) = std::thread::scope(|scope| {
            let base = scope.spawn(|| match &self.since {
                Some(path) => read_file_list(path),
                None => Ok(FileList::default()),
            });
            let walked: Result<Vec<_>, HostError> = self.sources.iter().map(|source| walk(source, &self.excludes).and_then(stat_all)).collect();
            (base.join().expect("the file list reader does not panic"), walked)
        });
        let (mut base, walked) = (base?, walked?);
        let out = AtomicFile::create(&self.dest).map_err(|e| io_error(&self.dest, e))?;
        let mut tar = tar::Builder::new(Compressor::new(out, self.compression, self.level).map_err(|e| io_error(&self.dest, e))?);
        tar.follow_symlinks(false);
        let mut listed = Vec::new();
        let mut written = 0u64;
        for (path, entry) in walked.into_iter().flatten() {
            let (name, record, was_written) = self.add(&mut tar, &path, entry, &mut base)?;
            written += u64::from(was_written);
            listed.push((name, record));
        }
        let compressor = tar.into_inner().map_err(|e| io_error(&self.dest, e))?;
        let archive = compressor.finish().map_err(|e| io_error(&self.dest, e))?;
        // What `add` did not take out of the base is gone from the tree.
        let deleted = base.entries.into_keys().map(|k| format!("/{k}")).collect();
        let list = FileList { version: 1, entries: listed.into_iter().collect() };
        let manifest = match &self.manifest_dest {
            Some(path) => Some(write_file_list(path, &list)?),
            None => None,
        };
        Ok(ArchiveResult { archive, manifest, entries: written, deleted })
    }

    /// Adds one entry unless it is an unchanged file of an incremental, and
    /// takes it out of `base`. Returns its name and record for the new list,
    /// and whether it was written.
    fn add(&self, tar: &mut tar::Builder<Compressor>, path: &Path, entry: Entry, base: &mut FileList) -> Result<(String, FileEntry, bool), HostError> {
        let name = path.to_string_lossy().trim_start_matches('/').to_string();
        let old = base.entries.remove(&name);
        let mut record = FileEntry {
            kind: kind_name(entry.kind).to_string(),
            size: entry.size,
            mtime_ms: entry.mtime_ms,
            mode: entry.mode,
            sha256: None,
            link_target: entry.link_target,
        };
        if entry.kind != EntryKind::File {
            tar.append_path_with_name(path, &name).map_err(|e| io_error(path, e))?;
            return Ok((name, record, true));
        }
        if let Some(old) = old {
            let same_stat = old.size == record.size && old.mtime_ms == record.mtime_ms;
            // A changed size/mtime is confirmed by hash before the file counts
            // as changed; a changed mode (chmod keeps the mtime) always counts.
            let unchanged = old.mode == record.mode
                && (same_stat || old.sha256.as_ref() == Some(&crate::capability::artifact::sha256_file(path).map_err(|e| io_error(path, e))?));
            if unchanged {
                record.sha256 = old.sha256;
                return Ok((name, record, false));
            }
        }
        let file = File::open(path).map_err(|e| io_error(path, e))?;
        let meta = file.metadata().map_err(|e| io_error(path, e))?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        let mut reader = HashingReader { inner: BufReader::with_capacity(256 * 1024, file), hasher: Sha256::new() };
        tar.append_data(&mut header, &name, &mut reader).map_err(|e| io_error(path, e))?;
        record.sha256 = Some(hex::encode(reader.hasher.finalize()));
        Ok((name, record, true))
    }
}

/// Each path with its entry, stat'ed on every core (the walk of a large,
/// mostly unchanged tree is mostly waiting on these calls), in order.
fn stat_all(paths: Vec<PathBuf>) -> Result<Vec<(PathBuf, Entry)>, HostError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = paths.len().div_ceil(threads).max(1024);
    let stat_chunk = |chunk: &[PathBuf]| chunk.iter().map(|p| entry_of(p).map(|e| (p.clone(), e)).map_err(|e| io_error(p, e))).collect::<Result<Vec<_>, _>>();
    let chunks: Vec<Result<Vec<_>, HostError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths.chunks(chunk).map(|c| scope.spawn(move || stat_chunk(c))).collect();
        handles.into_iter().map(|h| h.join().expect("stat does not panic")).collect()
    });
    let mut all = Vec::with_capacity(paths.len());
    for chunk in chunks {
        all.extend(chunk?);
    }
    Ok(all)
}

/// `root` itself, then everything below it (not following symlinks), sorted,
/// minus paths whose part relative to `root` matches an exclude glob. File
/// types come from the directory entries, so this costs no stat per file.
fn walk(root: &Path, excludes: &globset::GlobSet) -> Result<Vec<PathBuf>, HostError> {
    let mut out = vec![root.to_path_buf()];
    let root_is_dir = std::fs::symlink_metadata(root).map_err(|e| io_error(root, e))?.is_dir();
    let mut pending = if root_is_dir { vec![root.to_path_buf()] } else { Vec::new() };
    while let Some(dir) = pending.pop() {
        for item in std::fs::read_dir(&dir).map_err(|e| io_error(&dir, e))? {
            let item = item.map_err(|e| io_error(&dir, e))?;
            let child = item.path();
            let relative = child.strip_prefix(root).unwrap_or(&child);
            if excludes.is_match(relative) {
                continue;
            }
            if item.file_type().map_err(|e| io_error(&child, e))?.is_dir() {
                pending.push(child.clone());
            }
            out.push(child);
        }
    }
    // Byte order keeps every directory before its contents and is much
    // cheaper than comparing path components.
    out[1..].sort_unstable_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
    Ok(out)
}

/// Reads a file list, plain or zstd-compressed (told apart by magic bytes).
pub fn read_file_list(path: &Path) -> Result<FileList, HostError> {
    let mut text = Vec::new();
    open_archive(path).and_then(|mut r| r.read_to_end(&mut text)).map_err(|e| io_error(path, e))?;
    serde_json::from_slice(&text).map_err(|e| HostError::Invalid(format!("{} is not a bosun file list: {e}", path.display())))
}

/// Writes a file list; zstd-compressed when the name ends in `.zst` (a list
/// of 100k files shrinks from ~15 MiB to a few, which an unchanged
/// incremental otherwise spends most of its time writing).
fn write_file_list(path: &Path, list: &FileList) -> Result<Artifact, HostError> {
    let out = AtomicFile::create(path).map_err(|e| io_error(path, e))?;
    let compression = if path.extension().is_some_and(|e| e == "zst") { Compression::Zstd } else { Compression::None };
    let mut writer = Compressor::new(out, compression, Some(1)).map_err(|e| io_error(path, e))?;
    serde_json::to_writer(&mut writer, list).map_err(|e| HostError::Failed(format!("{}: {e}", path.display())))?;
    writer.finish().map_err(|e| io_error(path, e))
}

/// The WIT names of entry kinds, as `files.json` stores them.
pub fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::File => "file",
        EntryKind::Dir => "dir",
        EntryKind::Symlink => "symlink",
        EntryKind::Other => "other",
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The compression layer between tar and the atomic file. Each is buffered:
/// tar headers and JSON come in small writes, and every write into the
/// multithreaded zstd encoder takes its locks.
enum Compressor {
    Plain(BufWriter<AtomicFile>),
    Zstd(BufWriter<zstd::Encoder<'static, AtomicFile>>),
    Gzip(BufWriter<flate2::write::GzEncoder<AtomicFile>>),
}

const WRITE_BUFFER: usize = 1 << 20;

impl Compressor {
    fn new(out: AtomicFile, compression: Compression, level: Option<i32>) -> io::Result<Compressor> {
        Ok(match compression {
            Compression::None => Compressor::Plain(BufWriter::with_capacity(WRITE_BUFFER, out)),
            Compression::Zstd => {
                let mut encoder = zstd::Encoder::new(out, level.unwrap_or(1))?;
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
                encoder.multithread(threads)?;
                Compressor::Zstd(BufWriter::with_capacity(WRITE_BUFFER, encoder))
            }
            Compression::Gzip => {
                let level = flate2::Compression::new(level.unwrap_or(1).clamp(0, 9) as u32);
                Compressor::Gzip(BufWriter::with_capacity(WRITE_BUFFER, flate2::write::GzEncoder::new(out, level)))
            }
        })
    }

    fn finish(self) -> io::Result<Artifact> {
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

/// Opens an archive, detecting zstd or gzip by magic bytes.
pub fn open_archive(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    let mut file = BufReader::with_capacity(1 << 20, File::open(path)?);
    let magic = io::BufRead::fill_buf(&mut file)?;
    Ok(if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::Decoder::with_buffer(file)?)
    } else if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    })
}
