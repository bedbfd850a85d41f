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
//! 3. Deploy with safety: `bosun run` of backup → deploy → check against the
//!    same verbs from a shell (`bosun backup run && bosun deploy … --force &&
//!    bosun check`), on the real engine with the tests' image. Target: at
//!    most 1.1×.
//!
//! `BOSUN_BENCH_ROUNDS` rounds (default 10), alternating sides; medians.

#[path = "../tests/common/mod.rs"]
mod common;
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

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
    let (pipeline, script) = deploy_with_safety();
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
    let ratio = pipeline.as_secs_f64() / script.as_secs_f64();
    println!(
        "  deploy with safety: bosun run {:.3}s vs the verbs from a shell {:.3}s  ratio {ratio:.2} (target <= 1.1) {}",
        pipeline.as_secs_f64(),
        script.as_secs_f64(),
        verdict(ratio <= 1.1)
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

fn deploy_with_safety() -> (Duration, Duration) {
    support::require_engine();
    let port = support::deploys::free_port();
    let d = support::deploys::Deploys::new("bench-safety", "");
    d.image("1", &[]);
    let dir = d.project.path();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for i in 0..100 {
        std::fs::write(dir.join(format!("data/{i}.txt")), format!("row {i}\n").repeat(100)).unwrap();
    }
    let service = format!("ports = [\"127.0.0.1:{port}:8080\"]\nretain = 0\nstop_timeout = 2");
    let extra = format!(
        "[backups.data]\nstrategy = \"dir-archive\"\ndest = \"{d}/backups\"\npaths = [\"{d}/data\"]\n\n[backups.data.retention]\nkeep-last = 2\n\n\
         [plugins.dir-archive.grant]\nfs = [\"ro:{d}/data\"]\n\n\
         [checks.home]\nplugin = \"http\"\nurl = \"http://127.0.0.1:{port}/\"\n\n[plugins.http]\ngrant.http = [\"http://127.0.0.1:{port}\"]\n\n\
         [[pipelines.safe.steps]]\nid = \"backup\"\nuses = \"backup\"\nwith = {{ set = \"data\" }}\n\n\
         [[pipelines.safe.steps]]\nid = \"deploy\"\nuses = \"deploy\"\nneeds = [\"backup\"]\nwith = {{ service = \"web\", version = \"1\", force = true }}\n\n\
         [[pipelines.safe.steps]]\nid = \"check\"\nuses = \"check\"\nneeds = [\"deploy\"]\nwith = {{ checks = [\"home\"] }}\n",
        d = dir.display()
    );
    d.configure_with(&service, &extra);
    let bin = env!("CARGO_BIN_EXE_bosun");
    let script = format!("{bin} backup run data && {bin} deploy web 1 --force && {bin} check home");
    let run_pipeline = || bosun(&d.project, &["run", "safe"]);
    timed("first deploy", &mut bosun(&d.project, &["deploy", "web", "1"]));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..rounds() {
        let mut pipeline = || ours.push(timed("bosun run safe", &mut run_pipeline()));
        let mut shell = || theirs.push(timed("the verbs from a shell", Command::new("/bin/sh").current_dir(&dir).args(["-c", &script])));
        if round % 2 == 0 {
            pipeline();
            shell();
        } else {
            shell();
            pipeline();
        }
        // Retention keeps the backups from piling up for both sides alike.
        timed("prune", &mut bosun(&d.project, &["backup", "prune", "data"]));
    }
    let ids = Command::new("docker").args(["ps", "-aq", "--filter", &format!("label=bosun.project={}", d.name)]).output().unwrap();
    for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
        let _ = Command::new("docker").args(["rm", "-f", id]).output();
    }
    (median(ours), median(theirs))
}
