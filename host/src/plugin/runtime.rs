//! Loads plugins once (manifest → compiled cache → `InstancePre`) and calls them
//! with a fresh `Store` per call, bounded by a wall-clock deadline and a memory
//! cap. A trap, timeout or memory blow-up ends that call only.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::Linker;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use crate::bindings::{notify, plugin_types as types};
use super::cache::{CacheOutcome, CompiledCache};
use super::engine::{self, Allocator, EpochTicker};
use super::kinds::{self, KindWorld};
use super::error::PluginError;
use super::manifest::{Kind, Manifest};
use crate::capability::{self, CallScope, HostServices, HostState, LogLine, PlannedCall, Policy, ProgressSink};

/// Per-call bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { timeout: Duration::from_secs(30), memory_bytes: 128 << 20 }
    }
}

/// The largest memory cap any plugin may be given (the pooling allocator's slot size).
pub const MAX_MEMORY_BYTES: usize = 1 << 30;

/// A loaded plugin: its manifest and the pre-linked instance of its world.
pub struct Plugin {
    pub manifest: Manifest,
    pub digest: String,
    pub cache: CacheOutcome,
    /// The pre-instance typed by its kind (a [`KindWorld::Pre`]).
    world: Box<dyn Any + Send + Sync>,
}

/// What a call needs besides its arguments.
#[derive(Clone)]
pub struct CallSetup {
    pub context: types::RunContext,
    pub policy: Arc<Policy>,
    pub limits: Limits,
    /// Where the plugin's `log.progress` reports are shown while it runs.
    pub progress: Option<ProgressSink>,
}

impl CallSetup {
    /// The call as part of run `run_id` of the state store (`run-context.run-id`).
    pub fn for_run(mut self, run_id: i64) -> CallSetup {
        self.context.run_id = run_id.to_string();
        self
    }
}

/// A finished call's value and what happened along the way.
#[derive(Debug)]
pub struct Called<T> {
    pub value: T,
    pub planned: Vec<PlannedCall>,
    pub logs: Vec<LogLine>,
    pub events: Vec<notify::Event>,
    pub elapsed: Duration,
}

impl<T> Called<T> {
    /// The plugin's log lines as text, for a run record.
    pub fn log_text(&self) -> String {
        self.logs.iter().map(|l| format!("{} {}\n", l.level, l.message)).collect()
    }
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CompiledCache,
    services: Arc<HostServices>,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    pub allocator: Allocator,
    _ticker: EpochTicker,
}

type CallFuture<'a, T> = Pin<Box<dyn Future<Output = wasmtime::Result<Result<T, types::PluginError>>> + Send + 'a>>;

impl Runtime {
    pub fn new(cache_dir: PathBuf) -> anyhow::Result<Runtime> {
        crate::capability::fs::protect(&cache_dir);
        let (engine, allocator) = engine::build(MAX_MEMORY_BYTES)?;
        let mut linker = Linker::new(&engine);
        capability::link_all(&mut linker).map_err(|e| anyhow::anyhow!("linking host interfaces: {e}"))?;
        let cache = CompiledCache::new(&cache_dir, &engine)
            .map_err(|e| anyhow::anyhow!("cannot use the plugin cache directory {}: {e}", cache_dir.display()))?;
        Ok(Runtime {
            _ticker: EpochTicker::start(&engine),
            engine,
            linker,
            cache,
            services: Arc::new(HostServices::default()),
            loaded: Mutex::new(HashMap::new()),
            allocator,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads (or returns the already loaded) plugin in `wasm`. The manifest is
    /// read and checked before anything is compiled.
    pub fn load(&self, wasm: &[u8], origin: &str) -> Result<Arc<Plugin>, PluginError> {
        let digest = hex::encode(Sha256::digest(wasm));
        if let Some(plugin) = self.loaded.lock().expect("loaded lock").get(&digest) {
            return Ok(plugin.clone());
        }
        let manifest = Manifest::read(wasm, origin)?;
        let (component, cache) = self.cache.load(&self.engine, wasm, &digest, origin)?;
        let invalid = |reason: String| PluginError::InvalidComponent { origin: origin.to_string(), reason };
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| invalid(format!("it imports something bosun does not provide: {e}")))?;
        let api = manifest.api().ok_or_else(|| invalid(format!("its plugin API {} is not one this bosun links", manifest.api)))?;
        let world = kinds::typed(manifest.kind, api, pre).map_err(|e| {
            invalid(format!(
                "its manifest says {} for plugin API {} but it does not implement that world ({e}); rebuild it with `bosun plugin build`",
                manifest.kind, manifest.api
            ))
        })?;
        let plugin = Arc::new(Plugin { manifest, digest: digest.clone(), cache, world });
        self.loaded.lock().expect("loaded lock").insert(digest, plugin.clone());
        Ok(plugin)
    }

    /// One call of `export` of a plugin of kind `W`: fresh store and
    /// instance, deadline, memory cap, then the outcome classified into a
    /// typed error. `invoke` calls the export on the instance.
    pub async fn call<W: KindWorld, T>(
        &self,
        plugin: &Plugin,
        setup: CallSetup,
        export: &'static str,
        invoke: impl for<'a> FnOnce(W::Instance, &'a mut Store<HostState>, &'a types::RunContext) -> CallFuture<'a, T>,
    ) -> Result<Called<T>, PluginError> {
        let pre: &W::Pre = plugin.world.downcast_ref().ok_or_else(|| wrong_kind(plugin, W::KIND))?;
        let started = Instant::now();
        let deadline = started + setup.limits.timeout;
        let mut store = self.new_store(plugin, &setup, deadline);
        let run = async {
            let instance = W::instantiate(pre, &mut store).await?;
            invoke(instance, &mut store, &setup.context).await
        };
        let outcome = tokio::time::timeout(setup.limits.timeout, run).await;
        let mut state = store.into_data();
        let name = &plugin.manifest.name;
        state.log.close(name);
        let denials = state.call.take_denials();
        let first_denial = denials.first().cloned();
        let mut planned = state.call.take_planned();
        let timed_out = || PluginError::TimedOut { plugin: name.clone(), export: export.into(), deadline: setup.limits.timeout };
        let a_trap = matches!(&outcome, Ok(Err(_)));
        let result = match outcome {
            Err(_elapsed) => Err(timed_out()),
            Ok(Err(trap)) if state.out_of_memory(&trap) => {
                Err(PluginError::OutOfMemory { plugin: name.clone(), export: export.into(), limit_bytes: setup.limits.memory_bytes as u64 })
            }
            Ok(Err(trap)) if trap.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => Err(timed_out()),
            Ok(Err(trap)) => Err(trapped(plugin, export, &trap, &state)),
            // A host call cut short by the deadline fails the call as timed
            // out, whatever the plugin made of that host call's error.
            Ok(Ok(Err(_))) if Instant::now() >= deadline => Err(timed_out()),
            Ok(Ok(Err(plugin_error))) => {
                Err(plugin_failure(name, export, plugin_error, first_denial, std::mem::take(&mut planned), state.last_http_status()))
            }
            Ok(Ok(Ok(value))) => Ok(value),
        };
        let ended = match &result {
            Ok(_) => "ok",
            Err(PluginError::TimedOut { .. }) => "timeout",
            Err(PluginError::OutOfMemory { .. }) => "out_of_memory",
            Err(_) if a_trap => "trap",
            Err(_) => "error",
        };
        crate::metrics::plugin_call(name, W::KIND.as_str(), ended, started.elapsed());
        warn_denials(name, &denials, &result);
        let value = result?;
        Ok(Called { value, planned, logs: state.log.lines, events: state.outbox.events, elapsed: started.elapsed() })
    }

    fn new_store(&self, plugin: &Plugin, setup: &CallSetup, deadline: Instant) -> Store<HostState> {
        let call = CallScope::new(&plugin.manifest.name, setup.policy.clone(), setup.context.dry_run, deadline);
        let memory = setup.limits.memory_bytes.min(MAX_MEMORY_BYTES);
        let mut store = Store::new(&self.engine, HostState::new(call, self.services.clone(), setup.progress.clone(), memory));
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut store| {
            if !store.data_mut().within_memory_cap() || Instant::now() >= deadline {
                Err(Trap::Interrupt.into())
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        store
    }
}

fn wrong_kind(plugin: &Plugin, expected: Kind) -> PluginError {
    PluginError::WrongKind { plugin: plugin.manifest.name.clone(), expected: expected.to_string(), actual: plugin.manifest.kind.to_string() }
}

/// Each denial is reported once: the one a failure names is in its error;
/// the others (the plugin went on, or failed otherwise) as warnings.
fn warn_denials<T>(plugin: &str, denials: &[capability::Denial], result: &Result<T, PluginError>) {
    let named = usize::from(matches!(result, Err(PluginError::CapabilityDenied(_))));
    for denial in &denials[named.min(denials.len())..] {
        tracing::warn!(plugin = %plugin, "{denial}");
    }
}

fn trapped(plugin: &Plugin, export: &str, error: &wasmtime::Error, state: &HostState) -> PluginError {
    // The frames only; wasmtime's header line repeats what the message says.
    let backtrace = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|bt| bt.to_string().lines().skip(1).take(12).collect::<Vec<_>>().join("\n"));
    let trap = error.downcast_ref::<Trap>().map_or_else(|| error.root_cause().to_string(), |t| t.to_string());
    // What the plugin said last before dying (bosun-sdk logs panics as errors).
    let last_error = state.log.lines.iter().rev().find(|l| l.level == "error").map(|l| l.message.clone());
    let stderr = String::from_utf8_lossy(&state.stderr.contents()).trim().replace('\n', " ");
    let mut message = trap;
    for (label, text) in [("plugin log", last_error.unwrap_or_default()), ("plugin stderr", stderr)] {
        if !text.is_empty() {
            message.push_str(&format!("; {label}: {text}"));
        }
    }
    PluginError::Trapped {
        plugin: plugin.manifest.name.clone(),
        version: plugin.manifest.version.clone(),
        export: export.to_string(),
        message,
        backtrace,
    }
}

/// The plugin returned an error. A denial recorded during the call is the root
/// cause whatever the plugin made of it; in a dry run, the calls bosun held
/// back may be (the plugin got no real answer from them), so they are named.
fn plugin_failure(
    plugin: &str,
    export: &str,
    error: types::PluginError,
    denial: Option<capability::Denial>,
    planned: Vec<PlannedCall>,
    last_http_status: Option<u16>,
) -> PluginError {
    let (plugin, export) = (plugin.to_string(), export.to_string());
    match (error, denial) {
        (types::PluginError::Skipped(message), _) => PluginError::Skipped { plugin, message },
        (_, Some(denial)) => PluginError::CapabilityDenied(denial),
        (types::PluginError::InvalidConfig(message), None) => PluginError::InvalidConfig { plugin, message },
        (types::PluginError::Denied(message) | types::PluginError::Failed(message), None) if planned.is_empty() => {
            PluginError::Failed { plugin, export, message, last_http_status }
        }
        (types::PluginError::Denied(message) | types::PluginError::Failed(message), None) => {
            PluginError::FailedInDryRun { plugin, export, message, planned }
        }
    }
}
