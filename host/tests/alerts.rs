//! `[alerts]` over `bosun watch`, told to a real loopback receiver through
//! the real webhook plugin: a watched process killed fires once, resolves
//! when it is back, a silence holds the telling back; an engine that goes
//! away fires `engine-unreachable`.

use crate::{common, support};

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::project::{Project, stderr, stdout};
use common::recorder::{Recorded, Recorder};
use serde_json::Value;

/// `bosun watch` running in the background until dropped.
struct Watching(Child);

impl Watching {
    fn start(project: &Project) -> Watching {
        let child = Command::new(env!("CARGO_BIN_EXE_bosun")).current_dir(project.path()).arg("watch").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        Watching(child)
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process the rules watch, found by its command line.
fn sleeper() -> Child {
    Command::new("sleep").arg("4243.1").spawn().unwrap()
}

fn notices(receiver: &Recorder, kind: &str) -> Vec<Value> {
    receiver.requests().iter().map(Recorded::json).filter(|n| n["kind"] == kind).collect()
}

/// Waits up to 20 s for `kind` notices to number `count`.
fn wait_for(receiver: &Recorder, kind: &str, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let seen = notices(receiver, kind);
        if seen.len() >= count || started.elapsed() > Duration::from_secs(20) {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn listing(project: &Project) -> Value {
    let out = project.bosun(&["alert", "list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_killed_process_fires_once_resolves_when_back_and_a_silence_holds_the_telling_back() {
    let receiver = Recorder::start(200, "ok");
    let project = Project::new(&format!(
        "[project]\nname = \"alerts\"\n\n[watch]\ninterval = \"1s\"\n\n[watch.processes.sleeper]\ncmdline = \"sleep 4243.1\"\n\n\
         [alerts.sleeper-gone]\nwhen = \"exited\"\ntargets = [\"sleeper\"]\nfor = \"2s\"\nseverity = \"critical\"\n\n\
         [notify.hook]\nurl = \"generic+{}/alerts\"\non = [\"alert.*\"]\n",
        receiver.url
    ));
    let mut first = sleeper();
    let watching = Watching::start(&project);
    std::thread::sleep(Duration::from_secs(3));
    assert!(notices(&receiver, "alert.firing").is_empty(), "it runs: nothing fires");

    first.kill().unwrap();
    first.wait().unwrap();
    let fired = wait_for(&receiver, "alert.firing", 1);
    assert_eq!(fired.len(), 1, "{:?}", receiver.requests());
    let notice = &fired[0];
    assert_eq!((notice["severity"].as_str(), notice["facts"]["rule"].as_str(), notice["facts"]["target"].as_str()), (Some("failure"), Some("sleeper-gone"), Some("sleeper")), "{notice:#}");
    assert!(notice["title"].as_str().unwrap().contains("process sleeper on local is missing"), "{notice:#}");
    // Told once: more collections while it still holds tell nobody again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(notices(&receiver, "alert.firing").len(), 1);
    let firing = &listing(&project)["firing"];
    assert_eq!((firing[0]["rule"].as_str(), firing[0]["severity"].as_str()), (Some("sleeper-gone"), Some("critical")), "{firing:#}");

    let mut second = sleeper();
    let resolved = wait_for(&receiver, "alert.resolved", 1);
    assert_eq!(resolved.len(), 1, "{:?}", receiver.requests());
    assert!(resolved[0]["title"].as_str().unwrap().starts_with("resolved sleeper-gone: sleeper on local"), "{:#}", resolved[0]);
    assert_eq!(listing(&project)["firing"], serde_json::json!([]));

    // Silenced: it fires, nobody is told; lifted, it is told.
    let silenced = project.bosun(&["alert", "silence", "sleeper-gone", "--for", "1h", "-m", "moving the sleeper"]);
    assert!(silenced.status.success() && stdout(&silenced).starts_with("silence 1: sleeper-gone until "), "{}{}", stdout(&silenced), stderr(&silenced));
    second.kill().unwrap();
    second.wait().unwrap();
    let started = Instant::now();
    while listing(&project)["firing"].as_array().unwrap().is_empty() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let now = listing(&project);
    assert_eq!((now["firing"][0]["notified_at"].clone(), now["silences"][0]["why"].as_str()), (Value::Null, Some("moving the sleeper")), "{now:#}");
    assert_eq!(notices(&receiver, "alert.firing").len(), 1, "the silence holds the telling back");
    let text = stdout(&project.bosun(&["alert", "list"]));
    assert!(text.contains("critical sleeper-gone sleeper on local") && text.contains("silenced") && text.contains("silence 1: sleeper-gone until"), "{text}");

    assert!(project.bosun(&["alert", "unsilence", "1"]).status.success());
    assert_eq!(wait_for(&receiver, "alert.firing", 2).len(), 2, "lifted while it still fires: told now");

    // The rule taken out of bosun.toml: what it had firing resolves at the next start.
    drop(watching);
    let config = std::fs::read_to_string(project.path().join("bosun.toml")).unwrap();
    let without_rule = config.replace("[alerts.sleeper-gone]\nwhen = \"exited\"\ntargets = [\"sleeper\"]\nfor = \"2s\"\nseverity = \"critical\"\n\n", "");
    assert_ne!(config, without_rule);
    std::fs::write(project.path().join("bosun.toml"), without_rule).unwrap();
    let _watching = Watching::start(&project);
    assert_eq!(wait_for(&receiver, "alert.resolved", 2).len(), 2, "{:?}", receiver.requests());
    assert_eq!(listing(&project)["firing"], serde_json::json!([]));

    let unknown = project.bosun(&["alert", "silence", "nope", "--for", "1h", "-m", "x"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no alert rule called nope; the rules are: engine-unreachable"), "{}", stderr(&unknown));
}

#[test]
fn an_engine_that_goes_away_fires_engine_unreachable_and_resolves_nothing_as_exited() {
    support::require_engine();
    let receiver = Recorder::start(200, "ok");
    let mut b = support::engines::Engine::start();
    let project = Project::new(&format!(
        "[project]\nname = \"alerts-engine\"\n\n[hosts.b]\ndocker = \"{}\"\n\n[services.web]\nimage = \"bosun-test/none\"\nhosts = [\"b\"]\n\n\
         [watch]\ninterval = \"1s\"\n\n[alerts.web-exited]\nwhen = \"exited\"\n\n[notify.hook]\nurl = \"generic+{}/alerts\"\n",
        b.url(),
        receiver.url
    ));
    let _watching = Watching::start(&project);
    std::thread::sleep(Duration::from_secs(2));
    b.kill();
    let fired = wait_for(&receiver, "alert.firing", 1);
    assert_eq!(fired.len(), 1, "{:?}", receiver.requests());
    assert_eq!((fired[0]["facts"]["rule"].as_str(), fired[0]["facts"]["host"].as_str()), (Some("engine-unreachable"), Some("b")), "{:#}", fired[0]);
    assert!(fired[0]["title"].as_str().unwrap().contains("the Docker engine of host b does not answer"), "{:#}", fired[0]);
    std::thread::sleep(Duration::from_secs(2));
    let kinds: Vec<String> = receiver.requests().iter().map(|r| format!("{} {}", r.json()["kind"], r.json()["facts"]["rule"])).collect();
    assert_eq!(kinds, ["\"alert.firing\" \"engine-unreachable\""], "web is unknown, never exited");
}

#[test]
fn a_bad_alert_rule_is_refused_at_load_with_its_line() {
    let p = Project::new("[alerts.hot]\nwhen = \"cpu > lots%\"\nchannels = [\"pager\"]\n\n[alerts.slow]\nwhen = \"backup older than soon\"\nfor = \"x\"\n");
    let out = p.bosun(&["alert", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for expected in ["alerts.hot.when: \"cpu > lots%\": \"lots\" is not a number", "alerts.hot.channels: no channel called pager", "alerts.slow.when:", "alerts.slow.for:"] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    assert!(err.contains("bosun.toml:2"), "file and line: {err}");
}

#[test]
fn containers_that_crash_loop_go_unhealthy_or_run_hot_fire_their_rules_once_each() {
    support::require_engine();
    let receiver = Recorder::start(200, "ok");
    let prefix = support::unique("alerting");
    let image = support::test_image();
    let (looping, sick, hot) = (format!("{prefix}-loop"), format!("{prefix}-sick"), format!("{prefix}-hot"));
    let _guards: Vec<support::ContainerGuard> = [&looping, &sick, &hot].iter().map(|n| support::ContainerGuard { name: n.to_string() }).collect();
    support::docker(&["run", "--detach", "--name", &looping, "--label", support::TEST_LABEL, "--restart", "always", "--no-healthcheck", &image, "fail", "1", "boom"]);
    support::docker(&["run", "--detach", "--name", &sick, "--label", support::TEST_LABEL, "--env", "HEALTH=fail", &image]);
    support::docker(&["run", "--detach", "--name", &hot, "--label", support::TEST_LABEL, "--no-healthcheck", &image, "spin"]);
    let project = Project::new(&format!(
        "[project]\nname = \"alerts-containers\"\n\n[watch]\ninterval = \"1s\"\n\n[watch.containers]\nprefix = [\"{prefix}-\"]\n\n\
         [alerts.crashing]\nwhen = \"restarted\"\n\n[alerts.sick]\nwhen = \"unhealthy\"\n\n[alerts.hot]\nwhen = \"cpu > 50%\"\nfor = \"2s\"\n\n\
         [notify.hook]\nurl = \"generic+{}/alerts\"\n",
        receiver.url
    ));
    let _watching = Watching::start(&project);
    let fired = |receiver: &Recorder| {
        let mut pairs: Vec<(String, String)> = notices(receiver, "alert.firing").iter().map(|n| (n["facts"]["rule"].as_str().unwrap().to_string(), n["facts"]["target"].as_str().unwrap().to_string())).collect();
        pairs.sort();
        pairs
    };
    let expected = vec![("crashing".to_string(), looping.clone()), ("hot".to_string(), hot.clone()), ("sick".to_string(), sick.clone())];
    let started = Instant::now();
    while fired(&receiver) != expected && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(fired(&receiver), expected, "{:?}", receiver.requests().iter().map(|r| r.json()["title"].clone()).collect::<Vec<_>>());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fired(&receiver), expected, "each told once");

    // The hot one removed: no longer watched, its alert resolves.
    support::docker(&["rm", "--force", &hot]);
    let resolved = wait_for(&receiver, "alert.resolved", 1);
    assert_eq!(resolved.iter().map(|n| n["facts"]["target"].as_str().unwrap()).collect::<Vec<_>>(), [hot.as_str()]);
}

#[test]
fn serve_watches_keeps_samples_and_pings_the_heartbeat_warning_once_while_it_fails() {
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pings = AtomicUsize::new(0);
    // The first three pings are refused, then they pass.
    let heartbeat = Recorder::respond(move |_| (if pings.fetch_add(1, Ordering::SeqCst) < 3 { 500 } else { 200 }, "ok".to_string()));
    let mut watched = sleeper();
    let project = Project::new(&format!(
        "[project]\nname = \"heartbeat\"\n\n[watch]\ninterval = \"1s\"\nheartbeat_url = \"{}/ping/abc\"\n\n[watch.processes.sleeper]\ncmdline = \"sleep 4243.1\"\n",
        heartbeat.url
    ));
    let mut server = common::server::Server::start(&project);
    let started = Instant::now();
    while heartbeat.requests().len() < 6 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
    }
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    server.child.wait().unwrap();
    let mut printed = String::new();
    server.child.stderr.take().unwrap().read_to_string(&mut printed).unwrap();
    let _ = watched.kill();
    let _ = watched.wait();
    let requests = heartbeat.requests();
    assert!(requests.len() >= 6 && requests.iter().all(|r| r.method == "GET" && r.uri == "/ping/abc"), "{requests:?}");
    let warned = |text: &str| printed.lines().filter(|l| l.contains(text)).count();
    assert_eq!((warned("pinging watch.heartbeat_url failed (answered 500); watching goes on"), warned("pinging watch.heartbeat_url works again")), (1, 1), "{printed}");
    let stats = project.bosun(&["stats", "sleeper", "--json"]);
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap_or_else(|_| panic!("{}", stderr(&stats)));
    assert!(stats["samples"].as_i64().unwrap() >= 6 && stats["last"]["state"] == "running", "serve kept its samples: {stats:#}");
}

#[test]
fn a_full_disk_stops_sample_writes_with_one_warning_and_watching_goes_on() {
    use std::io::Read;
    let disk = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"]).arg(disk.path()).status().unwrap();
    assert!(mounted.success(), "mounting a 4 MiB tmpfs for the state store (the tests run as root)");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(disk.path().to_path_buf());
    let mut watched = sleeper();
    let project = Project::new(&format!(
        "[project]\nname = \"full\"\nstate_dir = \"{}\"\n\n[watch]\ninterval = \"1s\"\n\n[watch.processes.sleeper]\ncmdline = \"sleep 4243.1\"\n",
        disk.path().join("state").display()
    ));
    let mut watching = Command::new(env!("CARGO_BIN_EXE_bosun")).current_dir(project.path()).arg("watch").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // Fill the disk, wait through a few collections, then make room.
    let filler = disk.path().join("filler");
    let _ = Command::new("dd").args(["if=/dev/zero", "bs=64k"]).arg(format!("of={}", filler.display())).stderr(Stdio::null()).status();
    std::thread::sleep(Duration::from_secs(4));
    assert!(watching.try_wait().unwrap().is_none(), "watching goes on with the disk full");
    std::fs::remove_file(&filler).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    unsafe { libc::kill(watching.id() as i32, libc::SIGINT) };
    let ended = watching.wait().unwrap();
    let mut printed = String::new();
    watching.stderr.take().unwrap().read_to_string(&mut printed).unwrap();
    let _ = watched.kill();
    let _ = watched.wait();
    assert!(ended.success(), "{printed}");
    let warned = |text: &str| printed.lines().filter(|l| l.contains(text)).count();
    assert_eq!((warned("keeping samples failed"), warned("keeping samples works again")), (1, 1), "{printed}");
    assert!(printed.contains("full"), "the warning says why: {printed}");
}
