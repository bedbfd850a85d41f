//! `docker save` tarballs: read off the engine's socket, and the image
//! references they hold.

use std::io::{self, BufReader, Read};
use std::path::Path;
use std::time::Instant;

use super::call_engine::ran_out;
use super::file_sink::FileOut;
use super::tar_reader::READ_CHUNK;
use super::socket_get;
use crate::capability::fs::{Place, io_error};
use crate::capability::read_ahead::ReadAhead;
use crate::bindings::types::{Artifact, HostError};

/// The image references in a `docker save` tarball (`RepoTags` in its manifest.json).
pub(super) fn saved_references(file: std::fs::File, path: &Path) -> Result<Vec<String>, HostError> {
    #[derive(serde::Deserialize)]
    struct Saved {
        #[serde(rename = "RepoTags", default)]
        repo_tags: Option<Vec<String>>,
    }
    let mut tar = tar::Archive::new(BufReader::with_capacity(READ_CHUNK, file));
    for entry in tar.entries().map_err(|e| io_error(path, e))? {
        let entry = entry.map_err(|e| io_error(path, e))?;
        if entry.path().is_ok_and(|p| p.as_os_str() == "manifest.json") {
            let saved: Vec<Saved> = serde_json::from_reader(entry)
                .map_err(|e| HostError::Invalid(format!("{}: manifest.json is not a docker save manifest: {e}", path.display())))?;
            return Ok(saved.into_iter().flat_map(|s| s.repo_tags.unwrap_or_default()).collect());
        }
    }
    Err(HostError::Invalid(format!("{}: not a docker save tarball (no manifest.json)", path.display())))
}

/// `docker save` read straight off the local engine's socket into `dest`
/// on this (blocking) thread; see [`socket_get`].
pub(super) fn save_from_socket(socket: &Path, request: &str, deadline: Instant, dest: Place, what: &str) -> Result<Artifact, HostError> {
    let failed = |e: io::Error| match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ran_out(what),
        _ => HostError::Failed(format!("{what}: {e}")),
    };
    let body = match socket_get::get(socket, request, deadline).map_err(failed)? {
        Ok(body) => body,
        Err(refused) if refused.status == 404 => return Err(HostError::NotFound(format!("{what} not found"))),
        Err(refused) => return Err(HostError::Failed(format!("{what}: {}", refused.message))),
    };
    // The socket is read on a thread of its own while this one hashes and
    // writes: read in between the hashing, the engine would stall on a full
    // socket buffer.
    let mut body = ReadAhead::spawn(body, 1 << 20);
    // Dropped unfinished (an error), the temp file is removed.
    let path = dest.shown.clone();
    let mut out = FileOut::create(dest.create()?, false).map_err(|e| io_error(&path, e))?;
    let dest = &path;
    let mut buffer = vec![0; 1 << 20];
    loop {
        match body.read(&mut buffer).map_err(failed)? {
            0 => return out.finish().map_err(|e| io_error(dest, e)),
            read => out.write_all(&buffer[..read]).map_err(|e| io_error(dest, e))?,
        }
    }
}
