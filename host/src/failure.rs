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
        Failure { message: one_line(message.into()), code: FAILED }
    }

    pub fn bad_input(message: impl Into<String>) -> Failure {
        Failure { message: one_line(message.into()), code: BAD_INPUT }
    }

    /// Bad input with several problems, each reported on its own line.
    pub fn bad_input_each(problems: impl IntoIterator<Item = impl Into<String>>) -> Failure {
        let lines: Vec<String> = problems.into_iter().map(|p| one_line(p.into())).collect();
        Failure { message: lines.join("\n"), code: BAD_INPUT }
    }

    pub fn busy(message: impl Into<String>) -> Failure {
        Failure { message: one_line(message.into()), code: LOCKED }
    }

    /// A failure already reported on stdout (e.g. a failed check in a report).
    pub fn silent(code: u8) -> Failure {
        Failure { message: String::new(), code }
    }

    /// Prints the message, one `error:` line per problem (a bosun.toml can
    /// have several; every other failure is one line), and gives the exit code.
    pub fn report(self) -> ExitCode {
        for line in self.message.lines().filter(|l| !l.trim().is_empty()) {
            eprintln!("error: {}", crate::secrets::mask(line));
        }
        ExitCode::from(self.code)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        if let Some(p) = e.downcast_ref::<PluginError>() {
            return Failure { message: one_line(format!("{e:#}")), code: plugin_error_code(p) };
        }
        if let Some(config) = e.downcast_ref::<crate::config::ConfigError>() {
            return Failure { message: config.to_string(), code: BAD_INPUT };
        }
        Failure::failed(format!("{e:#}"))
    }
}

/// Each of a bosun.toml's problems stays on its own line.
impl From<crate::config::ConfigError> for Failure {
    fn from(e: crate::config::ConfigError) -> Failure {
        Failure { message: e.to_string(), code: BAD_INPUT }
    }
}

impl From<PluginError> for Failure {
    fn from(e: PluginError) -> Failure {
        Failure { code: plugin_error_code(&e), message: one_line(e.to_string()) }
    }
}

fn one_line(message: String) -> String {
    match message.contains('\n') {
        true => message.split_whitespace().collect::<Vec<_>>().join(" "),
        false => message,
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
