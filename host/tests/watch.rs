//! `[watch]`, `bosun watch` and `bosun stats`, against the real engine (a
//! deployed service, a container spinning a core), real processes on this
//! machine, a harness engine that goes away, and the real state store.

use crate::{common, support};

use common::project::{stderr, stdout};
use serde_json::Value;
use support::engines::Engine;

fn samples(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}{}", stdout(out), stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

fn sample<'a>(collection: &'a Value, target: &str) -> &'a Value {
    collection["samples"].as_array().unwrap().iter().find(|s| s["target"] == target).unwrap_or_else(|| panic!("no sample of {target}: {collection:#}"))
}

#[test]
fn watch_samples_a_service_a_container_by_prefix_and_processes_and_stats_reads_them_back() {
    support::require_engine();
    let web = support::deploys::Deploys::new("watch", "");
    web.image("1.0", &[]);
    let spinner = format!("{}-spin", web.name);
    let _guard = support::ContainerGuard { name: spinner.clone() };
    support::docker(&["run", "--detach", "--name", &spinner, "--label", support::TEST_LABEL, "--no-healthcheck", &support::test_image(), "spin"]);
    let mut sleeper = std::process::Command::new("sleep").arg("4242.7").spawn().unwrap();
    web.configure_with(
        "",
        &format!(
            "[watch.containers]\nservices = [\"web\"]\nprefix = [\"{spinner}\"]\nlabel = [\"nobody.has=this\"]\n\n\
             [watch.processes.sleeper]\ncmdline = \"sleep 4242.7\"\n\n[watch.processes.gone]\nname = \"no-such-program\"\n"
        ),
    );
    let before = samples(&web.bosun(&["watch", "--once", "--json"]));
    assert_eq!(sample(&before, "web")["state"], "missing", "nothing deployed yet: {before:#}");

    support::deploys::succeeded(&web.bosun(&["deploy", "web", "1.0"]));
    let collection = samples(&web.bosun(&["watch", "--once", "--json"]));
    let service = sample(&collection, "web");
    assert_eq!((service["kind"].as_str(), service["state"].as_str(), service["health"].as_str()), (Some("container"), Some("running"), Some("healthy")), "{service:#}");
    assert!(service["detail"].as_str().unwrap().starts_with(&web.name), "the container's name: {service:#}");
    assert!(service["memory_bytes"].as_i64().unwrap() > 0 && service["pids"].as_i64() == Some(1) && service["restarts"] == 0, "{service:#}");

    let spinning = sample(&collection, &spinner);
    assert!(spinning["cpu_percent"].as_f64().unwrap() > 50.0, "a spinning container uses most of a core: {spinning:#}");

    let process = sample(&collection, "sleeper");
    assert_eq!((process["kind"].as_str(), process["state"].as_str(), process["pids"].as_i64()), (Some("process"), Some("running"), Some(1)), "{process:#}");
    assert_eq!(process["detail"], format!("pids {}", sleeper.id()));
    assert!(process["memory_bytes"].as_i64().unwrap() > 0 && process["threads"] == 1 && process["fds"].as_i64().unwrap() >= 3, "{process:#}");
    assert_eq!(sample(&collection, "gone")["state"], "missing");
    let unmatched: Vec<&str> = collection["unmatched"].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
    assert_eq!(unmatched, ["watch.containers label \"nobody.has=this\": no container matches", "watch.processes.gone: no process matches"]);

    // The text table has a row per target.
    let table = stdout(&web.bosun(&["watch", "--once"]));
    assert!(table.lines().next().unwrap().starts_with("KIND") && table.lines().any(|l| l.starts_with("process") && l.contains("sleeper") && l.contains("running")), "{table}");

    // Status shows the newest samples beside each service, and the watched processes; one missing is red.
    let status = web.bosun(&["status"]);
    let text = stdout(&status);
    assert_eq!(status.status.code(), Some(1), "process gone is red: {text}");
    assert!(text.lines().any(|l| l.starts_with("green") && l.contains("service web: 1.0 (release") && l.contains("running (healthy), cpu ") && l.contains(", 0 restarts, up ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("green") && l.starts_with("green  process sleeper: running, cpu ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("red    process gone: missing")) && text.contains("process gone is missing"), "{text}");

    let stats = samples(&web.bosun(&["stats", &spinner, "--json"]));
    assert!(stats["samples"].as_i64().unwrap() >= 2 && stats["cpu_percent"]["max"].as_f64().unwrap() > 50.0, "{stats:#}");
    let text = stdout(&web.bosun(&["stats", "web", "--since", "10m"]));
    assert!(text.contains("web over the last 10m") && text.contains("memory  min") && text.contains("now     running, healthy, 0 restarts"), "{text}");
    let none = web.bosun(&["stats", "nothing-here"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("no samples of nothing-here in the last 1h: `bosun watch --once` takes one"), "{}", stderr(&none));
    let bad = web.bosun(&["stats", "web", "--since", "soon"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));

    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

#[test]
fn a_host_whose_engine_went_away_shows_its_containers_as_unknown_never_exited() {
    support::require_engine();
    let mut b = Engine::start();
    let web = support::deploys::Deploys::new("watch-gone", "");
    web.configure_with("hosts = [\"b\"]", &format!("[hosts.b]\ndocker = \"{}\"\n", b.url()));
    b.kill();
    let collection = samples(&web.bosun(&["watch", "--once", "--json"]));
    let service = sample(&collection, "web");
    assert_eq!((service["host"].as_str(), service["state"].as_str()), (Some("b"), Some("unknown")), "{collection:#}");
    let unreachable = &collection["unreachable"][0];
    assert!(unreachable["host"] == "b" && unreachable["error"].as_str().unwrap().contains("cannot reach the Docker engine"), "{collection:#}");
}

#[test]
fn a_bad_watch_table_is_refused_at_load_with_its_line() {
    // The heartbeat URL's path is its secret: not echoed back, even in the error about it.
    let p = common::project::Project::new("[watch]\ninterval = \"0s\"\nheartbeat_url = \"https://hc-ping.com/5e1f0a2b secret\"\n\n[watch.processes.x]\ncmdline = \"[unclosed\"\n\n[watch.containers]\nservices = [\"nope\"]\n");
    let out = p.bosun(&["watch", "--once"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for expected in ["watch.interval: must be at least 1s", "watch.processes.x.cmdline: \"[unclosed\" is not a glob", "watch.containers.services: no service called nope", "watch.heartbeat_url: must be an http(s) URL"] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    assert!(err.contains("bosun.toml:") && !err.contains("5e1f0a2b"), "file and line, and no secret: {err}");
}

#[test]
fn status_watch_shows_the_overview_again_every_two_seconds_until_interrupted() {
    use std::io::Read;
    let p = common::project::Project::new("[watch.processes.gone]\nname = \"no-such-program\"\n");
    let mut watching = p.command(&["status", "--watch"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(4500));
    unsafe { libc::kill(watching.id() as i32, libc::SIGINT) };
    let ended = watching.wait().unwrap();
    let mut shown = String::new();
    watching.stdout.take().unwrap().read_to_string(&mut shown).unwrap();
    assert!(ended.success(), "Ctrl-C ends it: {shown}");
    // Nothing has sampled the watched process: amber, shown again and again.
    assert!(shown.matches("amber: all in all").count() >= 2 && shown.contains("process gone: not sampled yet"), "{shown}");
    assert!(!shown.contains("\u{1b}[2J"), "not a terminal: no screen clearing");
}
