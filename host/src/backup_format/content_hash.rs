//! Content hashes of the files in a file list. Lists written since version 2
//! hash with BLAKE3, which runs over file data several times faster than
//! SHA-256 (the per-file hash was a quarter of a full backup's CPU time);
//! version 1 lists hold SHA-256. Each hash carries its algorithm, so an
//! incremental over an older base keeps the base's hash of an unchanged file
//! and checks a changed one with the same algorithm.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use sha2::Digest as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha256,
    Blake3,
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Blake3 => "blake3",
        })
    }
}

/// A 32-byte digest: shown as lowercase hex, and stored as hex in JSON file lists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Digest(pub [u8; 32]);

/// A file's content hash: `blake3:<hex>` when shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHash {
    pub algorithm: HashAlgorithm,
    pub digest: Digest,
}

impl FileHash {
    /// The hash of the file at `path`, streamed.
    pub fn of_file(algorithm: HashAlgorithm, path: &Path) -> io::Result<FileHash> {
        FileHash::of_reader(algorithm, File::open(path)?)
    }

    /// The hash of everything `source` yields.
    pub fn of_reader(algorithm: HashAlgorithm, mut source: impl Read) -> io::Result<FileHash> {
        let mut hasher = ContentHasher::new(algorithm);
        let mut buffer = vec![0; 256 * 1024];
        loop {
            match source.read(&mut buffer) {
                Ok(0) => return Ok(hasher.finish()),
                Ok(read) => hasher.update(&buffer[..read]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl fmt::Display for FileHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.digest)
    }
}

/// A hash being computed over data that arrives in pieces.
pub enum ContentHasher {
    Sha256(sha2::Sha256),
    Blake3(Box<blake3::Hasher>),
}

impl ContentHasher {
    pub fn new(algorithm: HashAlgorithm) -> ContentHasher {
        match algorithm {
            HashAlgorithm::Sha256 => ContentHasher::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Blake3 => ContentHasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            ContentHasher::Sha256(hasher) => hasher.update(data),
            ContentHasher::Blake3(hasher) => {
                hasher.update(data);
            }
        }
    }

    pub fn finish(self) -> FileHash {
        match self {
            ContentHasher::Sha256(hasher) => FileHash { algorithm: HashAlgorithm::Sha256, digest: Digest(hasher.finalize().into()) },
            ContentHasher::Blake3(hasher) => FileHash { algorithm: HashAlgorithm::Blake3, digest: Digest(*hasher.finalize().as_bytes()) },
        }
    }
}

impl Digest {
    /// Parses 64 hex digits (a table lookup per digit: the `hex` crate's
    /// decoder was the largest single cost of reading a 100k-entry list).
    pub fn from_hex(text: &str) -> Option<Digest> {
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
        Some(Digest(bytes))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; 64];
        hex::encode_to_slice(self.0, &mut text).expect("64 bytes hold 32 in hex");
        f.write_str(std::str::from_utf8(&text).expect("hex is ASCII"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        struct HexVisitor;
        impl Visitor<'_> for HexVisitor {
            type Value = Digest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 32-byte digest in hex")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Digest, E> {
                Digest::from_hex(text).ok_or_else(|| E::custom(format!("`{text}` is not a 32-byte digest in hex")))
            }
        }
        deserializer.deserialize_str(HexVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_from_hex_of_either_case_and_nothing_else() {
        let digest = Digest(std::array::from_fn(|i| (i * 8) as u8));
        assert_eq!(Digest::from_hex(&digest.to_string()), Some(digest));
        assert_eq!(Digest::from_hex(&digest.to_string().to_uppercase()), Some(digest));
        assert_eq!(Digest::from_hex(&"0".repeat(63)), None);
        assert_eq!(Digest::from_hex(&format!("{}g", "0".repeat(63))), None);
    }

    #[test]
    fn a_file_hashes_the_same_streamed_as_in_one_piece_with_either_algorithm() {
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &data).unwrap();
        let sha256 = FileHash::of_file(HashAlgorithm::Sha256, file.path()).unwrap();
        assert_eq!(sha256.digest.0, <[u8; 32]>::from(<sha2::Sha256 as sha2::Digest>::digest(&data)));
        let blake3 = FileHash::of_file(HashAlgorithm::Blake3, file.path()).unwrap();
        assert_eq!(blake3.digest.0, *blake3::hash(&data).as_bytes());
        assert_eq!(blake3.to_string(), format!("blake3:{}", blake3::hash(&data).to_hex()));
    }
}
