//! Loads plugins once (manifest → compiled cache → `InstancePre`) and calls them
//! with a fresh `Store` per call, bounded by a wall-clock deadline and a memory
//! cap. A trap, timeout or memory blow-up ends that call only.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{InstancePre, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use super::bindings::{backup_strategy, backup_types, check_types, naming_template, notifier, notify, smoke_check, types};
use super::cache::{CacheOutcome, CompiledCache};
use super::engine::{self, Allocator, EpochTicker};
use super::error::PluginError;
use super::manifest::{Kind, Manifest};
use crate::capability::{self, CallState, HostServices, HostState, LogLine, PlannedCall, Policy};

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
    world: World,
}

enum World {
    SmokeCheck(smoke_check::SmokeCheckPre<HostState>),
    BackupStrategy(backup_strategy::BackupStrategyPre<HostState>),
    NamingTemplate(naming_template::NamingTemplatePre<HostState>),
    Notifier(notifier::NotifierPre<HostState>),
}

/// What a call needs besides its arguments.
pub struct CallSetup {
    pub context: types::RunContext,
    pub policy: Arc<Policy>,
    pub limits: Limits,
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
        link_everything(&mut linker).map_err(|e| anyhow::anyhow!("linking host interfaces: {e}"))?;
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
        let world = typed_world(manifest.kind, pre)
            .map_err(|e| invalid(format!("its manifest says {} but it does not implement that world ({e}); if it was built with an older bosun-sdk, rebuild it with `bosun plugin build`", manifest.kind)))?;
        let plugin = Arc::new(Plugin { manifest, digest: digest.clone(), cache, world });
        self.loaded.lock().expect("loaded lock").insert(digest, plugin.clone());
        Ok(plugin)
    }

    pub async fn check(&self, plugin: &Plugin, setup: CallSetup) -> Result<Called<check_types::CheckResult>, PluginError> {
        let World::SmokeCheck(pre) = &plugin.world else { return Err(wrong_kind(plugin, Kind::SmokeCheck)) };
        let (pre, ctx) = (pre.clone(), setup.context.clone());
        self.call(plugin, setup, "check", move |store| {
            Box::pin(async move { pre.instantiate_async(&mut *store).await?.call_check(&mut *store, &ctx).await })
        })
        .await
    }

    /// A check's own judgement of its configuration, without running it, and
    /// the places it will connect to.
    pub async fn validate(&self, plugin: &Plugin, setup: CallSetup) -> Result<Called<Vec<String>>, PluginError> {
        let World::SmokeCheck(pre) = &plugin.world else { return Err(wrong_kind(plugin, Kind::SmokeCheck)) };
        let (pre, ctx) = (pre.clone(), setup.context.clone());
        self.call(plugin, setup, "validate", move |store| {
            Box::pin(async move { pre.instantiate_async(&mut *store).await?.call_validate(&mut *store, &ctx).await })
        })
        .await
    }

    pub async fn backup(&self, plugin: &Plugin, setup: CallSetup, req: backup_types::BackupRequest) -> Result<Called<backup_types::BackupResult>, PluginError> {
        let World::BackupStrategy(pre) = &plugin.world else { return Err(wrong_kind(plugin, Kind::BackupStrategy)) };
        let (pre, ctx) = (pre.clone(), setup.context.clone());
        self.call(plugin, setup, "backup", move |store| {
            Box::pin(async move { pre.instantiate_async(&mut *store).await?.call_backup(&mut *store, &ctx, &req).await })
        })
        .await
    }

    pub async fn restore(&self, plugin: &Plugin, setup: CallSetup, req: backup_types::RestoreRequest) -> Result<Called<()>, PluginError> {
        let World::BackupStrategy(pre) = &plugin.world else { return Err(wrong_kind(plugin, Kind::BackupStrategy)) };
        let (pre, ctx) = (pre.clone(), setup.context.clone());
        self.call(plugin, setup, "restore", move |store| {
            Box::pin(async move { pre.instantiate_async(&mut *store).await?.call_restore(&mut *store, &ctx, &req).await })
        })
        .await
    }

    pub async fn restore_test(
        &self,
        plugin: &Plugin,
        setup: CallSetup,
        req: backup_types::RestoreRequest,
    ) -> Result<Called<Option<backup_types::RestoreCheck>>, PluginError> {
        let World::BackupStrategy(pre) = &plugin.world else { return Err(wrong_kind(plugin, Kind::BackupStrategy)) };
        let (pre, ctx) = (pre.clone(), setup.context.clone());
        self.call(plugin, setup, "restore-test", move |store| {
            Box::pin(async move { pre.instantiate_async(&mut *store).await?.call_restore_test(&mut *store, &ctx, &req).await })
        })
        .await
    }

    pub async fn render(&self, plugin: &Plugin, setup: CallSetup, vars: Vec<types::Kv>) -> Result<Called<String>, PluginError> {
        let World::NamingTemplate(pre) = &plugin.world else { return Err(wrong_kind(plugin, Kind::NamingTemplate)) };
        let (pre, ctx) = (pre.clone(), setup.context.clone());
        self.call(plugin, setup, "render", move |store| {
            Box::pin(async move { pre.instantiate_async(&mut *store).await?.call_render(&mut *store, &ctx, &vars).await })
        })
        .await
    }

    pub async fn deliver(&self, plugin: &Plugin, setup: CallSetup, event: notify::Event, channel: notify::Channel) -> Result<Called<String>, PluginError> {
        let World::Notifier(pre) = &plugin.world else { return Err(wrong_kind(plugin, Kind::Notifier)) };
        let (pre, ctx) = (pre.clone(), setup.context.clone());
        self.call(plugin, setup, "deliver", move |store| {
            Box::pin(async move { pre.instantiate_async(&mut *store).await?.call_deliver(&mut *store, &ctx, &event, &channel).await })
        })
        .await
    }

    /// One call: fresh store, deadline, memory cap, then the outcome classified
    /// into a typed error.
    async fn call<T>(
        &self,
        plugin: &Plugin,
        setup: CallSetup,
        export: &'static str,
        invoke: impl for<'a> FnOnce(&'a mut Store<HostState>) -> CallFuture<'a, T>,
    ) -> Result<Called<T>, PluginError> {
        let started = Instant::now();
        let deadline = started + setup.limits.timeout;
        let mut store = self.new_store(plugin, &setup, deadline);
        let outcome = tokio::time::timeout(setup.limits.timeout, invoke(&mut store)).await;
        let mut state = store.into_data();
        state.call.close_log();
        let name = &plugin.manifest.name;
        let denials = std::mem::take(&mut *state.call.denials.lock().expect("denials lock"));
        let first_denial = denials.first().cloned();
        let mut planned = std::mem::take(&mut *state.call.planned.lock().expect("planned lock"));
        let timed_out = || PluginError::TimedOut { plugin: name.clone(), export: export.into(), deadline: setup.limits.timeout };
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
                let last_http_status = *state.call.last_http_status.lock().expect("last status lock");
                Err(plugin_failure(name, export, plugin_error, first_denial, std::mem::take(&mut planned), last_http_status))
            }
            Ok(Ok(Ok(value))) => Ok(value),
        };
        warn_denials(name, &denials, &result);
        let value = result?;
        let CallState { logs, events, .. } = state.call;
        Ok(Called { value, planned, logs, events, elapsed: started.elapsed() })
    }

    fn new_store(&self, plugin: &Plugin, setup: &CallSetup, deadline: Instant) -> Store<HostState> {
        let call = CallState::new(plugin.manifest.name.clone(), setup.policy.clone(), setup.context.dry_run, deadline, self.services.clone());
        let memory = setup.limits.memory_bytes.min(MAX_MEMORY_BYTES);
        let mut store = Store::new(&self.engine, HostState::new(call, memory));
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

fn link_everything(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    // Every plugin gets the same linker: what it may actually do is decided per
    // call by its policy, so an import alone grants nothing.
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    capability::http::link(linker)?;
    capability::log::link(linker)?;
    capability::fs::link(linker)?;
    capability::docker::link(linker)?;
    capability::process::link(linker)?;
    capability::notify::link(linker)?;
    capability::net::link(linker)?;
    Ok(())
}

fn typed_world(kind: Kind, pre: InstancePre<HostState>) -> wasmtime::Result<World> {
    Ok(match kind {
        Kind::SmokeCheck => World::SmokeCheck(smoke_check::SmokeCheckPre::new(pre)?),
        Kind::BackupStrategy => World::BackupStrategy(backup_strategy::BackupStrategyPre::new(pre)?),
        Kind::NamingTemplate => World::NamingTemplate(naming_template::NamingTemplatePre::new(pre)?),
        Kind::Notifier => World::Notifier(notifier::NotifierPre::new(pre)?),
    })
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
    let last_error = state.call.logs.iter().rev().find(|l| l.level == "error").map(|l| l.message.clone());
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
