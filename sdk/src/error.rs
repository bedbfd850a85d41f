//! [`Error`]: what a plugin export returns when it cannot do its work.

use std::fmt;

use crate::{HostError, PluginError};

/// Why a plugin export failed; becomes the WIT `plugin-error` the host reports.
///
/// `?` works on host calls: a [`HostError`] converts into an `Error`
/// (`denied` stays `denied`, everything else becomes `failed` with the kind
/// in the message).
///
/// ```
/// use bosun_sdk::Error;
/// let e = Error::invalid_config("`url` must start with http:// or https://");
/// assert_eq!(e.to_string(), "invalid config: `url` must start with http:// or https://");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The plugin's configuration in bosun.toml is wrong; name the key.
    InvalidConfig(String),
    /// A host call was refused by the operator's grants.
    Denied(String),
    /// The work ran and failed.
    Failed(String),
    /// Nothing to do this time: the step is reported as skipped, not failed.
    Skipped(String),
}

impl Error {
    /// The configuration is wrong; the message should name the key.
    pub fn invalid_config(msg: impl Into<String>) -> Self {
        Error::InvalidConfig(msg.into())
    }

    /// A host call was refused.
    pub fn denied(msg: impl Into<String>) -> Self {
        Error::Denied(msg.into())
    }

    /// The work ran and failed.
    pub fn failed(msg: impl Into<String>) -> Self {
        Error::Failed(msg.into())
    }

    /// Nothing to do: report the step as skipped.
    pub fn skipped(msg: impl Into<String>) -> Self {
        Error::Skipped(msg.into())
    }

    /// The message without the kind.
    pub fn message(&self) -> &str {
        match self {
            Error::InvalidConfig(m) | Error::Denied(m) | Error::Failed(m) | Error::Skipped(m) => m,
        }
    }

    /// Prefix the message with what was being done: `"{what}: {message}"`,
    /// keeping the kind.
    pub fn context(self, what: impl fmt::Display) -> Self {
        let wrap = |m: String| format!("{what}: {m}");
        match self {
            Error::InvalidConfig(m) => Error::InvalidConfig(wrap(m)),
            Error::Denied(m) => Error::Denied(wrap(m)),
            Error::Failed(m) => Error::Failed(wrap(m)),
            Error::Skipped(m) => Error::Skipped(wrap(m)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Error::InvalidConfig(_) => "invalid config",
            Error::Denied(_) => "denied",
            Error::Failed(_) => "failed",
            Error::Skipped(_) => "skipped",
        };
        write!(f, "{kind}: {}", self.message())
    }
}

impl std::error::Error for Error {}

impl From<HostError> for Error {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Denied(m) => Error::Denied(m),
            HostError::NotFound(m) => Error::Failed(format!("not found: {m}")),
            HostError::Invalid(m) => Error::Failed(format!("invalid argument: {m}")),
            HostError::Failed(m) => Error::Failed(m),
            HostError::TimedOut(m) => Error::Failed(format!("timed out: {m}")),
        }
    }
}

impl From<Error> for PluginError {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidConfig(m) => PluginError::InvalidConfig(m),
            Error::Denied(m) => PluginError::Denied(m),
            Error::Failed(m) => PluginError::Failed(m),
            Error::Skipped(m) => PluginError::Skipped(m),
        }
    }
}

impl From<PluginError> for Error {
    fn from(e: PluginError) -> Self {
        match e {
            PluginError::InvalidConfig(m) => Error::InvalidConfig(m),
            PluginError::Denied(m) => Error::Denied(m),
            PluginError::Failed(m) => Error::Failed(m),
            PluginError::Skipped(m) => Error::Skipped(m),
        }
    }
}

/// `Result<T, bosun_sdk::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
