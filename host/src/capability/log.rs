//! `bosun:plugin/log`: always available, no grant. Lines go to bosun's log and
//! into the call's record.

use wasmtime::component::{HasSelf, Linker};

use super::{HostState, LogLine};
use crate::plugin::bindings::log::{self, Level};

pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    log::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

/// Plugin log lines kept per call; more are counted, not stored.
const MAX_LINES: usize = 1000;
const MAX_LINE_BYTES: usize = 4096;

impl log::Host for HostState {
    async fn log(&mut self, level: Level, message: String) {
        let plugin = &self.call.plugin;
        let message = truncate(message, MAX_LINE_BYTES);
        match level {
            Level::Trace => tracing::trace!(plugin = %plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin = %plugin, "{message}"),
            Level::Info => tracing::info!(plugin = %plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin = %plugin, "{message}"),
            Level::Error => tracing::error!(plugin = %plugin, "{message}"),
        }
        if self.call.logs.len() < MAX_LINES {
            let level = match level {
                Level::Trace => "trace",
                Level::Debug => "debug",
                Level::Info => "info",
                Level::Warn => "warn",
                Level::Error => "error",
            };
            self.call.logs.push(LogLine { level: level.into(), message });
        }
    }

    async fn progress(&mut self, label: String, done: u64, total: Option<u64>) {
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
