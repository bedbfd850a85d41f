//! `bosun serve` under load, on loopback, with the release build.
//! `cargo bench -p bosun --bench serve`.
//!
//! 1. Idle: RSS and CPU of a freshly started serve over 5 s. Targets: RSS
//!    at most 60 MiB, CPU about 0.
//! 2. Many readers: 200 clients, each on its own keep-alive connection,
//!    send a request every 200 ms for 10 s (10,000 requests in all,
//!    alternating `GET /api/v1/runs?limit=50` over 1,000 recorded runs and
//!    `GET /metrics`); every answer is timed. Targets: p99 at most 20 ms, no
//!    errors. The load is bounded (a fixed pace per client) rather than
//!    as-fast-as-possible: 200 closed-loop clients on 2 cores would measure
//!    the queue the load generator builds, not serve.
//! 3. Many followers: 100 clients follow one run's events while it prints
//!    500 lines. Target: every client receives every line, in order.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::project::Project;
use common::server::{Server, token};

const CLIENTS: usize = 200;
const PACE: Duration = Duration::from_millis(200);
const LOAD_FOR: Duration = Duration::from_secs(10);
const FOLLOWERS: usize = 100;
const LINES: usize = 500;

fn main() {
    let p = Project::new(&format!(
        "[[pipelines.talk.steps]]\nid = \"count\"\nuses = \"command\"\nwith.argv = [\"/bin/sh\", \"-c\", \"i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); echo line $i; sleep 0.005; done\"]\n"
    ));
    seed_runs(&p);
    let viewer = token(&p, "bench", "operator");
    let server = Server::start(&p);

    let (rss, cpu) = idle(&server);
    println!("idle serve: RSS {rss:.1} MiB (target at most 60), CPU {cpu:.2}% over 5 s (target about 0)");

    let (latencies, errors) = readers(&server, &viewer);
    let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{CLIENTS} clients, a request every {} ms each for {} s: {} answers, {errors} errors; p50 {:.2} ms, p99 {:.2} ms (target at most 20), max {:.2} ms",
        PACE.as_millis(),
        LOAD_FOR.as_secs(),
        latencies.len(),
        p(0.50),
        p(0.99),
        p(1.0)
    );
    let (rss_after, _) = idle(&server);
    println!("after the load: RSS {rss_after:.1} MiB");

    let (complete, took) = followers(&server, &viewer);
    println!("{FOLLOWERS} clients following one run of {LINES} lines: {complete} received every line in order (target {FOLLOWERS}), the last done {:.1} s after the run started", took.as_secs_f64());
}

/// 1,000 finished runs in the record, as months of use leave.
fn seed_runs(p: &Project) {
    let state = bosun::state::State::open(&p.path().join(".bosun")).unwrap();
    for n in 0..1000u32 {
        let run = state.start_run("pipeline", if n.is_multiple_of(2) { "talk" } else { "nightly" }).unwrap();
        state.finish_run(run, bosun::state::Outcome::Succeeded, "1 steps: 1 succeeded", "").unwrap();
    }
}

/// Serve's RSS (MiB) now, and its CPU use (%) over the next 5 s.
fn idle(server: &Server) -> (f64, f64) {
    let pid = server.child.id();
    let ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    std::thread::sleep(Duration::from_secs(1));
    let before = ticks();
    std::thread::sleep(Duration::from_secs(5));
    let used = ticks() - before;
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib: f64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches(" kB").trim().parse().unwrap();
    (rss_kib / 1024.0, used as f64 / hz / 5.0 * 100.0)
}

/// One keep-alive request: its status, the body read whole.
fn get(stream: &mut BufReader<TcpStream>, addr: &str, path: &str, token: &str) -> std::io::Result<u16> {
    // One write: a request in pieces would wait on Nagle's algorithm.
    stream.get_mut().write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes())?;
    let mut status = 0;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line)?;
        if status == 0 {
            status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        } else if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        } else if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    Ok(status)
}

/// Every answer's time, sorted, and how many requests failed.
fn readers(server: &Server, token: &str) -> (Vec<Duration>, usize) {
    let start = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (addr, token, start) = (server.addr.clone(), token.to_string(), start.clone());
            std::thread::spawn(move || {
                let connect = || {
                    let stream = TcpStream::connect(&addr).unwrap();
                    stream.set_nodelay(true).unwrap();
                    BufReader::new(stream)
                };
                let mut stream = connect();
                let (mut times, mut errors) = (Vec::new(), 0);
                start.wait();
                // Spread the clients over the pace, as independent people would be.
                std::thread::sleep(PACE * n as u32 / CLIENTS as u32);
                let began = Instant::now();
                let mut k = 0u32;
                while began.elapsed() < LOAD_FOR {
                    let path = if k.is_multiple_of(2) { "/api/v1/runs?limit=50" } else { "/metrics" };
                    let sent = Instant::now();
                    match get(&mut stream, &addr, path, &token) {
                        Ok(200) => times.push(sent.elapsed()),
                        _ => {
                            errors += 1;
                            stream = connect();
                        }
                    }
                    k += 1;
                    let next = began + PACE * k;
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
                (times, errors)
            })
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for client in clients {
        let (times, failed) = client.join().unwrap();
        all.extend(times);
        errors += failed;
    }
    all.sort();
    (all, errors)
}

/// How many followers got every line in order, and when the last was done.
fn followers(server: &Server, token: &str) -> (usize, Duration) {
    let (status, started) = server.json("POST", "/api/v1/pipelines/talk/runs", token, None);
    assert_eq!(status, 202, "{started}");
    let run = started["run_id"].as_i64().unwrap();
    let began = Instant::now();
    let clients: Vec<_> = (0..FOLLOWERS)
        .map(|_| {
            let mut events = server.events(token, run, None);
            std::thread::spawn(move || {
                let mut numbers = Vec::new();
                while let Some(event) = events.next_event() {
                    if event.event == "line" {
                        let text = event.data["data"]["text"].as_str().unwrap_or_default().to_string();
                        if let Some(n) = text.strip_prefix("line ").and_then(|n| n.parse::<usize>().ok()) {
                            numbers.push(n);
                        }
                    }
                }
                numbers == (1..=LINES).collect::<Vec<_>>()
            })
        })
        .collect();
    let complete = clients.into_iter().map(|c| c.join().unwrap()).filter(|ok| *ok).count();
    (complete, began.elapsed())
}
