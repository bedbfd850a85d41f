//! A reader that reads its source on a thread of its own, a chunk ahead:
//! the decompressor beside tar when extracting (as `tar -I zstd` runs it),
//! the engine's socket beside the hashing writer when saving images.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, Sender, channel, sync_channel};

pub struct ReadAhead {
    chunks: Receiver<io::Result<(Vec<u8>, usize)>>,
    /// Read chunks go back to the reading thread, so no chunk is allocated
    /// (and page-faulted in) more than once.
    spent: Sender<Vec<u8>>,
    current: Vec<u8>,
    len: usize,
    read: usize,
}

impl ReadAhead {
    /// Starts reading `source` in chunks of `chunk` bytes, each filled before
    /// it is handed over (a socket gives a few KiB per read; one hand-over
    /// per chunk keeps the wake-ups few), at most 8 chunks ahead.
    pub fn spawn(mut source: impl Read + Send + 'static, chunk: usize) -> ReadAhead {
        let (send, chunks) = sync_channel(8);
        let (spent, reusable) = channel::<Vec<u8>>();
        // It stops at the end, at an error, or when the reader is dropped.
        std::thread::spawn(move || {
            loop {
                let mut buffer = reusable.try_recv().ok().filter(|b| b.len() == chunk).unwrap_or_else(|| vec![0; chunk]);
                match fill(&mut source, &mut buffer) {
                    Ok(0) => return,
                    result => {
                        let failed = result.is_err();
                        if send.send(result.map(|len| (buffer, len))).is_err() || failed {
                            return;
                        }
                    }
                }
            }
        });
        ReadAhead { chunks, spent, current: Vec::new(), len: 0, read: 0 }
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
        if self.read == self.len {
            match self.chunks.recv() {
                Ok(chunk) => {
                    let (next, len) = chunk?;
                    let _ = self.spent.send(std::mem::replace(&mut self.current, next));
                    (self.len, self.read) = (len, 0);
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.len - self.read);
        buf[..n].copy_from_slice(&self.current[self.read..self.read + n]);
        self.read += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_arrives_across_many_reused_chunks() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut read = Vec::new();
        ReadAhead::spawn(io::Cursor::new(data.clone()), 64).read_to_end(&mut read).unwrap();
        assert_eq!(read, data);
    }

    #[test]
    fn a_read_error_reaches_the_reader() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let error = ReadAhead::spawn(Failing, 64).read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(error.to_string(), "disk on fire");
    }
}
