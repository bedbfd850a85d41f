//! Host files written from async code.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::capability::artifact::AtomicFile;
use crate::capability::fs::{Place, io_error};
use crate::bindings::types::{Artifact, HostError};

pub(super) enum Chunk {
    /// The engine's chunks as they came, gathered but not copied.
    Data(Vec<Bytes>),
    /// Everything was sent: commit the file.
    End,
}

/// A host file written from async code: chunks go over a channel to a
/// blocking thread that writes them (zstd-compressed if asked) to an
/// [`AtomicFile`]. Only [`finish`](Self::finish) commits it; dropped before
/// (an error, a timeout), the temp file is removed.
pub(super) struct FileSink {
    path: PathBuf,
    chunks: mpsc::Sender<Chunk>,
    writer: JoinHandle<io::Result<Option<Artifact>>>,
    /// Chunks gathered into one send: the engine's stream arrives in pieces
    /// of a few KiB to a few hundred, and each send wakes the writer thread.
    pending: Vec<Bytes>,
    pending_bytes: usize,
}

/// What [`FileSink`] gathers before waking its writer.
const SEND_BATCH: usize = 1 << 20;

impl FileSink {
    /// Creates the temp file at once (so a bad destination fails before any
    /// work starts) and the thread that fills it.
    pub(super) fn create(place: Place, zstd: bool) -> Result<FileSink, HostError> {
        let path = place.shown.clone();
        let mut out = FileOut::create(place.create()?, zstd).map_err(|e| io_error(&path, e))?;
        let (chunks, mut received) = mpsc::channel::<Chunk>(16);
        let writer = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = received.blocking_recv() {
                match chunk {
                    Chunk::Data(batch) => batch.iter().try_for_each(|data| out.write_all(data))?,
                    Chunk::End => return out.finish().map(Some),
                }
            }
            Ok(None)
        });
        Ok(FileSink { path, chunks, writer, pending: Vec::new(), pending_bytes: 0 })
    }

    pub(super) async fn write(&mut self, data: Bytes) -> Result<(), HostError> {
        self.pending_bytes += data.len();
        self.pending.push(data);
        match self.pending_bytes >= SEND_BATCH {
            true => self.send_pending().await,
            false => Ok(()),
        }
    }

    pub(super) async fn send_pending(&mut self) -> Result<(), HostError> {
        self.pending_bytes = 0;
        if self.chunks.send(Chunk::Data(std::mem::take(&mut self.pending))).await.is_err() {
            // The writer stopped early: its result says why.
            return Err(self.writer_failure().await);
        }
        Ok(())
    }

    pub(super) async fn finish(mut self) -> Result<Artifact, HostError> {
        if !self.pending.is_empty() {
            self.send_pending().await?;
        }
        if self.chunks.send(Chunk::End).await.is_err() {
            return Err(self.writer_failure().await);
        }
        match (&mut self.writer).await {
            Ok(Ok(Some(artifact))) => Ok(artifact),
            Ok(Ok(None)) => Err(HostError::Failed(format!("{}: the writer stopped before the end", self.path.display()))),
            Ok(Err(e)) => Err(io_error(&self.path, e)),
            Err(e) => Err(HostError::Failed(format!("{}: writer task failed: {e}", self.path.display()))),
        }
    }

    /// Gives the file up and waits until its temp file is removed.
    pub(super) async fn abandon(self) {
        drop(self.chunks);
        let _ = self.writer.await;
    }

    pub(super) async fn writer_failure(&mut self) -> HostError {
        match (&mut self.writer).await {
            Ok(Err(e)) => io_error(&self.path, e),
            Ok(Ok(_)) => HostError::Failed(format!("{}: the writer stopped early", self.path.display())),
            Err(e) => HostError::Failed(format!("{}: writer task failed: {e}", self.path.display())),
        }
    }
}

/// The compression layer in front of the atomic file.
pub(super) enum FileOut {
    Plain(BufWriter<AtomicFile>),
    Zstd(zstd::Encoder<'static, AtomicFile>),
}

impl FileOut {
    pub(super) fn create(file: AtomicFile, zstd: bool) -> io::Result<FileOut> {
        if !zstd {
            return Ok(FileOut::Plain(BufWriter::with_capacity(1 << 20, file)));
        }
        let mut encoder = zstd::Encoder::new(file, zstd::DEFAULT_COMPRESSION_LEVEL)?;
        encoder.multithread(std::thread::available_parallelism().map_or(1, |n| n.get() as u32))?;
        Ok(FileOut::Zstd(encoder))
    }

    pub(super) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            FileOut::Plain(w) => w.write_all(data),
            FileOut::Zstd(w) => w.write_all(data),
        }
    }

    pub(super) fn finish(self) -> io::Result<Artifact> {
        match self {
            FileOut::Plain(w) => w.into_inner().map_err(|e| e.into_error())?.finish(),
            FileOut::Zstd(w) => w.finish()?.finish(),
        }
    }
}
