//! `bosun:plugin/log`: always available, no grant. Lines go to bosun's log and
//! into the call's record, within the call's [`LogBudget`].

use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::{HasSelf, Linker};

use super::{CallState, HostState, LogLine};
use crate::plugin::bindings::log::{self, Level};

pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    log::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

const MAX_LINE_BYTES: usize = 4096;

/// What one call may write to bosun's log and its record together (plugin
/// lines, progress). Past it, lines are counted, not written: a plugin
/// logging in a loop cannot fill the disk or drown the operator's terminal.
/// (Denials are kept apart, at most 16 a call, and reported when it ends.)
#[derive(Debug, Default)]
pub struct LogBudget {
    used: AtomicU64,
    dropped_lines: AtomicU64,
    dropped_bytes: AtomicU64,
}

impl LogBudget {
    pub const BYTES: u64 = 1024 * 1024;
    /// Charged per line besides its text: what the log's timestamp, level and
    /// plugin name add, so that empty lines are not free.
    const LINE_COST: u64 = 64;

    /// Whether a line of `len` bytes may still be written; if not, it is
    /// counted, and so is every line after it (the log ends where the budget did).
    pub fn admit(&self, len: usize) -> bool {
        let cost = len as u64 + Self::LINE_COST;
        let spent = Self::BYTES + 1;
        let before = self.used.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| Some(if used + cost <= Self::BYTES { used + cost } else { spent }));
        let admitted = before.is_ok_and(|used| used + cost <= Self::BYTES);
        if !admitted {
            self.dropped_lines.fetch_add(1, Ordering::Relaxed);
            self.dropped_bytes.fetch_add(len as u64, Ordering::Relaxed);
        }
        admitted
    }

    /// The one line saying what was dropped, if anything was.
    pub fn dropped(&self) -> Option<String> {
        let lines = self.dropped_lines.load(Ordering::Relaxed);
        let bytes = self.dropped_bytes.load(Ordering::Relaxed);
        (lines > 0).then(|| format!("{lines} more log lines ({bytes} bytes) dropped: past the per-call log budget of {} KiB", Self::BYTES / 1024))
    }
}

impl CallState {
    /// Ends the call's log: the line saying what the budget dropped, in
    /// bosun's log and the record.
    pub fn close_log(&mut self) {
        if let Some(line) = self.log_budget.dropped() {
            tracing::warn!(plugin = %self.plugin, "{line}");
            self.logs.push(LogLine { level: "warn".into(), message: line });
        }
    }
}

impl log::Host for HostState {
    async fn log(&mut self, level: Level, message: String) {
        let message = truncate(message, MAX_LINE_BYTES);
        if !self.call.log_budget.admit(message.len()) {
            return;
        }
        let plugin = &self.call.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin = %plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin = %plugin, "{message}"),
            Level::Info => tracing::info!(plugin = %plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin = %plugin, "{message}"),
            Level::Error => tracing::error!(plugin = %plugin, "{message}"),
        }
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.call.logs.push(LogLine { level: level.into(), message });
    }

    async fn progress(&mut self, label: String, done: u64, total: Option<u64>) {
        let label = truncate(label, MAX_LINE_BYTES);
        if !self.call.log_budget.admit(label.len()) {
            return;
        }
        match total {
            Some(total) => tracing::debug!(plugin = %self.call.plugin, "{label}: {done}/{total}"),
            None => tracing::debug!(plugin = %self.call.plugin, "{label}: {done}"),
        }
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_admits_until_full_then_counts_what_it_drops() {
        let budget = LogBudget::default();
        let line = 1000;
        let fits = (LogBudget::BYTES / (line as u64 + LogBudget::LINE_COST)) as usize;
        assert!((0..fits).all(|_| budget.admit(line)));
        assert_eq!(budget.dropped(), None);
        assert!(!budget.admit(line) && !budget.admit(10));
        assert_eq!(budget.dropped().unwrap(), "2 more log lines (1010 bytes) dropped: past the per-call log budget of 1024 KiB");
    }
}
