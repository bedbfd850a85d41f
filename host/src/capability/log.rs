//! `bosun:plugin/log`: always available, no grant. Lines go to bosun's log and
//! into the call's record, within the call's [`LogBudget`].

use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::{HasData, Linker};

use super::{HostState, held};
use crate::bindings::log::{self, Level};

/// The capability: always linked, needing no grant.
pub struct Log;

impl HasData for Log {
    type Data<'a> = LogView<'a>;
}

/// What the log interface sees of a call: whose lines they are, and its log.
pub struct LogView<'a> {
    plugin: &'a str,
    log: &'a mut CallLog,
}

pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    log::add_to_linker::<HostState, Log>(linker, view)
}

pub(super) fn view(state: &mut HostState) -> LogView<'_> {
    LogView { plugin: &state.call.plugin, log: &mut state.log }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LogLine {
    pub level: String,
    pub message: String,
}

/// One progress report of a plugin (`log.progress`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressUpdate {
    pub plugin: String,
    pub label: String,
    pub done: u64,
    pub total: Option<u64>,
}

/// Where progress reports go while a call runs: the CLI's progress bar.
pub type ProgressSink = std::sync::Arc<dyn Fn(&ProgressUpdate) + Send + Sync>;

/// A call's log: the lines it kept, within its budget, and where its
/// progress is shown.
#[derive(Default)]
pub struct CallLog {
    pub lines: Vec<LogLine>,
    budget: LogBudget,
    progress: Option<ProgressSink>,
    /// The last report of each label, written to the record when the call ends.
    last_progress: Vec<ProgressUpdate>,
}

impl CallLog {
    pub fn new(progress: Option<ProgressSink>) -> CallLog {
        CallLog { progress, ..Default::default() }
    }

    /// Ends the call's log: where each progress label got to, and the line
    /// saying what the budget dropped, in bosun's log and the record.
    pub fn close(&mut self, plugin: &str) {
        for update in std::mem::take(&mut self.last_progress) {
            self.lines.push(LogLine { level: "progress".into(), message: progress_text(&update) });
        }
        if let Some(line) = self.budget.dropped() {
            tracing::warn!(plugin = %plugin, "{line}");
            self.lines.push(LogLine { level: "warn".into(), message: line });
        }
    }

    pub(super) fn records_bytes(&self) -> usize {
        let lines: usize = self.lines.iter().map(|l| held::RECORD_BYTES + l.message.len()).sum();
        lines + self.last_progress.iter().map(|p| held::RECORD_BYTES + p.label.len()).sum::<usize>()
    }

    fn progress(&mut self, update: ProgressUpdate) {
        if let Some(show) = &self.progress {
            show(&update);
        }
        match self.last_progress.iter_mut().find(|p| p.label == update.label) {
            Some(last) => *last = update,
            None => self.last_progress.push(update),
        }
    }
}

/// `label: done/total` (or `label: done` when the total is unknown).
pub fn progress_text(update: &ProgressUpdate) -> String {
    match update.total {
        Some(total) => format!("{}: {}/{total}", update.label, update.done),
        None => format!("{}: {}", update.label, update.done),
    }
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

impl log::Host for LogView<'_> {
    async fn log(&mut self, level: Level, message: String) {
        let message = truncate(message, MAX_LINE_BYTES);
        if !self.log.budget.admit(message.len()) {
            return;
        }
        let plugin = self.plugin;
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
        self.log.lines.push(LogLine { level: level.into(), message });
    }

    async fn progress(&mut self, label: String, done: u64, total: Option<u64>) {
        let label = truncate(label, MAX_LINE_BYTES);
        if !self.log.budget.admit(label.len()) {
            return;
        }
        let update = ProgressUpdate { plugin: self.plugin.to_string(), label, done, total };
        tracing::debug!(plugin = %self.plugin, "{}", progress_text(&update));
        self.log.progress(update);
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
    use crate::bindings::log::Host;

    #[tokio::test]
    async fn lines_are_kept_with_their_level_and_long_ones_cut() {
        let mut log = CallLog::default();
        let mut view = LogView { plugin: "p", log: &mut log };
        view.log(Level::Warn, "disk almost full".into()).await;
        view.log(Level::Info, "x".repeat(MAX_LINE_BYTES + 10)).await;
        assert_eq!((log.lines[0].level.as_str(), log.lines[0].message.as_str()), ("warn", "disk almost full"));
        assert_eq!(log.lines[1].message.len(), MAX_LINE_BYTES + '…'.len_utf8());
    }

    #[tokio::test]
    async fn progress_reaches_the_sink_and_its_last_state_the_record() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let mut log = CallLog::new(Some(std::sync::Arc::new(move |u: &ProgressUpdate| sink.lock().unwrap().push(u.clone()))));
        let mut view = LogView { plugin: "p", log: &mut log };
        for done in [1, 2, 3] {
            view.progress("databases".into(), done, Some(3)).await;
        }
        view.progress("bytes".into(), 4096, None).await;
        assert_eq!(seen.lock().unwrap().len(), 4);
        assert_eq!(seen.lock().unwrap()[2], ProgressUpdate { plugin: "p".into(), label: "databases".into(), done: 3, total: Some(3) });
        log.close("p");
        let record: Vec<_> = log.lines.iter().map(|l| format!("{} {}", l.level, l.message)).collect();
        assert_eq!(record, ["progress databases: 3/3", "progress bytes: 4096"]);
    }

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
