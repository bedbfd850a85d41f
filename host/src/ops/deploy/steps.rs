//! What a release is doing now, for the command line to show as it happens.

use std::fmt;
use std::time::Duration;

/// One phase of a release: creating, starting, waiting for health, running
/// checks, stopping the old container, undoing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `creating shop-prod-web-1.5.0`; the same text while the phase lasts.
    pub what: String,
    /// How long the phase may still take, for a wait with a deadline.
    pub left: Option<Duration>,
}

impl Step {
    pub fn new(what: impl Into<String>) -> Step {
        Step { what: what.into(), left: None }
    }

    pub fn waiting(what: impl Into<String>, left: Duration) -> Step {
        Step { what: what.into(), left: Some(left) }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.left {
            // Rounded up: "0s left" only when the time is up.
            Some(left) => write!(f, "{} ({}s left)", self.what, left.as_millis().div_ceil(1000)),
            None => f.write_str(&self.what),
        }
    }
}

/// Told of every step (and, while waiting, of the time left).
pub type OnStep<'a> = &'a (dyn Fn(&Step) + Send + Sync);

/// An owned [`OnStep`], as a command hands it to a release.
pub type StepSink = Box<dyn Fn(&Step) + Send + Sync>;
