//! The backup file list (`crate::backup_format::file_list`) as the fs host
//! calls read and write it: from a path or an open file, written through an
//! [`AtomicFile`], its failures as [`HostError`]s.

use std::fs::File;
use std::path::Path;

use super::io_error;
use crate::backup_format::file_list::{FileEntry, FileList, Kind, ListError, read_list, write_list};
use crate::capability::artifact::AtomicFile;
use crate::bindings::fs::EntryKind;
use crate::bindings::types::{Artifact, HostError};

/// Reads a file list, plain or zstd-compressed (told apart by magic bytes),
/// packed or JSON; refuses one from a newer bosun.
pub fn read_file_list(path: &Path) -> Result<FileList, HostError> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    read_file_list_from(file, path)
}

/// [`read_file_list`] of a file already open (`path` is where it is).
pub fn read_file_list_from(file: File, path: &Path) -> Result<FileList, HostError> {
    read_list(file, path).map_err(|e| match e {
        ListError::Io(e) => io_error(path, e),
        ListError::Invalid(message) => HostError::Invalid(message),
    })
}

/// Writes a file list (packed, of this bosun's version); zstd-compressed
/// when the name ends in `.zst`.
pub fn write_file_list(out: AtomicFile, entries: &[(String, FileEntry)]) -> Result<Artifact, HostError> {
    let path = out.dest().to_path_buf();
    let fail = |e| io_error(&path, e);
    let compressed = path.extension().is_some_and(|e| e == "zst");
    write_list(out, compressed, entries).map_err(fail)?.finish().map_err(fail)
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::backup_format::file_list::tests::{entries, entry};
    use crate::backup_format::file_list::{FILE_LIST_VERSION, packed};

    #[test]
    fn a_written_list_is_packed_in_one_zstd_frame_that_carries_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("files.list.zst");
        write_file_list(AtomicFile::create(&path).unwrap(), &entries(1000)).unwrap();
        let raw = std::fs::read(&path).unwrap();
        let size = zstd::zstd_safe::get_frame_content_size(&raw).unwrap();
        assert_eq!(size, Some(packed::encode(FILE_LIST_VERSION, &entries(1000)).len() as u64), "the header holds the list's size");
        assert_eq!(read_file_list(&path).unwrap().entries, entries(1000));

        let plain = dir.path().join("files.list");
        write_file_list(AtomicFile::create(&plain).unwrap(), &entries(3)).unwrap();
        assert_eq!(packed::version_of(&std::fs::read(&plain).unwrap()), Some(4), "no .zst, no compression");
    }

    #[test]
    fn json_lists_read_streamed_compressed_or_plain_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(r#"{{"version":2,"entries":{{"b":{{"kind":"dir","size":0,"mtime_ms":5,"mode":493}},"a":{{"kind":"file","size":3,"mtime_ms":1,"mode":420,"blake3":"{}"}},"a":{{"kind":"dir","size":0,"mtime_ms":5,"mode":493}}}}}}"#, "07".repeat(32));
        // As bosun wrote lists before version 3: streamed (no size in the header), or plain.
        let streamed = dir.path().join("files.json.zst");
        std::fs::write(&streamed, zstd::encode_all(text.as_bytes(), 1).unwrap()).unwrap();
        assert_eq!(zstd::zstd_safe::get_frame_content_size(&std::fs::read(&streamed).unwrap()).unwrap(), None);
        let plain = dir.path().join("files.json");
        std::fs::write(&plain, &text).unwrap();
        for path in [streamed, plain] {
            let list = read_file_list(&path).unwrap();
            assert_eq!(list.entries.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["a", "b"], "sorted, one entry per name");
            assert_eq!(list.entries[0].1, FileEntry { owner: None, ..entry(3) }, "JSON lists have no owners");
        }
    }

    #[test]
    fn a_list_from_a_newer_bosun_or_a_damaged_one_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("files.list");
        let mut newer = packed::encode(5, &entries(2));
        std::fs::write(&path, &newer).unwrap();
        let HostError::Invalid(message) = read_file_list(&path).unwrap_err() else { panic!("not Invalid") };
        assert!(message.contains("file list version 5, this bosun reads up to 4); upgrade bosun"), "{message}");

        newer.truncate(newer.len() - 10);
        newer[16] = 4;
        std::fs::write(&path, &newer).unwrap();
        let HostError::Invalid(message) = read_file_list(&path).unwrap_err() else { panic!("not Invalid") };
        assert!(message.contains("files.list is a damaged bosun file list: entry 1 of 2: the list ends inside it (truncated); `bosun backup verify`"), "{message}");

        // A stream (no size in its header) that would fill memory: 64 MiB of zeros in a few KiB.
        let mut encoder = zstd::Encoder::new(Vec::new(), 1).unwrap();
        let zeros = vec![0; 1 << 20];
        (0..64).for_each(|_| encoder.write_all(&zeros).unwrap());
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        let HostError::Failed(message) = read_file_list(&path).unwrap_err() else { panic!("not Failed") };
        assert!(message.ends_with("files.list: it decompresses to more than 64 times its size (damaged)"), "{message}");
    }
}
