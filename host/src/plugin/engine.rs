//! The wasmtime engine bosun runs every plugin on, and the epoch ticker that
//! enforces per-call deadlines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; a looping plugin overshoots its deadline by
/// at most about this much.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    Pooling,
    OnDemand,
}

impl Allocator {
    pub fn as_str(self) -> &'static str {
        match self {
            Allocator::Pooling => "pooling",
            Allocator::OnDemand => "on-demand",
        }
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true).epoch_interruption(true);
    config
}

/// Builds the engine, with the pooling allocator when the machine can reserve
/// its address space (BOSUN_POOLING=0 turns it off), on-demand otherwise.
pub fn build(max_memory_bytes: usize) -> anyhow::Result<(Engine, Allocator)> {
    if std::env::var("BOSUN_POOLING").as_deref() != Ok("0") {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(64)
            .total_core_instances(512)
            .total_memories(128)
            .total_tables(256)
            .max_memories_per_component(8)
            .max_tables_per_component(16)
            .max_core_instances_per_component(32)
            .max_memory_size(max_memory_bytes)
            // A fresh store per call reuses a slot whose memory was just freed:
            // restore only its dirty pages (PAGEMAP_SCAN, Linux 6.7+) instead of
            // decommitting it and faulting every page back in on the next call.
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(1 << 20)
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut config = base_config();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&config) {
            Ok(engine) => return Ok((engine, Allocator::Pooling)),
            Err(e) => tracing::info!("pooling allocator unavailable ({e}); using on-demand allocation"),
        }
    }
    Ok((Engine::new(&base_config()).map_err(|e| anyhow::anyhow!("{e}"))?, Allocator::OnDemand))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("bosun-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawn epoch ticker");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
