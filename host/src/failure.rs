//! An operation's failure: a one-line message and the exit code it maps to.

use std::process::ExitCode;

use crate::plugin::PluginError;

/// A command's failure: its one-line message and the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

pub const FAILED: u8 = 1;
pub const BAD_INPUT: u8 = 2;
/// Another bosun holds the lock this command needs (restic's code for a locked repository).
pub const LOCKED: u8 = 11;
pub const SKIPPED: u8 = 75;

impl Failure {
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), code: FAILED }
    }

    pub fn bad_input(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), code: BAD_INPUT }
    }

    pub fn busy(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), code: LOCKED }
    }

    /// A failure already reported on stdout (e.g. a failed check in a report).
    pub fn silent(code: u8) -> Failure {
        Failure { message: String::new(), code }
    }

    pub fn report(self) -> ExitCode {
        if !self.message.is_empty() {
            eprintln!("error: {}", crate::secrets::mask(&self.message.replace('\n', " ")));
        }
        ExitCode::from(self.code)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        if let Some(p) = e.downcast_ref::<PluginError>() {
            return Failure { message: format!("{e:#}"), code: plugin_error_code(p) };
        }
        if e.downcast_ref::<crate::config::ConfigError>().is_some() {
            return Failure::bad_input(format!("{e:#}"));
        }
        Failure::failed(format!("{e:#}"))
    }
}

impl From<crate::config::ConfigError> for Failure {
    fn from(e: crate::config::ConfigError) -> Failure {
        Failure::bad_input(e.to_string())
    }
}

impl From<PluginError> for Failure {
    fn from(e: PluginError) -> Failure {
        Failure { code: plugin_error_code(&e), message: e.to_string() }
    }
}

pub fn plugin_error_code(e: &PluginError) -> u8 {
    match e {
        PluginError::InvalidComponent { .. }
        | PluginError::IncompatibleApi { .. }
        | PluginError::CapabilityDenied(_)
        | PluginError::InvalidConfig { .. }
        | PluginError::WrongKind { .. } => BAD_INPUT,
        PluginError::Skipped { .. } => SKIPPED,
        _ => FAILED,
    }
}

impl From<crate::state::StateError> for Failure {
    fn from(e: crate::state::StateError) -> Failure {
        Failure::failed(e.to_string())
    }
}

impl From<crate::state::AcquireError> for Failure {
    fn from(e: crate::state::AcquireError) -> Failure {
        match e {
            crate::state::AcquireError::Held(held) => Failure::busy(held.to_string()),
            crate::state::AcquireError::State(e) => e.into(),
        }
    }
}
