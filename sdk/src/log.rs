//! Logging and progress through the host's `log` interface (no grant needed).
//! Lines land in the run record and in bosun's log output.
//!
//! ```no_run
//! use bosun_sdk::log;
//! log::info!("archiving {} paths", 3);
//! log::warn("no base backup, taking a full one");
//! log::progress("archive", 1 << 20, Some(8 << 20));
//! ```

use crate::bindings::host::bosun::host::log as wit;

pub use wit::Level;

/// Write one log line at `level`.
pub fn log(level: Level, message: &str) {
    wit::log(level, message);
}

/// Write one line at trace level.
pub fn trace(message: &str) {
    wit::log(Level::Trace, message);
}

/// Write one line at debug level.
pub fn debug(message: &str) {
    wit::log(Level::Debug, message);
}

/// Write one line at info level.
pub fn info(message: &str) {
    wit::log(Level::Info, message);
}

/// Write one line at warn level.
pub fn warn(message: &str) {
    wit::log(Level::Warn, message);
}

/// Write one line at error level.
pub fn error(message: &str) {
    wit::log(Level::Error, message);
}

/// Report progress of a long step; `total` is `None` when unknown.
pub fn progress(label: &str, done: u64, total: Option<u64>) {
    wit::progress(label, done, total);
}

#[doc(hidden)]
#[macro_export]
macro_rules! __bosun_log {
    ($level:ident, $($arg:tt)+) => {
        $crate::log::log($crate::log::Level::$level, &::std::format!($($arg)+))
    };
}

/// `trace!("fmt", args..)`: format and log at trace level.
#[doc(hidden)]
#[macro_export]
macro_rules! __bosun_log_trace { ($($arg:tt)+) => { $crate::__bosun_log!(Trace, $($arg)+) }; }
/// `debug!("fmt", args..)`: format and log at debug level.
#[doc(hidden)]
#[macro_export]
macro_rules! __bosun_log_debug { ($($arg:tt)+) => { $crate::__bosun_log!(Debug, $($arg)+) }; }
/// `info!("fmt", args..)`: format and log at info level.
#[doc(hidden)]
#[macro_export]
macro_rules! __bosun_log_info { ($($arg:tt)+) => { $crate::__bosun_log!(Info, $($arg)+) }; }
/// `warn!("fmt", args..)`: format and log at warn level.
#[doc(hidden)]
#[macro_export]
macro_rules! __bosun_log_warn { ($($arg:tt)+) => { $crate::__bosun_log!(Warn, $($arg)+) }; }
/// `error!("fmt", args..)`: format and log at error level.
#[doc(hidden)]
#[macro_export]
macro_rules! __bosun_log_error { ($($arg:tt)+) => { $crate::__bosun_log!(Error, $($arg)+) }; }

#[doc(inline)]
pub use crate::__bosun_log_debug as debug;
#[doc(inline)]
pub use crate::__bosun_log_error as error;
#[doc(inline)]
pub use crate::__bosun_log_info as info;
#[doc(inline)]
pub use crate::__bosun_log_trace as trace;
#[doc(inline)]
pub use crate::__bosun_log_warn as warn;
