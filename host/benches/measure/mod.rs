//! Timing helpers shared by the benches (`mod measure;` in each).
#![allow(dead_code)] // each bench uses a different part

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `command` to completion and returns its wall time; panics naming
/// `what` and its stderr when it fails.
pub fn timed(what: &str, command: &mut Command) -> Duration {
    let start = Instant::now();
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let elapsed = start.elapsed();
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    elapsed
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Writes back what earlier commands left dirty in the page cache, so the
/// next timed command does not pay for (or race) their writeback.
pub fn settle() {
    let status = Command::new("sync").status().expect("run sync");
    assert!(status.success(), "sync failed");
}
