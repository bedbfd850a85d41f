//! Watching, against what a user would otherwise run, in the same run.
//! `cargo bench -p bosun --bench watch`.
//!
//! 1. One collection of 50 containers (in-process, after a first one: CPU
//!    is a change between two) against `docker stats --no-stream` of the same
//!    50; medians of `BOSUN_BENCH_ROUNDS` rounds (default 5). Target: ratio <= 1.0.
//! 2. `bosun watch` of those 50 containers and 200 processes every 15 s: its
//!    CPU time (user + system, from /proc) over `BOSUN_BENCH_WATCH_SECS`
//!    (default 300, five minutes) as a share of one core. Target: <= 1%.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/mod.rs"]
mod support;
mod measure;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bosun::config::Config;
use bosun::ops::watch::Watcher;
use bosun::procs::{self, Find};
use measure::{median, timed};

const CONTAINERS: usize = 50;
const PROCESSES: usize = 200;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The sleeping processes the bench watches; killed when dropped.
struct Sleepers(Vec<Child>);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn main() {
    support::require_engine();
    let prefix = support::unique("bench-watch");
    let names: Vec<String> = (0..CONTAINERS).map(|i| format!("{prefix}-{i}")).collect();
    let _guards: Vec<support::ContainerGuard> = names.iter().map(|name| support::ContainerGuard { name: name.clone() }).collect();
    let image = support::test_image();
    std::thread::scope(|scope| {
        for chunk in names.chunks(10) {
            let image = &image;
            scope.spawn(move || {
                for name in chunk {
                    support::docker(&["run", "--detach", "--no-healthcheck", "--label", support::TEST_LABEL, "--name", name, image, "sleep", "100000"]);
                }
            });
        }
    });
    let _sleepers = Sleepers((0..PROCESSES).map(|i| Command::new("sleep").arg(format!("4245.{i}")).spawn().unwrap()).collect());
    let project = tempfile::tempdir().unwrap();
    let processes: String = (0..PROCESSES).map(|i| format!("[watch.processes.p{i}]\ncmdline = \"sleep 4245.{i}\"\n\n")).collect();
    let config = format!("[project]\nname = \"{prefix}\"\n\n[watch]\ninterval = \"15s\"\n\n[watch.containers]\nprefix = [\"{prefix}-\"]\n\n{processes}");
    std::fs::write(project.path().join("bosun.toml"), config).unwrap();

    let (collection, stats) = bench_one_collection(&project.path().join("bosun.toml"), &names);
    let (cpu, window) = bench_watching(project.path());
    println!("watch benchmarks:");
    println!(
        "  one collection of {CONTAINERS} containers {:.3}s vs docker stats --no-stream of them {:.3}s  ratio {:.2} (target <= 1.0; medians)",
        collection.as_secs_f64(),
        stats.as_secs_f64(),
        collection.as_secs_f64() / stats.as_secs_f64()
    );
    println!(
        "  bosun watch of {CONTAINERS} containers and {PROCESSES} processes every 15s: {:.2}s of CPU in {}s = {:.3}% of one core (target <= 1%)",
        cpu.as_secs_f64(),
        window.as_secs(),
        cpu.as_secs_f64() / window.as_secs_f64() * 100.0
    );
}

/// A collection of the containers alone (the processes are not what
/// `docker stats` is compared with), and `docker stats --no-stream` of them.
fn bench_one_collection(file: &std::path::Path, names: &[String]) -> (Duration, Duration) {
    let mut config = Config::load(file, true).expect("bosun.toml");
    config.watch.processes.clear();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut watcher = Watcher::default();
    runtime.block_on(watcher.collect(&config));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..env_number("BOSUN_BENCH_ROUNDS", 5) {
        let start = Instant::now();
        let collection = runtime.block_on(watcher.collect(&config));
        ours.push(start.elapsed());
        assert_eq!(collection.samples.iter().filter(|s| s.state == "running" && s.cpu_percent.is_some()).count(), names.len(), "{:?}", collection.samples.first());
        theirs.push(timed("docker stats --no-stream", Command::new("docker").args(["stats", "--no-stream"]).args(names).stdout(Stdio::null())));
    }
    (median(ours), median(theirs))
}

/// `bosun watch` for the window: its CPU time, and the window.
fn bench_watching(dir: &std::path::Path) -> (Duration, Duration) {
    let window = Duration::from_secs(env_number("BOSUN_BENCH_WATCH_SECS", 300));
    let mut watching = Command::new(env!("CARGO_BIN_EXE_bosun")).current_dir(dir).arg("watch").stdout(Stdio::null()).spawn().unwrap();
    std::thread::sleep(window);
    let me = procs::find(&Find::Pid(watching.id()));
    let cpu = Duration::from_secs_f64(me.first().expect("bosun watch still runs").cpu_ticks as f64 / procs::ticks_per_second());
    let _ = watching.kill();
    let _ = watching.wait();
    (cpu, window)
}
