//! Versions 1 and 2 of the file list: a JSON object keyed by path. bosun
//! no longer writes them but reads them as bases and for verify.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{FileEntry, Kind};
use crate::backup_format::content_hash::{Digest, FileHash, HashAlgorithm};

/// The newest JSON version; version 3 was the first packed one.
const NEWEST: u32 = 2;

#[derive(Deserialize)]
struct JsonList {
    version: u32,
    #[serde(deserialize_with = "from_map")]
    entries: Vec<(String, FileEntry)>,
}

/// A JSON list's entries, or what is wrong with it.
pub fn decode(text: &[u8]) -> Result<Vec<(String, FileEntry)>, String> {
    let list: JsonList = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    if list.version > NEWEST {
        return Err(format!("it is JSON of version {}, but JSON file lists end at version {NEWEST}", list.version));
    }
    Ok(list.entries)
}

/// An entry as stored: the hash under its algorithm's name.
#[derive(Deserialize)]
struct StoredEntry {
    kind: Kind,
    size: u64,
    mtime_ms: i64,
    mode: u32,
    #[serde(default)]
    sha256: Option<Digest>,
    #[serde(default)]
    blake3: Option<Digest>,
    #[serde(default)]
    link_target: Option<String>,
}

impl From<StoredEntry> for FileEntry {
    fn from(stored: StoredEntry) -> FileEntry {
        let hash = match (stored.blake3, stored.sha256) {
            (Some(digest), _) => Some(FileHash { algorithm: HashAlgorithm::Blake3, digest }),
            (None, Some(digest)) => Some(FileHash { algorithm: HashAlgorithm::Sha256, digest }),
            (None, None) => None,
        };
        FileEntry { kind: stored.kind, size: stored.size, mtime_ms: stored.mtime_ms, mode: stored.mode, owner: None, hash, link_target: stored.link_target }
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
            while let Some((name, stored)) = map.next_entry::<String, StoredEntry>()? {
                entries.push((name, stored.into()));
            }
            Ok(entries)
        }
    }
    deserializer.deserialize_map(EntriesVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_2_list_reads_with_blake3_and_a_version_1_list_with_sha256() {
        let text = format!(r#"{{"version":2,"entries":{{"b":{{"kind":"dir","size":0,"mtime_ms":5,"mode":493}},"a":{{"kind":"file","size":3,"mtime_ms":1,"mode":420,"blake3":"{}"}}}}}}"#, "07".repeat(32));
        let entries = decode(text.as_bytes()).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].0.as_str(), entries[0].1.kind), ("b", Kind::Dir), "in the order written");
        let a = &entries[1].1;
        assert_eq!((a.size, a.mode, a.hash), (3, 0o644, Some(FileHash { algorithm: HashAlgorithm::Blake3, digest: Digest([7; 32]) })));

        let text = format!(r#"{{"version":1,"entries":{{"a":{{"kind":"file","size":3,"mtime_ms":1,"mode":420,"sha256":"{}"}}}}}}"#, "0A".repeat(32));
        let entries = decode(text.as_bytes()).unwrap();
        assert_eq!(entries[0].1.hash, Some(FileHash { algorithm: HashAlgorithm::Sha256, digest: Digest([10; 32]) }));
    }

    #[test]
    fn a_bad_hash_or_a_json_version_past_2_names_itself() {
        let error = decode(br#"{"version":1,"entries":{"a":{"kind":"file","size":3,"mtime_ms":1,"mode":420,"sha256":"zz"}}}"#).unwrap_err();
        assert!(error.contains("`zz` is not a 32-byte digest in hex"), "{error}");
        assert_eq!(decode(br#"{"version":3,"entries":{}}"#).unwrap_err(), "it is JSON of version 3, but JSON file lists end at version 2");
    }
}
