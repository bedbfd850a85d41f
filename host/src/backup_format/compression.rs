//! The compression a backup's archives and file lists are framed in: zstd
//! (or gzip) told apart from plain data by magic bytes when read.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// zstd's worker threads: one per core.
pub fn compression_workers() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// Opens an archive, detecting zstd or gzip by magic bytes.
pub fn open_archive(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    decompressed(BufReader::with_capacity(1 << 20, File::open(path)?))
}

/// What `source` holds, decompressed when it starts with zstd's or gzip's
/// magic bytes, else as it is.
pub fn decompressed<'a>(mut source: impl BufRead + Send + 'a) -> io::Result<Box<dyn Read + Send + 'a>> {
    let magic = source.fill_buf()?;
    Ok(if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::Decoder::with_buffer(source)?)
    } else if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(source))
    } else {
        Box::new(source)
    })
}
