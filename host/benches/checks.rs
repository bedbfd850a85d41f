//! A suite of 50 HTTP checks against a loopback server that answers each
//! request after 100 ms: `bosun check` (wall time of the whole command) vs
//! the sum of the checks' own times when each runs alone.
//! `cargo bench -p bosun --bench checks` (`BOSUN_BENCH_ROUNDS`, default 3).

mod measure;

use std::process::Command;
use std::time::{Duration, Instant};

use measure::{median, secs};

const CHECKS: usize = 50;
const DELAY: Duration = Duration::from_millis(100);

fn main() {
    let rounds: usize = std::env::var("BOSUN_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let slow = axum::Router::new().fallback(|| async {
        tokio::time::sleep(DELAY).await;
        "ok"
    });
    runtime.spawn(async move { axum::serve(listener, slow).await.unwrap() });

    let project = tempfile::tempdir().unwrap();
    let mut config = format!("[plugins.http]\ngrant.http = [\"{server}\"]\n\n");
    for i in 0..CHECKS {
        config.push_str(&format!("[checks.c{i:02}]\nplugin = \"http\"\nurl = \"{server}/{i}\"\nconditions = [\"[STATUS] == 200\"]\n\n"));
    }
    std::fs::write(project.path().join("bosun.toml"), config).unwrap();
    let bosun = |args: &[&str]| -> (Duration, Vec<serde_json::Value>) {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_bosun")).current_dir(project.path()).args(args).arg("--json").output().unwrap();
        let elapsed = start.elapsed();
        assert!(out.status.success(), "bosun {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        (elapsed, serde_json::from_slice(&out.stdout).unwrap())
    };
    bosun(&["check", "c00"]); // compiles the http plugin into the cache

    let (mut suite, mut alone) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        suite.push(bosun(&["check"]).0);
        let mut sum = Duration::ZERO;
        for i in 0..CHECKS {
            let (_, reports) = bosun(&["check", &format!("c{i:02}")]);
            sum += Duration::from_millis(reports[0]["elapsed_ms"].as_u64().unwrap());
        }
        alone.push(sum);
    }
    let (suite, alone) = (median(suite), median(alone));
    println!("check benchmark (medians of {rounds}):");
    println!(
        "  {CHECKS} http checks, server answers after {} ms: `bosun check` {:.3}s vs the checks alone {:.3}s summed  ratio {:.3} (target <= 0.1)",
        DELAY.as_millis(),
        secs(suite),
        secs(alone),
        secs(suite) / secs(alone)
    );
}
