//! Small conveniences on the generated WIT types.

use std::fmt;

use crate::bindings::host::bosun::host::docker::{ContainerState, Health, MountKind};
use crate::bindings::host::bosun::host::fs::EntryKind;
use crate::bindings::host::bosun::host::notify::Severity;
use crate::{Digest, ExitStatus, Kv};

impl Kv {
    /// A key/value pair.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Kv { key: key.into(), value: value.into() }
    }
}

/// The value of the first pair whose key is `key`.
pub fn kv_get<'a>(pairs: &'a [Kv], key: &str) -> Option<&'a str> {
    pairs.iter().find(|kv| kv.key == key).map(|kv| kv.value.as_str())
}

/// `as_str` (the case's WIT name) and `Display` for WIT enums, so a plugin
/// prints `running` or `healthy` as the engine and bosun.toml spell them.
macro_rules! wit_names {
    ($($enum:ident { $($case:ident => $name:literal),+ $(,)? })+) => {$(
        impl $enum {
            #[doc = concat!("The case's WIT name: ", $("`", $name, "` "),+)]
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($enum::$case => $name),+
                }
            }
        }

        impl fmt::Display for $enum {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}

wit_names! {
    Severity { Info => "info", Success => "success", Warning => "warning", Failure => "failure" }
    ContainerState {
        Created => "created",
        Running => "running",
        Paused => "paused",
        Restarting => "restarting",
        Removing => "removing",
        Exited => "exited",
        Dead => "dead",
    }
    Health { Starting => "starting", Healthy => "healthy", Unhealthy => "unhealthy" }
    MountKind { Bind => "bind", Volume => "volume", Tmpfs => "tmpfs", Npipe => "npipe", Cluster => "cluster", Image => "image" }
    EntryKind { File => "file", Dir => "dir", Symlink => "symlink", Other => "other" }
}

impl ExitStatus {
    /// It exited with code 0.
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Code(0))
    }

    /// The exit code; `None` when it was killed (by a signal or at its timeout).
    pub fn code(&self) -> Option<i32> {
        match self {
            ExitStatus::Code(code) => Some(*code),
            ExitStatus::Signal(_) | ExitStatus::TimedOut => None,
        }
    }
}

/// `exited 3`, `was killed by signal 9` or `timed out`: reads on after the
/// command (`` `pg_dump shop` exited 3 ``).
impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exited {code}"),
            ExitStatus::Signal(signal) => write!(f, "was killed by signal {signal}"),
            ExitStatus::TimedOut => f.write_str("timed out"),
        }
    }
}

/// `sha256:9f86d0…`, as Docker and OCI write digests.
impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl Default for crate::bindings::host::bosun::host::process::RunOptions {
    /// No cwd, env, stdin or stdout file; no timeout beyond the call's deadline.
    fn default() -> Self {
        Self { cwd: None, env: Vec::new(), stdin: None, stdout_to: None, timeout_ms: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_read_as_what_happened() {
        assert!(ExitStatus::Code(0).success());
        assert!(!ExitStatus::Code(1).success() && !ExitStatus::Signal(9).success() && !ExitStatus::TimedOut.success());
        assert_eq!((ExitStatus::Code(3).code(), ExitStatus::Signal(9).code()), (Some(3), None));
        assert_eq!(format!("`pg_dump` {}", ExitStatus::Code(3)), "`pg_dump` exited 3");
        assert_eq!(ExitStatus::Signal(9).to_string(), "was killed by signal 9");
        assert_eq!(ExitStatus::TimedOut.to_string(), "timed out");
    }

    #[test]
    fn enums_print_their_wit_names() {
        assert_eq!(ContainerState::Running.to_string(), "running");
        assert_eq!(Health::Unhealthy.as_str(), "unhealthy");
        assert_eq!(MountKind::Volume.to_string(), "volume");
        assert_eq!(Severity::Failure.as_str(), "failure");
        let digest = Digest { algorithm: "sha256".into(), hex: "9f86d0".into() };
        assert_eq!(digest.to_string(), "sha256:9f86d0");
    }
}
