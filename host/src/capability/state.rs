//! Per-call state: a fresh `HostState` is built for every plugin call, so nothing
//! a plugin did (or broke) survives into the next call. Each capability sees
//! it through its own view (the [`CallScope`] plus its own part).

use std::sync::Arc;

use wasmtime::component::{ResourceTable, ResourceTableError};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{FieldMapError, WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::{CallScope, held, log, notify};

/// Shared, long-lived services the capabilities use (one per runtime).
#[derive(Default)]
pub struct HostServices {
    /// The Docker engine, connected on first use.
    pub docker: tokio::sync::OnceCell<crate::docker::Connection>,
    /// Other hosts' engines (a policy's `engine`), by endpoint, connected on first use.
    pub engines: tokio::sync::Mutex<std::collections::HashMap<String, crate::docker::Connection>>,
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
    pub call: CallScope,
    pub log: log::CallLog,
    pub outbox: notify::Outbox,
    pub services: Arc<HostServices>,
    pub limiter: MemoryLimiter,
    pub stderr: MemoryOutputPipe,
    wasi: WasiCtx,
    table: ResourceTable,
    http_ctx: WasiHttpCtx,
    http_hooks: super::http::Hooks,
}

impl HostState {
    pub fn new(call: CallScope, services: Arc<HostServices>, progress: Option<log::ProgressSink>, max_memory_bytes: usize) -> HostState {
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
        HostState {
            call,
            log: log::CallLog::new(progress),
            outbox: Default::default(),
            services,
            limiter: MemoryLimiter::new(max_memory_bytes),
            stderr,
            wasi,
            table,
            http_ctx,
            http_hooks,
        }
    }

    /// The status of the last HTTP answer the plugin got: a notifier that
    /// failed on a permanent refusal (a 4xx) is not tried again.
    pub fn last_http_status(&self) -> Option<u16> {
        self.http_hooks.last_status()
    }

    /// Bytes held in the call's records (log lines, planned calls, events).
    fn records_bytes(&self) -> usize {
        self.call.records_bytes() + self.log.records_bytes() + self.outbox.records_bytes()
    }

    /// Measures what the host holds for the call; false (and the limiter
    /// marked hit) once that and linear memory pass the cap, or the resource
    /// table is full. Run on every epoch tick.
    pub fn within_memory_cap(&mut self) -> bool {
        let (entries, table_bytes) = held::table_bytes(&mut self.table);
        let held_bytes = table_bytes + self.records_bytes();
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
