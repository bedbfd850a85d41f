//! Small conveniences on the generated WIT types.

use crate::bindings::host::bosun::plugin::notify::Severity;
use crate::bindings::host::bosun::plugin::types::Kv;

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

impl Severity {
    /// `info`, `success`, `warning` or `failure`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Success => "success",
            Severity::Warning => "warning",
            Severity::Failure => "failure",
        }
    }
}

impl Default for crate::bindings::host::bosun::plugin::process::RunOptions {
    /// No cwd, env, stdin or stdout file; no timeout beyond the call's deadline.
    fn default() -> Self {
        Self { cwd: None, env: Vec::new(), stdin: None, stdout_to: None, timeout_ms: None }
    }
}
