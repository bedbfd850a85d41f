//! What a plugin call costs, against bare wasmtime, and what the compiled cache
//! saves at start-up. Run with `cargo bench -p bosun --bench plugin_calls`.
//!
//! 1. Warm call: `Runtime::check` of the noop-check test plugin (passes at
//!    once, asks for nothing) vs instantiating and calling an empty component
//!    on the same engine.
//!    For scale it also times the same plugin on bare wasmtime (bosun's linker
//!    and host state, no `Runtime` around it): bosun's own per-call overhead is
//!    the difference between those two, the rest is the plugin's weight.
//! 2. Cold start: `Runtime::load` from a warm on-disk cache vs compiling.
//!
//! `cargo bench -p bosun --bench plugin_calls -- warm` (or `cold`) runs one part.

#[path = "../tests/common/mod.rs"]
mod common;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::sync::Arc;

use bosun::capability::{self, CallScope, GrantSpec, HostServices, HostState};
use bosun::bindings::smoke_check::SmokeCheckPre;
use bosun::plugin::{CacheOutcome, CallSetup, Runtime};
use serde_json::json;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

/// An empty component: `run: func()` lifted from a core function doing nothing.
const EMPTY_COMPONENT: &str = r#"
(component
  (core module $m (func (export "run")))
  (core instance $i (instantiate $m))
  (func (export "run") (canon lift (core func $i "run"))))
"#;

/// The floor for any plugin: the empty component plus the one thing every
/// compiled guest has, a linear memory (one page, one word written per call).
const MEMORY_COMPONENT: &str = r#"
(component
  (core module $m
    (memory (export "memory") 1)
    (func (export "run") i32.const 0 i32.const 1 i32.store))
  (core instance $i (instantiate $m))
  (func (export "run") (canon lift (core func $i "run"))))
"#;

struct Stats {
    median: Duration,
    p90: Duration,
}

/// Runs `f` `warmup` times untimed, then `iters` times timed.
async fn sample<F: Future<Output = ()>>(warmup: usize, iters: usize, mut f: impl FnMut() -> F) -> Stats {
    for _ in 0..warmup {
        f().await;
    }
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let started = Instant::now();
        f().await;
        times.push(started.elapsed());
    }
    stats(times)
}

fn stats(mut times: Vec<Duration>) -> Stats {
    times.sort();
    Stats { median: times[times.len() / 2], p90: times[times.len() * 9 / 10] }
}

fn report(name: &str, stats: &Stats) {
    println!("  {name:<28} median {:>10.1?}  p90 {:>10.1?}", stats.median, stats.p90);
}

/// A fresh store with an epoch deadline set the way the runtime sets it.
fn store<T>(engine: &Engine, data: T) -> Store<T> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut store = Store::new(engine, data);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline { Err(Trap::Interrupt.into()) } else { Ok(UpdateDeadline::Continue(1)) }
    });
    store
}

/// The bare baseline: instantiate the empty component in a fresh store, call it.
async fn bare_call(engine: &Engine, linker: &Linker<()>, component: &Component) {
    let mut store = store(engine, ());
    let instance = linker.instantiate_async(&mut store, component).await.expect("instantiate the empty component");
    let run = instance.get_typed_func::<(), ()>(&mut store, "run").expect("run export");
    run.call_async(&mut store, ()).await.expect("call run");
}

/// The noop-check plugin pre-instantiated on bare wasmtime with bosun's host
/// interfaces linked (what `Runtime::new` links).
fn bare_plugin(engine: &Engine, wasm: &[u8]) -> SmokeCheckPre<HostState> {
    let mut linker = Linker::new(engine);
    capability::link_all(&mut linker).unwrap();
    let component = Component::new(engine, wasm).unwrap();
    SmokeCheckPre::new(linker.instantiate_pre(&component).unwrap()).unwrap()
}

/// (bosun, same plugin on bare wasmtime, empty component, component with a memory)
async fn warm_call() -> (Stats, Stats, Stats, Stats) {
    let (runtime, _dir) = common::runtime();
    let wasm = common::test_plugin("noop-check");
    let plugin = runtime.load(&wasm, "noop-check").unwrap();
    // The policy is built once, as the CLI does; each call gets a copy of the setup.
    let base = common::setup(&plugin, json!({}), GrantSpec::default(), common::limits(5_000, 64));
    let setup = || CallSetup { context: base.context.clone(), policy: base.policy.clone(), limits: base.limits, progress: None };
    println!("warm call ({} allocator), {} iterations:", runtime.allocator.as_str(), WARM_ITERS);
    let bosun = sample(WARM_ITERS / 10, WARM_ITERS, || async {
        let called = runtime.check(&plugin, setup()).await.expect("noop check");
        assert!(called.value.passed);
    })
    .await;
    report("bosun Runtime::check (noop)", &bosun);

    let engine = runtime.engine();
    let (pre, services) = (bare_plugin(engine, &wasm), Arc::new(HostServices::default()));
    let same_plugin = sample(WARM_ITERS / 10, WARM_ITERS, || async {
        let call = CallScope::new("noop-check", base.policy.clone(), false, Instant::now() + base.limits.timeout);
        let mut store = store(engine, HostState::new(call, services.clone(), None, base.limits.memory_bytes));
        store.limiter(|state| &mut state.limiter);
        let instance = pre.instantiate_async(&mut store).await.unwrap();
        assert!(instance.bosun_plugin_check().call_check(&mut store, &base.context).await.unwrap().unwrap().passed);
    })
    .await;
    report("same plugin, bare wasmtime", &same_plugin);

    let linker = Linker::new(engine);
    let component = Component::new(engine, EMPTY_COMPONENT).expect("compile the empty component");
    let bare = sample(WARM_ITERS / 10, WARM_ITERS, || bare_call(engine, &linker, &component)).await;
    report("empty component, bare", &bare);
    let with_memory = Component::new(engine, MEMORY_COMPONENT).expect("compile the memory component");
    let floor = sample(WARM_ITERS / 10, WARM_ITERS, || bare_call(engine, &linker, &with_memory)).await;
    report("component with a memory", &floor);
    (bosun, same_plugin, bare, floor)
}

/// `Runtime::load` alone, on a new runtime (empty in-memory map) over `cache_dir`.
fn load_time(wasm: &[u8], cache_dir: PathBuf, expected: CacheOutcome) -> Duration {
    let runtime = Runtime::new(cache_dir).unwrap();
    let started = Instant::now();
    let plugin = runtime.load(wasm, "noop-check").unwrap();
    let took = started.elapsed();
    assert_eq!(plugin.cache, expected);
    took
}

fn cold_start() -> (Stats, Stats) {
    let wasm = common::test_plugin("noop-check");
    let dir = tempfile::tempdir().unwrap();
    let warm_dir = dir.path().join("cache");
    load_time(&wasm, warm_dir.clone(), CacheOutcome::Compiled); // fills the cache
    println!("cold start (Runtime::load only):");
    let cached = stats((0..CACHED_ITERS).map(|_| load_time(&wasm, warm_dir.clone(), CacheOutcome::Hit)).collect());
    report(&format!("from cache ({CACHED_ITERS} iterations)"), &cached);
    let compiled = stats(
        (0..COMPILE_ITERS)
            .map(|_| {
                let empty = tempfile::tempdir().unwrap();
                load_time(&wasm, empty.path().join("cache"), CacheOutcome::Compiled)
            })
            .collect(),
    );
    report(&format!("compile ({COMPILE_ITERS} iterations)"), &compiled);
    (compiled, cached)
}

const WARM_ITERS: usize = 10_000;
const CACHED_ITERS: usize = 30;
const COMPILE_ITERS: usize = 7;

fn main() {
    // With RUST_BACKTRACE=1 in the environment wasmtime captures a backtrace on
    // every store drop (disposing its fiber makes an error), ~10µs a call on
    // both sides; measure what a normal run costs unless told otherwise.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    // The test plugin is built before anything is timed.
    common::test_plugin("noop-check");
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let run = |part: &str| only.is_empty() || only.iter().any(|o| o == part);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let warm = run("warm").then(|| rt.block_on(warm_call()));
    let cold = run("cold").then(cold_start);

    println!();
    if let Some((bosun, same_plugin, bare, floor)) = warm {
        let us = |stats: &Stats| stats.median.as_secs_f64() * 1e6;
        let ratio = us(&bosun) / us(&bare);
        println!(
            "warm call: bosun median {:.0}µs, bare {:.0}µs, ratio {ratio:.2} (target <= 2.0){}",
            us(&bosun),
            us(&bare),
            if ratio <= 2.0 { "" } else { "  MISSED" }
        );
        println!(
            "           same plugin on bare wasmtime {:.0}µs: bosun's own overhead {:+.0}%",
            us(&same_plugin),
            (us(&bosun) / us(&same_plugin) - 1.0) * 100.0
        );
        println!(
            "           a component with only a memory {:.1}µs = {:.2}x the empty one (the floor for any compiled plugin)",
            us(&floor),
            us(&floor) / us(&bare)
        );
    }
    if let Some((compiled, cached)) = cold {
        let ratio = compiled.median.as_secs_f64() / cached.median.as_secs_f64();
        println!(
            "cold start: compile {:.0}ms, cached {:.1}ms, ratio {ratio:.0}x (target >= 20x){}",
            compiled.median.as_secs_f64() * 1e3,
            cached.median.as_secs_f64() * 1e3,
            if ratio >= 20.0 { "" } else { "  MISSED" }
        );
    }
}
