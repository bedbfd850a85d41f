//! Where an exec's stdout goes.

use bytes::Bytes;

use super::file_sink::FileSink;
use crate::bindings::types::{Artifact, HostError};

/// Stdout kept from an exec without `stdout-to`, and the stderr tail kept always.
pub(super) const EXEC_OUTPUT_LIMIT: usize = 64 * 1024;

/// Where an exec's stdout goes: a host file, or memory up to the limit.
pub(super) enum ExecStdout {
    File(FileSink),
    Kept(Vec<u8>),
}

impl ExecStdout {
    pub(super) async fn push(&mut self, data: Bytes) -> Result<(), HostError> {
        match self {
            ExecStdout::File(sink) => sink.write(data).await,
            ExecStdout::Kept(kept) => {
                let room = EXEC_OUTPUT_LIMIT.saturating_sub(kept.len()).min(data.len());
                kept.extend_from_slice(&data[..room]);
                Ok(())
            }
        }
    }

    pub(super) async fn finish(self) -> Result<(String, Option<Artifact>), HostError> {
        match self {
            ExecStdout::File(sink) => Ok((String::new(), Some(sink.finish().await?))),
            ExecStdout::Kept(kept) => Ok((String::from_utf8_lossy(&kept).into_owned(), None)),
        }
    }

    pub(super) async fn abandon(self) {
        if let ExecStdout::File(sink) = self {
            sink.abandon().await;
        }
    }
}
