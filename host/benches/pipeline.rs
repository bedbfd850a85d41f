//! Pipelines against what an operator would otherwise run, in the same run.
//! `cargo bench -p bosun --bench pipeline`.
//!
//! 1. Per-step overhead: `bosun run` of 20 `command` steps running
//!    `/bin/true` one after another, against a shell running `/bin/true` 20
//!    times; the difference over 20 (bosun's start-up included) is what bosun
//!    adds per step. Target: at most 5 ms.
//! 2. Large plans: load, validate and dry-run a generated 200-step graph
//!    (`bosun run big --dry-run`), against bosun's own start-up (`bosun
//!    pipeline list` of a one-step file). Target: at most 100 ms.
//!
//! `BOSUN_BENCH_ROUNDS` rounds (default 10), alternating sides; medians.

#[path = "../tests/common/mod.rs"]
mod common;
mod measure;

use std::process::Command;
use std::time::Duration;

use common::project::Project;
use measure::{median, timed};

const STEPS: usize = 20;
const BIG: usize = 200;

fn rounds() -> usize {
    std::env::var("BOSUN_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10)
}

fn main() {
    let (bosun, shell) = per_step();
    let per_step = (bosun.as_secs_f64() - shell.as_secs_f64()) / STEPS as f64;
    let (big, startup) = big_plan();
    println!("pipeline benchmarks (medians of {} rounds):", rounds());
    println!(
        "  {STEPS} steps:   bosun run {:.1}ms vs a shell running /bin/true {STEPS} times {:.1}ms: {:.2}ms per step (target <= 5ms) {}",
        bosun.as_secs_f64() * 1e3,
        shell.as_secs_f64() * 1e3,
        per_step * 1e3,
        verdict(per_step <= 0.005)
    );
    println!(
        "  {BIG}-step plan: bosun run --dry-run {:.1}ms (bosun's start-up alone {:.1}ms) (target <= 100ms) {}",
        big.as_secs_f64() * 1e3,
        startup.as_secs_f64() * 1e3,
        verdict(big.as_secs_f64() <= 0.1)
    );
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

fn command_step(id: &str, needs: &[String], argv: &str) -> String {
    let needs = needs.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
    format!("[[pipelines.p.steps]]\nid = \"{id}\"\nuses = \"command\"\nneeds = [{needs}]\nwith.argv = [{argv}]\n\n")
}

fn bosun(project: &Project, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bosun"));
    command.args(args).current_dir(project.path());
    command
}

fn per_step() -> (Duration, Duration) {
    let config: String = (0..STEPS).map(|i| command_step(&format!("s{i}"), &(i.checked_sub(1).map(|p| vec![format!("s{p}")]).unwrap_or_default()), "\"/bin/true\"")).collect();
    let project = Project::new(&config);
    let shell_line = vec!["/bin/true"; STEPS].join("; ");
    let (mut bosun_times, mut shell_times) = (Vec::new(), Vec::new());
    for round in 0..rounds() {
        let mut run_bosun = || bosun_times.push(timed("bosun run", &mut bosun(&project, &["run", "p"])));
        let mut run_shell = || shell_times.push(timed("sh", Command::new("/bin/sh").args(["-c", &shell_line])));
        if round % 2 == 0 {
            run_bosun();
            run_shell();
        } else {
            run_shell();
            run_bosun();
        }
    }
    (median(bosun_times), median(shell_times))
}

fn big_plan() -> (Duration, Duration) {
    // Each step needs up to three earlier ones: a wide, deep graph.
    let config: String = (0..BIG)
        .map(|i| {
            let needs: Vec<String> = [i / 2, i / 3, i.saturating_sub(7)].iter().filter(|&&n| n < i).map(|n| format!("s{n}")).collect();
            command_step(&format!("s{i}"), &needs, "\"/bin/echo\", \"${{ run.id }}\"")
        })
        .collect();
    let big = Project::new(&config);
    let small = Project::new(&command_step("only", &[], "\"/bin/true\""));
    let (mut big_times, mut startup_times) = (Vec::new(), Vec::new());
    for _ in 0..rounds() {
        big_times.push(timed("bosun run --dry-run", &mut bosun(&big, &["run", "p", "--dry-run"])));
        startup_times.push(timed("bosun pipeline list", &mut bosun(&small, &["pipeline", "list"])));
    }
    (median(big_times), median(startup_times))
}
