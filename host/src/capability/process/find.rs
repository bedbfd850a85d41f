//! Finds running processes for a plugin, with bosun's one finder ([`crate::procs`]).

use std::path::PathBuf;

use crate::bindings::process::{Matcher, ProcessInfo};
use crate::bindings::types::HostError;
use crate::procs::{self, Find};

/// `pidfile`, for a pidfile matcher: the file opened beneath its grant, and where it is.
pub fn find(matcher: &Matcher, pidfile: Option<(std::fs::File, PathBuf)>) -> Result<Vec<ProcessInfo>, HostError> {
    let find = match matcher {
        Matcher::Pidfile(_) => {
            let (file, path) = pidfile.expect("pidfile opened by the caller");
            let (text, find) = procs::read_pidfile(file).map_err(|e| crate::capability::fs::io_error(&path, e))?;
            find.ok_or_else(|| HostError::Invalid(format!("{}: {:?} is not a pid", path.display(), text.trim())))?
        }
        Matcher::Port(port) => Find::Port(*port),
        Matcher::Name(name) => Find::Name(name.clone()),
        Matcher::Cmdline(pattern) => Find::cmdline(pattern).map_err(HostError::Invalid)?,
    };
    Ok(procs::find(&find)
        .into_iter()
        .map(|p| ProcessInfo { pid: p.pid, cpu_percent: p.lifetime_cpu_percent(), rss_bytes: p.rss_bytes, started_at: p.started_at_ms(), name: p.name, cmdline: p.cmdline })
        .collect())
}
