//! The per-file list written next to an archive (`manifest-dest`): size,
//! mtime, mode and content hash of every entry, the base of the next
//! incremental and what `verify --restore-test` compares a restore with.
//!
//! On disk it is a JSON object keyed by path; version 2 hashes with BLAKE3,
//! version 1 with SHA-256 (see `content_hash`). In memory it is a
//! sorted vector with fixed-size fields: an unchanged incremental reads and
//! writes 100k entries, and a map of owned strings cost it most of that time.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::archive::{compression_workers, decompressed};
use super::content_hash::{Digest, FileHash, HashAlgorithm};
use super::io_error;
use crate::capability::artifact::AtomicFile;
use crate::plugin::bindings::fs::EntryKind;
use crate::plugin::bindings::types::{Artifact, HostError};

#[derive(Debug, Default, Deserialize)]
pub struct FileList {
    pub version: u32,
    /// Sorted by the path as stored in the archive (absolute, without the leading `/`).
    #[serde(deserialize_with = "from_map")]
    pub entries: Vec<(String, FileEntry)>,
}

/// The version this bosun writes, and the newest it reads.
pub const FILE_LIST_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredEntry", into = "StoredEntry")]
pub struct FileEntry {
    pub kind: Kind,
    pub size: u64,
    pub mtime_ms: i64,
    pub mode: u32,
    /// Files only.
    pub hash: Option<FileHash>,
    pub link_target: Option<String>,
}

/// An entry as stored: the hash under its algorithm's name.
#[derive(Serialize, Deserialize)]
struct StoredEntry {
    kind: Kind,
    size: u64,
    mtime_ms: i64,
    mode: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blake3: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link_target: Option<String>,
}

impl From<StoredEntry> for FileEntry {
    fn from(stored: StoredEntry) -> FileEntry {
        let hash = match (stored.blake3, stored.sha256) {
            (Some(digest), _) => Some(FileHash { algorithm: HashAlgorithm::Blake3, digest }),
            (None, Some(digest)) => Some(FileHash { algorithm: HashAlgorithm::Sha256, digest }),
            (None, None) => None,
        };
        FileEntry { kind: stored.kind, size: stored.size, mtime_ms: stored.mtime_ms, mode: stored.mode, hash, link_target: stored.link_target }
    }
}

impl From<FileEntry> for StoredEntry {
    fn from(entry: FileEntry) -> StoredEntry {
        let digest_for = |algorithm| entry.hash.filter(|h| h.algorithm == algorithm).map(|h| h.digest);
        StoredEntry {
            kind: entry.kind,
            size: entry.size,
            mtime_ms: entry.mtime_ms,
            mode: entry.mode,
            sha256: digest_for(HashAlgorithm::Sha256),
            blake3: digest_for(HashAlgorithm::Blake3),
            link_target: entry.link_target,
        }
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

impl From<EntryKind> for Kind {
    fn from(kind: EntryKind) -> Kind {
        match kind {
            EntryKind::File => Kind::File,
            EntryKind::Dir => Kind::Dir,
            EntryKind::Symlink => Kind::Symlink,
            EntryKind::Other => Kind::Other,
        }
    }
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

fn from_map<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, FileEntry)>, D::Error> {
    struct EntriesVisitor;
    impl<'de> Visitor<'de> for EntriesVisitor {
        type Value = Vec<(String, FileEntry)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of paths to file entries")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(pair) = map.next_entry()? {
                entries.push(pair);
            }
            Ok(entries)
        }
    }
    let mut entries = deserializer.deserialize_map(EntriesVisitor)?;
    // bosun writes them sorted; a list edited by hand may not be.
    if !entries.is_sorted_by(|a, b| a.0 < b.0) {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
    }
    Ok(entries)
}

/// Reads a file list, plain or zstd-compressed (told apart by magic bytes);
/// refuses one from a newer bosun.
pub fn read_file_list(path: &Path) -> Result<FileList, HostError> {
    let text = read_text(path).map_err(|e| io_error(path, e))?;
    let list: FileList = serde_json::from_slice(&text).map_err(|e| HostError::Invalid(format!("{} is not a bosun file list: {e}", path.display())))?;
    if list.version > FILE_LIST_VERSION {
        return Err(HostError::Invalid(format!(
            "{}: written by a newer bosun (file list version {}, this bosun reads up to {FILE_LIST_VERSION}); upgrade bosun to use this backup",
            path.display(),
            list.version
        )));
    }
    Ok(list)
}

/// Writes a file list; zstd-compressed when the name ends in `.zst` (a list
/// of 100k files shrinks from ~18 MiB to a few, which an unchanged
/// incremental otherwise spends most of its time writing).
pub fn write_file_list(path: &Path, list: &FileList) -> Result<Artifact, HostError> {
    let fail = |e| io_error(path, e);
    let pieces = list_json(list);
    let mut out = AtomicFile::create(path).map_err(fail)?;
    match path.extension().is_some_and(|e| e == "zst") {
        true => out = compress_whole(out, &pieces).map_err(fail)?,
        false => pieces.iter().try_for_each(|piece| out.write_all(piece)).map_err(fail)?,
    }
    out.finish().map_err(fail)
}

/// The list as JSON, in consecutive pieces: the entries are serialized a
/// share per core, side by side (on one thread, 100k entries took a tenth of
/// an unchanged incremental).
fn list_json(list: &FileList) -> Vec<Vec<u8>> {
    let share = list.entries.len().div_ceil(compression_workers() as usize).max(1);
    let entries: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let workers: Vec<_> = list.entries.chunks(share).enumerate().map(|(i, chunk)| scope.spawn(move || entries_json(chunk, i > 0))).collect();
        workers.into_iter().map(|w| w.join().expect("serializing a file list does not panic")).collect()
    });
    let head = format!(r#"{{"version":{},"entries":{{"#, list.version).into_bytes();
    [vec![head], entries, vec![b"}}".to_vec()]].concat()
}

/// About what one file's entry takes as JSON (a path, its figures and a hash
/// in hex); only what is written is touched, so a guess on the high side is free.
const ENTRY_JSON_BYTES: usize = 192;

/// `"name":{entry}` pairs, comma-separated (and after a comma when `after_others`).
fn entries_json(entries: &[(String, FileEntry)], after_others: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * ENTRY_JSON_BYTES);
    for (i, (name, entry)) in entries.iter().enumerate() {
        if i > 0 || after_others {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, name).expect("a string serializes into memory");
        out.push(b':');
        serde_json::to_writer(&mut out, entry).expect("an entry serializes into memory");
    }
    out
}

/// zstd level 1 on every core, in one frame whose header holds the text's
/// size, so that a reader can decompress it in one go into a buffer of
/// exactly that size (streamed, an unchanged incremental spent a quarter of
/// its time reading its base's list).
fn compress_whole(out: AtomicFile, pieces: &[Vec<u8>]) -> io::Result<AtomicFile> {
    let mut encoder = zstd::Encoder::new(out, 1)?;
    encoder.multithread(compression_workers())?;
    encoder.set_pledged_src_size(Some(pieces.iter().map(|piece| piece.len() as u64).sum()))?;
    pieces.iter().try_for_each(|piece| encoder.write_all(piece))?;
    encoder.finish()
}

/// A list's text: decompressed in one go when its zstd header gives a
/// plausible size, else streamed from what was read (lists from before
/// that, gzip, plain).
fn read_text(path: &Path) -> io::Result<Vec<u8>> {
    let raw = std::fs::read(path)?;
    let size = zstd::zstd_safe::get_frame_content_size(&raw).ok().flatten();
    if let Some(size) = size.filter(|&size| size <= raw.len() as u64 * MAX_RATIO) {
        return zstd::bulk::decompress(&raw, size as usize);
    }
    let mut text = Vec::new();
    decompressed(&raw[..])?.read_to_end(&mut text)?;
    Ok(text)
}

/// The most a list is trusted to have shrunk: a size beyond this is not
/// allocated up front (a damaged header must not ask for terabytes).
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
mod tests {
    use super::*;

    fn json(list: &FileList) -> Vec<u8> {
        list_json(list).concat()
    }

    fn entry(size: u64) -> FileEntry {
        let hash = FileHash { algorithm: HashAlgorithm::Blake3, digest: Digest([7; 32]) };
        FileEntry { kind: Kind::File, size, mtime_ms: 1, mode: 0o644, hash: Some(hash), link_target: None }
    }

    #[test]
    fn round_trips_as_a_json_object_and_sorts_a_hand_edited_one() {
        let text = format!(r#"{{"version":2,"entries":{{"b":{{"kind":"dir","size":0,"mtime_ms":5,"mode":493}},"a":{{"kind":"file","size":3,"mtime_ms":1,"mode":420,"blake3":"{}"}}}}}}"#, "07".repeat(32));
        let list: FileList = serde_json::from_str(&text).unwrap();
        assert_eq!(list.entries.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(list.entries[0].1, entry(3));
        assert_eq!(list.entries[1].1.kind, Kind::Dir);
        let again: FileList = serde_json::from_slice(&json(&list)).unwrap();
        assert_eq!(again.entries, list.entries);
        assert!(String::from_utf8(json(&list)).unwrap().contains(&format!(r#""a":{{"kind":"file","size":3,"mtime_ms":1,"mode":420,"blake3":"{}"}}"#, "07".repeat(32))));
    }

    #[test]
    fn a_version_1_list_keeps_its_sha256_hashes_through_a_rewrite() {
        let text = format!(r#"{{"version":1,"entries":{{"a":{{"kind":"file","size":3,"mtime_ms":1,"mode":420,"sha256":"{}"}}}}}}"#, "0A".repeat(32));
        let list: FileList = serde_json::from_str(&text).unwrap();
        let hash = list.entries[0].1.hash.unwrap();
        assert_eq!((hash.algorithm, hash.digest), (HashAlgorithm::Sha256, Digest([10; 32])));
        assert!(String::from_utf8(json(&list)).unwrap().contains(&format!(r#""sha256":"{}""#, "0a".repeat(32))));
    }

    #[test]
    fn a_bad_hash_names_itself() {
        let error = serde_json::from_str::<FileList>(r#"{"version":1,"entries":{"a":{"kind":"file","size":3,"mtime_ms":1,"mode":420,"sha256":"zz"}}}"#).unwrap_err();
        assert!(error.to_string().contains("`zz` is not a 32-byte digest in hex"), "{error}");
    }

    #[test]
    fn a_list_from_a_newer_bosun_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("files.json");
        std::fs::write(&path, r#"{"version":3,"entries":{}}"#).unwrap();
        let HostError::Invalid(message) = read_file_list(&path).unwrap_err() else { panic!("not Invalid") };
        assert!(message.contains("file list version 3, this bosun reads up to 2); upgrade bosun"), "{message}");
    }

    #[test]
    fn a_written_list_carries_its_size_and_a_streamed_one_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let list = FileList { version: 2, entries: (0..1000).map(|i| (format!("srv/data/f{i:04}"), entry(i))).collect() };
        let path = dir.path().join("files.json.zst");
        write_file_list(&path, &list).unwrap();
        let raw = std::fs::read(&path).unwrap();
        let size = zstd::zstd_safe::get_frame_content_size(&raw).unwrap();
        assert_eq!(size, Some(json(&list).len() as u64), "the header holds the text's size");
        assert_eq!(read_file_list(&path).unwrap().entries, list.entries);

        // As bosun wrote lists before: streamed, no size in the header.
        let streamed = dir.path().join("streamed.json.zst");
        std::fs::write(&streamed, zstd::encode_all(&json(&list)[..], 1).unwrap()).unwrap();
        assert_eq!(zstd::zstd_safe::get_frame_content_size(&std::fs::read(&streamed).unwrap()).unwrap(), None);
        assert_eq!(read_file_list(&streamed).unwrap().entries, list.entries);
    }

    #[test]
    fn base_list_takes_in_any_order_once_and_reports_the_rest() {
        let names = ["a", "b", "c", "d"];
        let mut base = BaseList::new(FileList { version: 2, entries: names.iter().enumerate().map(|(i, n)| (n.to_string(), entry(i as u64))).collect() });
        assert_eq!(base.take("a").map(|e| e.size), Some(0));
        assert_eq!(base.take("b").map(|e| e.size), Some(1));
        assert_eq!(base.take("d").map(|e| e.size), Some(3));
        assert_eq!(base.take("b"), None, "taken already");
        assert_eq!(base.take("x"), None, "never there");
        assert_eq!(base.untaken().collect::<Vec<_>>(), ["c"]);
    }
}
