//! Per-call state: a fresh `HostState` is built for every plugin call, so nothing
//! a plugin did (or broke) survives into the next call.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::{Denial, Policy};
use crate::plugin::bindings::notify::Event;

/// Shared, long-lived services the capabilities use (one per runtime).
#[derive(Default)]
pub struct HostServices {
    /// The Docker engine, connected on first use.
    pub docker: tokio::sync::OnceCell<crate::docker::Connection>,
}

/// A mutating host call a dry run recorded instead of executing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedCall {
    pub call: String,
    pub detail: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LogLine {
    pub level: String,
    pub message: String,
}

/// Everything one call may touch besides WASI itself.
pub struct CallState {
    pub plugin: String,
    pub policy: Arc<Policy>,
    pub dry_run: bool,
    /// When the call's wall-clock budget ends; host calls bound their own work by it.
    pub deadline: Instant,
    pub services: Arc<HostServices>,
    /// Shared with the wasi:http hooks, which record in a dry run too.
    pub planned: Arc<Mutex<Vec<PlannedCall>>>,
    pub denials: Arc<Mutex<Vec<Denial>>>,
    pub logs: Vec<LogLine>,
    pub events: Vec<Event>,
}

impl CallState {
    /// Checks a call against the policy, remembering a denial so the runtime can
    /// report it as the typed cause if the plugin then fails.
    pub fn allow(&mut self, result: Result<(), Denial>) -> Result<(), Denial> {
        if let Err(denial) = &result {
            tracing::warn!(plugin = %self.plugin, "{denial}");
            self.denials.lock().expect("denials lock").push(denial.clone());
        }
        result
    }

    /// In a dry run, records a mutating call and returns false (do not execute).
    pub fn execute(&mut self, call: &str, detail: impl Into<String>) -> bool {
        if self.dry_run {
            self.planned.lock().expect("planned lock").push(PlannedCall { call: call.to_string(), detail: detail.into() });
            return false;
        }
        true
    }

    /// Time left before the call's deadline.
    pub fn remaining(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// Caps linear memory and tables, and remembers that the cap was hit so a
/// resulting trap is reported as out-of-memory rather than a generic trap.
pub struct MemoryLimiter {
    pub max_memory_bytes: usize,
    pub hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

pub struct HostState {
    pub call: CallState,
    pub limiter: MemoryLimiter,
    pub stderr: MemoryOutputPipe,
    wasi: WasiCtx,
    table: ResourceTable,
    http_ctx: WasiHttpCtx,
    http_hooks: super::http::Hooks,
}

impl HostState {
    pub fn new(call: CallState, max_memory_bytes: usize) -> HostState {
        // Plugins get no preopened directories, no environment and no stdin:
        // everything goes through bosun's granted interfaces. stderr is kept
        // so a panic message can be quoted in the trap error.
        let stderr = MemoryOutputPipe::new(64 * 1024);
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let http_hooks = super::http::Hooks::new(&call);
        HostState {
            call,
            limiter: MemoryLimiter { max_memory_bytes, hit: false },
            stderr,
            wasi,
            table: ResourceTable::new(),
            http_ctx: WasiHttpCtx::new(),
            http_hooks,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http_ctx, table: &mut self.table, hooks: &mut self.http_hooks }
    }
}
