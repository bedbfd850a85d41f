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

/// The middle sample; with an even count, the mean of the middle two.
pub fn median(samples: Vec<Duration>) -> Duration {
    Duration::from_secs_f64(median_of(samples.into_iter().map(secs).collect()))
}

pub fn median_of(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let upper = samples.len() / 2;
    match samples.len() % 2 {
        0 => (samples[upper - 1] + samples[upper]) / 2.0,
        _ => samples[upper],
    }
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
