//! The per-file list written next to an archive (`manifest-dest`): size,
//! mtime, mode and content hash of every entry, the base of the next
//! incremental and what `verify --restore-test` compares a restore with.
//!
//! bosun writes version 4, packed binary records (see `packed`; version 4
//! added owners to version 3); it reads those and the JSON of versions 1
//! and 2 (see `json`), told apart by the packed list's magic bytes. Version 2 on hash with BLAKE3, version 1
//! with SHA-256 (see `content_hash`). In memory a list is a sorted vector
//! with fixed-size fields: an unchanged incremental reads and writes 100k
//! entries, and a map of owned strings cost it most of that time.

mod json;
pub(crate) mod packed;

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::compression::{compression_workers, decompressed};
use super::content_hash::FileHash;

#[derive(Debug, Default)]
pub struct FileList {
    /// Sorted by the path as stored in the archive (absolute, without the leading `/`).
    pub entries: Vec<(String, FileEntry)>,
}

/// The version this bosun writes, and the newest it reads.
pub const FILE_LIST_VERSION: u32 = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    pub kind: Kind,
    pub size: u64,
    pub mtime_ms: i64,
    pub mode: u32,
    /// Lists before version 4 do not record it.
    pub owner: Option<Owner>,
    /// Files only.
    pub hash: Option<FileHash>,
    pub link_target: Option<String>,
}

/// Who owns an entry, by number (as `ls -n` shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

/// Entry kinds under their WIT names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Other => "other",
        })
    }
}

/// Why a file list could not be read: the file itself, or what it holds.
#[derive(Debug)]
pub enum ListError {
    Io(io::Error),
    /// Not a file list, a damaged one, or one from a newer bosun; the message
    /// names the file and what to do.
    Invalid(String),
}

/// Reads a file list, plain or zstd-compressed (told apart by magic bytes),
/// packed or JSON, from `file` (`path` is where it is); refuses one from a
/// newer bosun.
pub fn read_list(file: File, path: &Path) -> Result<FileList, ListError> {
    let bytes = read_decompressed(file).map_err(ListError::Io)?;
    let mut entries = match packed::version_of(&bytes) {
        Some(version) if version > FILE_LIST_VERSION => {
            return Err(ListError::Invalid(format!(
                "{}: written by a newer bosun (file list version {version}, this bosun reads up to {FILE_LIST_VERSION}); upgrade bosun to use this backup",
                path.display()
            )));
        }
        Some(_) => packed::decode(&bytes).map_err(|e| {
            ListError::Invalid(format!(
                "{} is a damaged bosun file list: {e}; `bosun backup verify` names a damaged artifact, and a new full backup starts afresh",
                path.display()
            ))
        })?,
        None => json::decode(&bytes).map_err(|e| ListError::Invalid(format!("{} is not a bosun file list: {e}", path.display())))?,
    };
    // bosun writes them sorted; a list edited by hand may not be.
    if !entries.is_sorted_by(|a, b| a.0 < b.0) {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
    }
    Ok(FileList { entries })
}

/// Writes a file list (packed, of this bosun's version) to `out`,
/// zstd-compressed when `compressed`, and gives `out` back.
pub fn write_list<W: Write>(mut out: W, compressed: bool, entries: &[(String, FileEntry)]) -> io::Result<W> {
    let packed = packed::encode(FILE_LIST_VERSION, entries);
    match compressed {
        true => out = compress_whole(out, &packed)?,
        false => out.write_all(&packed)?,
    }
    Ok(out)
}

/// zstd level 1 on every core, in one frame whose header holds the list's
/// size, so that a reader can decompress it in one go into a buffer of
/// exactly that size (streamed, an unchanged incremental spent a quarter of
/// its time reading its base's list).
fn compress_whole<W: Write>(out: W, list: &[u8]) -> io::Result<W> {
    let mut encoder = zstd::Encoder::new(out, 1)?;
    encoder.multithread(compression_workers())?;
    encoder.set_pledged_src_size(Some(list.len() as u64))?;
    encoder.write_all(list)?;
    encoder.finish()
}

/// A list's bytes: decompressed in one go when its zstd header gives a
/// plausible size, else streamed from what was read (lists from before
/// that, gzip, plain).
fn read_decompressed(mut file: File) -> io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    file.read_to_end(&mut raw)?;
    let limit = raw.len() as u64 * MAX_RATIO;
    let size = zstd::zstd_safe::get_frame_content_size(&raw).ok().flatten();
    if let Some(size) = size.filter(|&size| size <= limit) {
        return zstd::bulk::decompress(&raw, size as usize);
    }
    let mut bytes = Vec::new();
    decompressed(&raw[..])?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("it decompresses to more than {MAX_RATIO} times its size (damaged)")));
    }
    Ok(bytes)
}

/// The most a list is trusted to have shrunk: a damaged header must not ask
/// for terabytes up front, nor a damaged stream fill memory.
const MAX_RATIO: u64 = 64;

/// The base list of an incremental, consumed in walk order: each lookup
/// tries the entry after the previous one before searching.
pub struct BaseList {
    entries: Vec<(String, FileEntry)>,
    taken: Vec<bool>,
    next: usize,
}

impl BaseList {
    pub fn new(list: FileList) -> BaseList {
        BaseList { taken: vec![false; list.entries.len()], entries: list.entries, next: 0 }
    }

    /// The entry named `name`, unless an earlier call took it.
    pub fn take(&mut self, name: &str) -> Option<&FileEntry> {
        let at = match self.entries.get(self.next) {
            Some((next, _)) if next == name => self.next,
            _ => self.entries.binary_search_by(|(k, _)| k.as_str().cmp(name)).ok()?,
        };
        self.next = at + 1;
        (!std::mem::replace(&mut self.taken[at], true)).then(|| &self.entries[at].1)
    }

    /// The names no call took: gone from the tree since the base.
    pub fn untaken(self) -> impl Iterator<Item = String> {
        self.entries.into_iter().zip(self.taken).filter(|(_, taken)| !taken).map(|((name, _), _)| name)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::backup_format::content_hash::{Digest, HashAlgorithm};

    pub(crate) fn entry(size: u64) -> FileEntry {
        let hash = FileHash { algorithm: HashAlgorithm::Blake3, digest: Digest([7; 32]) };
        FileEntry { kind: Kind::File, size, mtime_ms: 1, mode: 0o644, owner: Some(Owner { uid: 999, gid: 998 }), hash: Some(hash), link_target: None }
    }

    pub(crate) fn entries(count: u64) -> Vec<(String, FileEntry)> {
        (0..count).map(|i| (format!("srv/data/f{i:04}"), entry(i))).collect()
    }

    #[test]
    fn base_list_takes_in_any_order_once_and_reports_the_rest() {
        let names = ["a", "b", "c", "d"];
        let mut base = BaseList::new(FileList { entries: names.iter().enumerate().map(|(i, n)| (n.to_string(), entry(i as u64))).collect() });
        assert_eq!(base.take("a").map(|e| e.size), Some(0));
        assert_eq!(base.take("b").map(|e| e.size), Some(1));
        assert_eq!(base.take("d").map(|e| e.size), Some(3));
        assert_eq!(base.take("b"), None, "taken already");
        assert_eq!(base.take("x"), None, "never there");
        assert_eq!(base.untaken().collect::<Vec<_>>(), ["c"]);
    }
}
