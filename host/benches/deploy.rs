//! Deploys and image checks against what an operator would otherwise do, in
//! the same run. `cargo bench -p bosun --bench deploy`.
//!
//! 1. Redeploy of one service (recreate, no checks, no healthcheck):
//!    `bosun deploy web 1 --force` vs `docker rm -f` + `docker run -d` of the same
//!    image, interleaved, `BOSUN_BENCH_ROUNDS` times (default 10); medians.
//! 2. `images check` of 20 images in a local registry (Debian's
//!    `docker-registry`): bosun's concurrent check vs the same checks one
//!    after another, in-process on one engine connection; medians of the
//!    rounds. Also against what a user would otherwise run: a shell loop of
//!    `docker image inspect` + `docker manifest inspect -v` per image, and
//!    the `bosun images check` command's wall time.
//! 3. A rollout to three hosts against a deploy to one of them: the same
//!    `bosun deploy web 1 --force`, to three harness engines (each a dockerd
//!    in its own network namespace) at once, and to one; medians of the
//!    rounds, interleaved. The docker CLI doing the same (`docker -H … rm -f`
//!    then `run -d` on each engine, the three at once) shows what three
//!    engines on this machine's two cores cost anyway.
//! 4. `bosun images check` of 10 services on three hosts (each engine with
//!    its own registry in its namespace) against the same on one host.
//!
//! 3 and 4 run twice. First with each engine (and its registry) held to a
//! third of the machine's cores by a cgroup, as three hosts of one size
//! would be: one host gets the same CPU whether one or three are asked, so
//! the ratio shows what bosun's going to hosts at once gives (the targets,
//! <= 1.5, are for this). Then sharing the cores, as they are on one machine:
//! there the engines' own work on two cores sets the ratio, the docker CLI's too.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/mod.rs"]
mod support;
mod measure;

use std::process::Command;
use std::time::{Duration, Instant};

use bosun::ops::deploy::client::DockerClient;
use bosun::ops::images::{ImageUse, check};
use measure::{median, timed};

const IMAGES: usize = 20;

fn rounds() -> usize {
    std::env::var("BOSUN_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10)
}

fn main() {
    support::require_engine();
    let (bosun, cli) = bench_redeploy();
    let (concurrent, sequential, command, cli_loop) = bench_images_check();
    let ((three, one), (cli_three, cli_one)) = bench_three_hosts(false);
    let ((check_three, check_one), (cpu_three, cpu_one), (busy_three, busy_one)) = bench_check_three_hosts(false);
    let ((sized_three, sized_one), (sized_cli_three, sized_cli_one)) = bench_three_hosts(true);
    let ((sized_check_three, sized_check_one), _, _) = bench_check_three_hosts(true);
    println!("deploy benchmarks (medians):");
    println!(
        "  redeploy:     bosun deploy {:.3}s vs docker rm -f + docker run {:.3}s  ratio {:.2} (target <= 1.15)",
        bosun.as_secs_f64(),
        cli.as_secs_f64(),
        bosun.as_secs_f64() / cli.as_secs_f64()
    );
    println!(
        "  images check: {IMAGES} images concurrently {:.3}s vs one after another {:.3}s  ratio {:.2} (in-process, on one engine connection)",
        concurrent.as_secs_f64(),
        sequential.as_secs_f64(),
        concurrent.as_secs_f64() / sequential.as_secs_f64(),
    );
    println!(
        "  images check: `bosun images check` {:.3}s vs a docker CLI loop (image inspect + manifest inspect) {:.3}s  ratio {:.2} (target <= 0.25)",
        command.as_secs_f64(),
        cli_loop.as_secs_f64(),
        command.as_secs_f64() / cli_loop.as_secs_f64()
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("  three hosts, each engine (and its registry) held to {:.2} of a core, as three hosts of one size would be:", cores as f64 / 3.0);
    println!(
        "    deploy:       bosun to 3 hosts {:.3}s vs to 1 host {:.3}s  ratio {:.2} (target <= 1.5); the docker CLI {:.3}s vs {:.3}s  ratio {:.2}",
        sized_three.as_secs_f64(),
        sized_one.as_secs_f64(),
        sized_three.as_secs_f64() / sized_one.as_secs_f64(),
        sized_cli_three.as_secs_f64(),
        sized_cli_one.as_secs_f64(),
        sized_cli_three.as_secs_f64() / sized_cli_one.as_secs_f64()
    );
    println!(
        "    images check: `bosun images check` on 3 hosts {:.3}s vs on 1 host {:.3}s  ratio {:.2} (target <= 1.5)",
        sized_check_three.as_secs_f64(),
        sized_check_one.as_secs_f64(),
        sized_check_three.as_secs_f64() / sized_check_one.as_secs_f64()
    );
    println!("  three hosts, the engines sharing this machine's {cores} cores (what three engines on one machine cost):");
    println!(
        "    deploy:       bosun to 3 hosts {:.3}s vs to 1 host {:.3}s  ratio {:.2}; the docker CLI {:.3}s vs {:.3}s  ratio {:.2}; bosun vs the CLI on 3: {:.2}",
        three.as_secs_f64(),
        one.as_secs_f64(),
        three.as_secs_f64() / one.as_secs_f64(),
        cli_three.as_secs_f64(),
        cli_one.as_secs_f64(),
        cli_three.as_secs_f64() / cli_one.as_secs_f64(),
        three.as_secs_f64() / cli_three.as_secs_f64()
    );
    println!(
        "    images check: on 3 hosts {:.3}s vs on 1 host {:.3}s  ratio {:.2}; bosun's own CPU {:.3}s vs {:.3}s; cores busy {:.0}% vs {:.0}%",
        check_three.as_secs_f64(),
        check_one.as_secs_f64(),
        check_three.as_secs_f64() / check_one.as_secs_f64(),
        cpu_three.as_secs_f64(),
        cpu_one.as_secs_f64(),
        busy_three * 100.0,
        busy_one * 100.0
    );
}

/// (busy, total) jiffies of all cores, from /proc/stat.
fn cpu_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let fields: Vec<u64> = stat.lines().next().unwrap().split_whitespace().skip(1).map(|f| f.parse().unwrap()).collect();
    let idle = fields[3] + fields[4];
    let total: u64 = fields.iter().sum();
    (total - idle, total)
}

/// CPU time (user + sys) of this process's finished children so far.
fn children_cpu() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    let time = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// `bosun images check` of 10 services on three hosts, and on one of them:
/// wall times, bosun's own CPU time, and how busy the machine's cores were; medians.
fn bench_check_three_hosts(one_host_each: bool) -> ((Duration, Duration), (Duration, Duration), (f64, f64)) {
    const SERVICES: usize = 10;
    let (engines, caps) = three_engines(one_host_each);
    let _registries: Vec<_> = engines.iter().map(|e| e.registry()).collect();
    caps.iter().zip(&_registries).for_each(|(cap, registry)| cap.hold_pid(registry.pid()));
    let image = support::test_image();
    let mut services = String::new();
    for engine in &engines {
        engine.load(&image);
    }
    for i in 0..SERVICES {
        let reference = format!("127.0.0.1:5000/bench/s{i}:1");
        engines.iter().for_each(|e| e.push(&image, &reference));
        services.push_str(&format!("[services.s{i}]\nimage = \"127.0.0.1:5000/bench/s{i}\"\nversion = \"1\"\nroles = [\"web\"]\n\n"));
    }
    let project = |roles: [&str; 3]| {
        let dir = tempfile::tempdir().unwrap();
        let hosts: String = engines.iter().zip(["b", "c", "d"]).zip(roles).map(|((e, host), role)| format!("[hosts.{host}]\ndocker = \"{}\"\nroles = [\"{role}\"]\n\n", e.url())).collect();
        std::fs::write(dir.path().join("bosun.toml"), format!("[project]\nname = \"bench-check-hosts\"\n\n{hosts}{services}")).unwrap();
        dir
    };
    let (three_hosts, one_host) = (project(["web", "web", "web"]), project(["web", "spare", "spare"]));
    let check = |dir: &tempfile::TempDir| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bosun"));
        c.current_dir(dir.path()).args(["images", "check"]);
        c
    };
    timed("images check on three hosts", &mut check(&three_hosts));
    let (mut three, mut one, mut cpu_three, mut cpu_one, mut busy_three, mut busy_one) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Wall time, bosun's CPU time and the cores' busy share of one run.
    let measure = |what: &str, dir: &tempfile::TempDir| {
        let (cpu, (busy, total)) = (children_cpu(), cpu_jiffies());
        let wall = timed(what, &mut check(dir));
        let (busy_after, total_after) = cpu_jiffies();
        (wall, children_cpu() - cpu, (busy_after - busy) as f64 / (total_after - total).max(1) as f64)
    };
    for _ in 0..rounds() {
        let (wall, cpu, busy) = measure("images check on three hosts", &three_hosts);
        three.push(wall);
        cpu_three.push(cpu);
        busy_three.push(busy);
        let (wall, cpu, busy) = measure("images check on one host", &one_host);
        one.push(wall);
        cpu_one.push(cpu);
        busy_one.push(busy);
    }
    ((median(three), median(one)), (median(cpu_three), median(cpu_one)), (measure::median_of(busy_three), measure::median_of(busy_one)))
}

/// Three harness engines; with `one_host_each`, each held to a third of the
/// machine's cores (with its registry, when it has one), as three hosts of
/// one size would be.
fn three_engines(one_host_each: bool) -> ([support::engines::Engine; 3], Vec<support::engines::CpuCap>) {
    let engines = [support::engines::Engine::start(), support::engines::Engine::start(), support::engines::Engine::start()];
    let share = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64 / 3.0;
    let caps = match one_host_each {
        true => engines.iter().map(|e| (support::engines::CpuCap::new(share), e)).map(|(cap, e)| { cap.hold(e); cap }).collect(),
        false => Vec::new(),
    };
    (engines, caps)
}

/// (bosun to three hosts, to one), (the docker CLI on three engines, on one).
fn bench_three_hosts(one_host_each: bool) -> ((Duration, Duration), (Duration, Duration)) {
    let (engines, _caps) = three_engines(one_host_each);
    let name = format!("bench-hosts-{}", std::process::id());
    let image = format!("bosun-bench/{name}:1");
    support::docker(&["tag", &support::test_image(), &image]);
    engines.iter().for_each(|e| e.load(&image));
    let hosts: String = engines.iter().zip(["b", "c", "d"]).map(|(e, host)| format!("[hosts.{host}]\ndocker = \"{}\"\n\n", e.url())).collect();
    let project = |on: &str| {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[project]\nname = \"{name}\"\n\n{hosts}[services.web]\nimage = \"bosun-bench/{name}\"\nretain = 0\nhealthcheck = {{ test = [\"NONE\"] }}\nhosts = [{on}]\n"
        );
        std::fs::write(dir.path().join("bosun.toml"), config).unwrap();
        dir
    };
    let (three_hosts, one_host) = (project("\"b\", \"c\", \"d\""), project("\"b\""));
    let deploy = |dir: &tempfile::TempDir| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bosun"));
        c.current_dir(dir.path()).args(["deploy", "web", "1", "--force"]);
        c
    };
    timed("first deploy to three hosts", &mut deploy(&three_hosts));
    let cli_name = format!("{name}-cli");
    // rm -f then run -d on each engine given, the engines at once.
    let cli = |on: &[support::engines::Engine]| {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for engine in on {
                scope.spawn(|| {
                    engine.docker(&["rm", "-f", &cli_name]);
                    let run = engine.docker(&["run", "--detach", "--no-healthcheck", "--name", &cli_name, &image]);
                    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
                });
            }
        });
        start.elapsed()
    };
    cli(&engines);
    let (mut three, mut one, mut cli_three, mut cli_one) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds() {
        three.push(timed("deploy to three hosts", &mut deploy(&three_hosts)));
        one.push(timed("deploy to one host", &mut deploy(&one_host)));
        cli_three.push(cli(&engines));
        cli_one.push(cli(&engines[..1]));
    }
    let _ = Command::new("docker").args(["rmi", &image]).output();
    ((median(three), median(one)), (median(cli_three), median(cli_one)))
}

fn bench_redeploy() -> (Duration, Duration) {
    let name = format!("bench-deploy-{}", std::process::id());
    let image = format!("bosun-bench/{name}:1");
    support::docker(&["tag", &support::test_image(), &image]);
    let project = tempfile::tempdir().unwrap();
    let config = format!(
        "[project]\nname = \"{name}\"\n\n[services.web]\nimage = \"bosun-bench/{name}\"\nretain = 0\nhealthcheck = {{ test = [\"NONE\"] }}\n"
    );
    std::fs::write(project.path().join("bosun.toml"), config).unwrap();
    let bosun = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bosun"));
        c.current_dir(project.path()).args(["deploy", "web", "1", "--force"]);
        c
    };
    let cli_name = format!("{name}-cli");
    let _cli_guard = support::ContainerGuard { name: cli_name.clone() };
    let docker_run = || {
        let mut c = Command::new("docker");
        c.args(["run", "--detach", "--no-healthcheck", "--label", support::TEST_LABEL, "--name", &cli_name, &image]);
        c
    };
    timed("first bosun deploy", &mut bosun());
    timed("first docker run", &mut docker_run());
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds() {
        ours.push(timed("bosun deploy", &mut bosun()));
        let start = Instant::now();
        timed("docker rm -f", Command::new("docker").args(["rm", "-f", &cli_name]));
        timed("docker run", &mut docker_run());
        theirs.push(start.elapsed());
    }
    let ids = Command::new("docker").args(["ps", "-aq", "--filter", &format!("label=bosun.project={name}")]).output().unwrap();
    for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
        let _ = Command::new("docker").args(["rm", "-f", id]).output();
    }
    let _ = Command::new("docker").args(["rmi", &image]).output();
    (median(ours), median(theirs))
}

fn bench_images_check() -> (Duration, Duration, Duration, Duration) {
    let registry = support::Registry::start();
    let name = format!("bench-check-{}", std::process::id());
    let mut uses = Vec::new();
    let mut services = String::new();
    for i in 0..IMAGES {
        let (pushed, _) = registry.push(&support::test_image(), &format!("{name}/s{i}:1"));
        let repo = pushed.rsplit_once(':').unwrap().0;
        services.push_str(&format!("[services.s{i}]\nimage = \"{repo}\"\nversion = \"1\"\n\n"));
        uses.push(ImageUse { image: pushed, services: vec![format!("s{i}")] });
    }
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("bosun.toml"), format!("[project]\nname = \"{name}\"\n\n{services}")).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let engine = runtime.block_on(DockerClient::open()).expect("the Docker engine");
    let (mut concurrent, mut sequential, mut command, mut cli_loop) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds() {
        let start = Instant::now();
        let checks = runtime.block_on(check::check_all(&engine, uses.clone()));
        concurrent.push(start.elapsed());
        assert!(checks.iter().all(|c| c.status == check::Status::UpToDate), "{checks:?}");
        let start = Instant::now();
        for image in &uses {
            let one = runtime.block_on(check::check_one(&engine, image.clone()));
            assert_eq!(one.status, check::Status::UpToDate, "{one:?}");
        }
        sequential.push(start.elapsed());
        command.push(timed("bosun images check", Command::new(env!("CARGO_BIN_EXE_bosun")).current_dir(project.path()).args(["images", "check"])));
        let start = Instant::now();
        for image in &uses {
            timed("docker image inspect", Command::new("docker").args(["image", "inspect", "--format", "{{.RepoDigests}}", &image.image]));
            timed("docker manifest inspect", Command::new("docker").args(["manifest", "inspect", "--insecure", "-v", &image.image]));
        }
        cli_loop.push(start.elapsed());
    }
    for image in &uses {
        let _ = Command::new("docker").args(["rmi", &image.image]).output();
    }
    (median(concurrent), median(sequential), median(command), median(cli_loop))
}
