//! What a plugin call costs, against bare wasmtime, and what the compiled cache
//! saves at start-up. Run with `cargo bench -p bosun --bench plugin_calls`.
//!
//! 1. Warm call: `Runtime::check` of the hostile-check test plugin in mode
//!    "noop" vs instantiating and calling an empty component on the same engine.
//! 2. Cold start: `Runtime::load` from a warm on-disk cache vs compiling.

#[path = "../tests/common/mod.rs"]
mod common;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bosun::capability::GrantSpec;
use bosun::plugin::{CacheOutcome, Runtime};
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

/// The bare baseline: a fresh store with an epoch deadline set the way the
/// runtime sets it, instantiate, call.
async fn bare_call(engine: &Engine, linker: &Linker<()>, component: &Component) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut store = Store::new(engine, ());
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline { Err(Trap::Interrupt.into()) } else { Ok(UpdateDeadline::Continue(1)) }
    });
    let instance = linker.instantiate_async(&mut store, component).await.expect("instantiate the empty component");
    let run = instance.get_typed_func::<(), ()>(&mut store, "run").expect("run export");
    run.call_async(&mut store, ()).await.expect("call run");
}

async fn warm_call() -> (Stats, Stats) {
    let (runtime, _dir) = common::runtime();
    let plugin = runtime.load(&common::test_plugin("hostile-check"), "hostile-check").unwrap();
    let setup = || common::setup(&plugin, json!({"mode": "noop"}), GrantSpec::default(), common::limits(5_000, 64));
    println!("warm call ({} allocator), {} iterations:", runtime.allocator.as_str(), WARM_ITERS);
    let bosun = sample(WARM_ITERS / 10, WARM_ITERS, || async {
        let called = runtime.check(&plugin, setup()).await.expect("noop check");
        assert!(called.value.passed);
    })
    .await;
    report("bosun Runtime::check (noop)", &bosun);

    let engine = runtime.engine();
    let component = Component::new(engine, EMPTY_COMPONENT).expect("compile the empty component");
    let linker = Linker::new(engine);
    let bare = sample(WARM_ITERS / 10, WARM_ITERS, || bare_call(engine, &linker, &component)).await;
    report("bare instantiate + call", &bare);
    (bosun, bare)
}

/// `Runtime::load` alone, on a new runtime (empty in-memory map) over `cache_dir`.
fn load_time(wasm: &[u8], cache_dir: PathBuf, expected: CacheOutcome) -> Duration {
    let runtime = Runtime::new(cache_dir).unwrap();
    let started = Instant::now();
    let plugin = runtime.load(wasm, "hostile-check").unwrap();
    let took = started.elapsed();
    assert_eq!(plugin.cache, expected);
    took
}

fn cold_start() -> (Stats, Stats) {
    let wasm = common::test_plugin("hostile-check");
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

const WARM_ITERS: usize = 5_000;
const CACHED_ITERS: usize = 30;
const COMPILE_ITERS: usize = 7;

fn main() {
    // The test plugin is built before anything is timed.
    common::test_plugin("hostile-check");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (bosun, bare) = rt.block_on(warm_call());
    let (compiled, cached) = cold_start();

    let warm_ratio = bosun.median.as_secs_f64() / bare.median.as_secs_f64();
    let cold_ratio = compiled.median.as_secs_f64() / cached.median.as_secs_f64();
    println!();
    println!(
        "warm call: bosun median {}µs, bare {}µs, ratio {warm_ratio:.2} (target <= 2.0){}",
        bosun.median.as_micros(),
        bare.median.as_micros(),
        if warm_ratio <= 2.0 { "" } else { "  MISSED" }
    );
    println!(
        "cold start: compile {}ms, cached {}ms, ratio {cold_ratio:.0}x (target >= 20x){}",
        compiled.median.as_millis(),
        cached.median.as_millis(),
        if cold_ratio >= 20.0 { "" } else { "  MISSED" }
    );
}
