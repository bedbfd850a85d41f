//! The per-file list written next to an archive (`manifest-dest`): size,
//! mtime, mode and sha256 of every entry, the base of the next incremental
//! and what `verify --restore-test` compares a restore with.
//!
//! On disk it is a JSON object keyed by path (version 1). In memory it is a
//! sorted vector with fixed-size fields: an unchanged incremental reads and
//! writes 100k entries, and a map of owned strings cost it most of that time.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::archive::{Compressor, open_archive};
use super::io_error;
use crate::capability::artifact::AtomicFile;
use crate::plugin::bindings::fs::{Compression, EntryKind};
use crate::plugin::bindings::types::{Artifact, HostError};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FileList {
    pub version: u32,
    /// Sorted by the path as stored in the archive (absolute, without the leading `/`).
    #[serde(serialize_with = "as_map", deserialize_with = "from_map")]
    pub entries: Vec<(String, FileEntry)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub kind: Kind,
    pub size: u64,
    pub mtime_ms: i64,
    pub mode: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<FileHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
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

/// A SHA-256 digest, stored as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FileHash(pub [u8; 32]);

impl FileHash {
    /// Parses 64 hex digits (a table lookup per digit: the `hex` crate's
    /// decoder was the largest single cost of reading a 100k-entry list).
    pub fn from_hex(text: &str) -> Option<FileHash> {
        const INVALID: u8 = 0xff;
        const DIGITS: [u8; 256] = {
            let mut table = [INVALID; 256];
            let mut i = 0;
            while i < 10 {
                table[b'0' as usize + i] = i as u8;
                i += 1;
            }
            let mut i = 0;
            while i < 6 {
                table[b'a' as usize + i] = 10 + i as u8;
                table[b'A' as usize + i] = 10 + i as u8;
                i += 1;
            }
            table
        };
        let text: &[u8; 64] = text.as_bytes().try_into().ok()?;
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let (high, low) = (DIGITS[pair[0] as usize], DIGITS[pair[1] as usize]);
            if high == INVALID || low == INVALID {
                return None;
            }
            *byte = high << 4 | low;
        }
        Some(FileHash(bytes))
    }
}

impl fmt::Display for FileHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; 64];
        hex::encode_to_slice(self.0, &mut text).expect("64 bytes hold 32 in hex");
        f.write_str(std::str::from_utf8(&text).expect("hex is ASCII"))
    }
}

impl fmt::Debug for FileHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for FileHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FileHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FileHash, D::Error> {
        struct HexVisitor;
        impl Visitor<'_> for HexVisitor {
            type Value = FileHash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sha256 in hex")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<FileHash, E> {
                FileHash::from_hex(text).ok_or_else(|| E::custom(format!("`{text}` is not a sha256 in hex")))
            }
        }
        deserializer.deserialize_str(HexVisitor)
    }
}

fn as_map<S: Serializer>(entries: &[(String, FileEntry)], serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(entries.len()))?;
    for (name, entry) in entries {
        map.serialize_entry(name, entry)?;
    }
    map.end()
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

/// Reads a file list, plain or zstd-compressed (told apart by magic bytes).
pub fn read_file_list(path: &Path) -> Result<FileList, HostError> {
    let mut text = Vec::new();
    open_archive(path).and_then(|mut r| r.read_to_end(&mut text)).map_err(|e| io_error(path, e))?;
    serde_json::from_slice(&text).map_err(|e| HostError::Invalid(format!("{} is not a bosun file list: {e}", path.display())))
}

/// Writes a file list; zstd-compressed when the name ends in `.zst` (a list
/// of 100k files shrinks from ~18 MiB to a few, which an unchanged
/// incremental otherwise spends most of its time writing).
pub fn write_file_list(path: &Path, list: &FileList) -> Result<Artifact, HostError> {
    let out = AtomicFile::create(path).map_err(|e| io_error(path, e))?;
    let compression = if path.extension().is_some_and(|e| e == "zst") { Compression::Zstd } else { Compression::None };
    let mut writer = Compressor::new(out, compression, Some(1)).map_err(|e| io_error(path, e))?;
    serde_json::to_writer(&mut writer, list).map_err(|e| HostError::Failed(format!("{}: {e}", path.display())))?;
    writer.finish().map_err(|e| io_error(path, e))
}

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

    fn entry(size: u64) -> FileEntry {
        FileEntry { kind: Kind::File, size, mtime_ms: 1, mode: 0o644, sha256: Some(FileHash([7; 32])), link_target: None }
    }

    #[test]
    fn round_trips_as_a_json_object_and_sorts_a_hand_edited_one() {
        let text = format!(r#"{{"version":1,"entries":{{"b":{{"kind":"dir","size":0,"mtime_ms":5,"mode":493}},"a":{{"kind":"file","size":3,"mtime_ms":1,"mode":420,"sha256":"{}"}}}}}}"#, "07".repeat(32));
        let list: FileList = serde_json::from_str(&text).unwrap();
        assert_eq!(list.entries.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(list.entries[0].1, entry(3));
        assert_eq!(list.entries[1].1.kind, Kind::Dir);
        let again: FileList = serde_json::from_slice(&serde_json::to_vec(&list).unwrap()).unwrap();
        assert_eq!(again.entries, list.entries);
        assert!(serde_json::to_string(&list).unwrap().contains(&format!(r#""a":{{"kind":"file","size":3,"mtime_ms":1,"mode":420,"sha256":"{}"}}"#, "07".repeat(32))));
    }

    #[test]
    fn hashes_parse_from_hex_of_either_case_and_nothing_else() {
        let hash = FileHash(std::array::from_fn(|i| (i * 8) as u8));
        assert_eq!(FileHash::from_hex(&hash.to_string()), Some(hash));
        assert_eq!(FileHash::from_hex(&hash.to_string().to_uppercase()), Some(hash));
        assert_eq!(FileHash::from_hex(&"0".repeat(63)), None);
        assert_eq!(FileHash::from_hex(&format!("{}g", "0".repeat(63))), None);
    }

    #[test]
    fn a_bad_hash_names_itself() {
        let error = serde_json::from_str::<FileList>(r#"{"version":1,"entries":{"a":{"kind":"file","size":3,"mtime_ms":1,"mode":420,"sha256":"zz"}}}"#).unwrap_err();
        assert!(error.to_string().contains("`zz` is not a sha256 in hex"), "{error}");
    }

    #[test]
    fn base_list_takes_in_any_order_once_and_reports_the_rest() {
        let names = ["a", "b", "c", "d"];
        let mut base = BaseList::new(FileList { version: 1, entries: names.iter().enumerate().map(|(i, n)| (n.to_string(), entry(i as u64))).collect() });
        assert_eq!(base.take("a").map(|e| e.size), Some(0));
        assert_eq!(base.take("b").map(|e| e.size), Some(1));
        assert_eq!(base.take("d").map(|e| e.size), Some(3));
        assert_eq!(base.take("b"), None, "taken already");
        assert_eq!(base.take("x"), None, "never there");
        assert_eq!(base.untaken().collect::<Vec<_>>(), ["c"]);
    }
}
