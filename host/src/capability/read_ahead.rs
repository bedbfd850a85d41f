//! A reader that reads its source on a thread of its own, a chunk ahead:
//! the decompressor beside tar when extracting (as `tar -I zstd` runs it),
//! the engine's socket beside the hashing writer when saving images.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, sync_channel};

pub struct ReadAhead {
    chunks: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    read: usize,
}

impl ReadAhead {
    /// Starts reading `source` in chunks of `chunk` bytes, each filled before
    /// it is handed over (a socket gives a few KiB per read; one hand-over
    /// per chunk keeps the wake-ups few), at most 8 chunks ahead.
    pub fn spawn(mut source: impl Read + Send + 'static, chunk: usize) -> ReadAhead {
        let (send, chunks) = sync_channel(8);
        // It stops at the end, at an error, or when the reader is dropped.
        std::thread::spawn(move || {
            loop {
                let mut buffer = vec![0; chunk];
                let result = fill(&mut source, &mut buffer).map(|filled| {
                    buffer.truncate(filled);
                    buffer
                });
                match result {
                    Ok(chunk) if chunk.is_empty() => return,
                    result => {
                        let failed = result.is_err();
                        if send.send(result).is_err() || failed {
                            return;
                        }
                    }
                }
            }
        });
        ReadAhead { chunks, current: Vec::new(), read: 0 }
    }
}

/// Reads until `buffer` is full or `source` ends; returns how much it read.
fn fill(source: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match source.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read == self.current.len() {
            match self.chunks.recv() {
                Ok(chunk) => (self.current, self.read) = (chunk?, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.read);
        buf[..n].copy_from_slice(&self.current[self.read..self.read + n]);
        self.read += n;
        Ok(n)
    }
}
