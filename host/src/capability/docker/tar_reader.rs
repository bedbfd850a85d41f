//! Host tar files streamed to the engine.

use std::io::{self, BufRead, BufReader, Read};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Chunks read from host files for uploads.
pub(super) const READ_CHUNK: usize = 256 * 1024;

/// Reads a host tar file as a stream of chunks on a blocking thread, decoding
/// zstd (recognised by its magic bytes; the engine itself takes plain, gzip,
/// bzip2 and xz tars). A read error ends the stream with an error, which
/// aborts the upload, and is also the reader task's result.
pub(super) fn tar_reader(file: std::fs::File) -> (impl Stream<Item = io::Result<Bytes>> + Send + 'static, JoinHandle<io::Result<()>>) {
    let (chunks, mut received) = mpsc::channel::<io::Result<Bytes>>(16);
    let reader = tokio::task::spawn_blocking(move || {
        let result = (|| -> io::Result<()> {
            let mut input = decoded(file)?;
            loop {
                let mut buf = vec![0u8; READ_CHUNK];
                let n = input.read(&mut buf)?;
                buf.truncate(n);
                // A closed channel means the upload gave up; its error is reported.
                if n == 0 || chunks.blocking_send(Ok(buf.into())).is_err() {
                    return Ok(());
                }
            }
        })();
        if let Err(e) = &result {
            let _ = chunks.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
        }
        result
    });
    (futures_util::stream::poll_fn(move |cx| received.poll_recv(cx)), reader)
}

pub(super) fn decoded(file: std::fs::File) -> io::Result<Box<dyn Read + Send>> {
    let mut input = BufReader::with_capacity(1 << 20, file);
    let zstd = input.fill_buf()?.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    Ok(if zstd { Box::new(zstd::Decoder::with_buffer(input)?) } else { Box::new(input) })
}
