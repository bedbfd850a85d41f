//! Per-call state: a fresh `HostState` is built for every plugin call, so nothing
//! a plugin did (or broke) survives into the next call.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::{ResourceTable, ResourceTableError};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{FieldMapError, WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::log::LogBudget;
use super::{Denial, Policy, held};
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
    pub log_budget: Arc<LogBudget>,
    pub events: Vec<Event>,
    /// The status of the last HTTP answer the plugin got: a notifier that
    /// failed on a permanent refusal (a 4xx) is not tried again.
    pub last_http_status: Arc<Mutex<Option<u16>>>,
}

impl CallState {
    /// A call of `plugin` under `policy`, ending at `deadline`, with nothing
    /// recorded yet.
    pub fn new(plugin: String, policy: Arc<Policy>, dry_run: bool, deadline: Instant, services: Arc<HostServices>) -> CallState {
        CallState {
            plugin,
            policy,
            dry_run,
            deadline,
            services,
            planned: Default::default(),
            denials: Default::default(),
            logs: Vec::new(),
            log_budget: Default::default(),
            events: Vec::new(),
            last_http_status: Default::default(),
        }
    }

    /// Checks a call against the policy, remembering a denial so the runtime can
    /// report it as the typed cause if the plugin then fails.
    pub fn allow(&mut self, result: Result<(), Denial>) -> Result<(), Denial> {
        if let Err(denial) = &result {
            record_denial(&self.denials, denial.clone());
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

    /// Bytes held in the call's records (log lines, planned calls, events, denials).
    fn records_bytes(&self) -> usize {
        const RECORD: usize = 64;
        let logs: usize = self.logs.iter().map(|l| RECORD + l.message.len()).sum();
        let planned: usize = self.planned.lock().expect("planned lock").iter().map(|p| RECORD + p.call.len() + p.detail.len()).sum();
        let events: usize = self
            .events
            .iter()
            .map(|e| {
                let facts: usize = e.facts.iter().map(|f| RECORD + f.key.len() + f.value.len()).sum();
                RECORD + e.kind.len() + e.title.len() + e.body.len() + e.link.as_ref().map_or(0, String::len) + facts
            })
            .sum();
        logs + planned + events
    }
}

/// Distinct denials kept per call: the first is the typed cause; a plugin
/// retrying a denied call in a loop adds nothing after the first of its kind.
const MAX_DENIALS: usize = 16;

/// Remembers a denial: the runtime reports it once when the call ends, as
/// the typed cause if the plugin then failed, as a warning if it went on.
pub(super) fn record_denial(denials: &Mutex<Vec<Denial>>, denial: Denial) {
    let mut denials = denials.lock().expect("denials lock");
    if denials.len() < MAX_DENIALS && !denials.contains(&denial) {
        denials.push(denial);
    }
}

/// Caps the memory a call uses: its linear memories together, plus what the
/// host holds for it (measured on each epoch tick, see [`held`]). Remembers
/// that the cap was hit so the resulting trap is reported as out-of-memory.
pub struct MemoryLimiter {
    pub max_memory_bytes: usize,
    pub hit: bool,
    linear_bytes: usize,
    held_bytes: usize,
}

impl MemoryLimiter {
    fn new(max_memory_bytes: usize) -> MemoryLimiter {
        MemoryLimiter { max_memory_bytes, hit: false, linear_bytes: 0, held_bytes: 0 }
    }

    fn fits(&mut self, linear_bytes: usize, held_bytes: usize) -> bool {
        let fits = linear_bytes.saturating_add(held_bytes) <= self.max_memory_bytes;
        self.hit |= !fits;
        fits
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        // Called when a memory is created (from 0) and when it grows.
        let linear = self.linear_bytes.saturating_add(desired.saturating_sub(current));
        if !self.fits(linear, self.held_bytes) {
            return Ok(false);
        }
        self.linear_bytes = linear;
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
        // Random bytes are made in host memory before the plugin gets them:
        // a seed or a key is what a plugin needs, not wasmtime's 64 MiB.
        let wasi = WasiCtx::builder().stderr(stderr.clone()).max_random_size(held::RANDOM_BYTES).build();
        let http_hooks = super::http::Hooks::new(&call);
        let mut table = ResourceTable::new();
        table.set_max_capacity(held::MAX_RESOURCES);
        let mut http_ctx = WasiHttpCtx::new();
        http_ctx.set_field_size_limit(held::FIELDS_BYTES);
        HostState { call, limiter: MemoryLimiter::new(max_memory_bytes), stderr, wasi, table, http_ctx, http_hooks }
    }

    /// Measures what the host holds for the call; false (and the limiter
    /// marked hit) once that and linear memory pass the cap, or the resource
    /// table is full. Run on every epoch tick.
    pub fn within_memory_cap(&mut self) -> bool {
        let (entries, table_bytes) = held::table_bytes(&mut self.table);
        let held_bytes = table_bytes + self.call.records_bytes();
        self.limiter.held_bytes = held_bytes;
        let linear_bytes = self.limiter.linear_bytes;
        self.limiter.fits(linear_bytes, held_bytes);
        self.limiter.hit |= entries >= held::MAX_RESOURCES;
        !self.limiter.hit
    }

    /// Whether the call failed by running out of memory: linear memory or
    /// host-held bytes past the cap, a full resource table, or a `fields`
    /// past its size (wasmtime-wasi-http traps on that).
    pub fn out_of_memory(&self, error: &wasmtime::Error) -> bool {
        self.limiter.hit
            || error.chain().any(|e| {
                matches!(e.downcast_ref::<ResourceTableError>(), Some(ResourceTableError::Full))
                    || matches!(e.downcast_ref::<FieldMapError>(), Some(FieldMapError::TotalSizeTooBig | FieldMapError::TooManyFields))
            })
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
