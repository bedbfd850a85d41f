//! A bosun killed mid-operation: the next bosun, whatever its command, marks
//! the run and its release `interrupted` and says what was left behind.

use crate::{common, support};

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::project::stderr;
use support::deploys::{Deploys, succeeded};

#[test]
fn a_killed_deploy_is_marked_interrupted_by_the_next_bosun() {
    support::require_engine();
    // A smoke check that never passes (nothing listens on its port): the
    // deploy retries it for its 120s health timeout, long enough to be killed.
    let closed = support::deploys::free_port();
    let d = Deploys::new("interrupted", "");
    d.configure_with(
        "health_timeout = \"120s\"\nstop_timeout = 1\nchecks = [\"never\"]",
        &format!("[checks.never]\nplugin = \"tcp\"\nhost = \"127.0.0.1\"\nport = {closed}\n\n[plugins.tcp]\ngrant.net = [\"127.0.0.1:{closed}\"]\n"),
    );
    d.image("1", &[]);
    let mut deploy = d.project.command(&["deploy", "web", "1"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();

    let started = Instant::now();
    // The deploy compiles its plugins first (a fresh cache): minutes on a loaded CI machine.
    while !d.releases().first().is_some_and(|r| r["outcome"] == "deploying") {
        assert!(started.elapsed() < Duration::from_secs(240), "the deploy never recorded its release");
        std::thread::sleep(Duration::from_millis(200));
    }
    let runs: serde_json::Value = serde_json::from_str(&succeeded(&d.bosun(&["runs", "--json"]))).unwrap();
    assert_eq!(runs[0]["outcome"], "running", "a live bosun's run is left alone: {runs}");

    deploy.kill().unwrap();
    deploy.wait().unwrap();

    // Any command notices, once, and says what was left.
    let out = d.bosun(&["runs", "--json"]);
    let warning = stderr(&out);
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = &runs[0];
    assert_eq!((run["operation"].as_str(), run["outcome"].as_str()), (Some("deploy"), Some("interrupted")), "{runs}");
    assert!(run["finished_at"].as_i64().is_some(), "the time it was noticed: {run}");
    let summary = run["summary"].as_str().unwrap();
    assert!(summary.contains("ended without recording an outcome"), "{summary}");
    let scope = "web@prod";
    assert!(summary.contains(&format!("the lock on {scope} is kept: check the service, then `bosun lock release web`")), "{summary}");
    assert!(warning.contains(&format!("run {} (deploy web", run["id"])) && warning.contains("interrupted"), "{warning}");
    assert_eq!(warning.lines().count(), 1, "{warning}");
    assert!(!stderr(&d.bosun(&["runs"])).contains("interrupted"), "reported once, when found");
    assert!(stdout_of(&d, &["runs"]).contains("interrupted"), "`bosun runs` shows it");

    assert_eq!(d.releases()[0]["outcome"], "interrupted");
    // The lock stays, consistently with a lock whose holder died: the next
    // deploy is refused and told it may release it.
    let again = d.bosun(&["deploy", "web", "1"]);
    assert_eq!(again.status.code(), Some(11), "{}", stderr(&again));
    assert!(stderr(&again).contains("is gone, so `bosun lock release web` is safe"), "{}", stderr(&again));
}

fn stdout_of(d: &Deploys, args: &[&str]) -> String {
    succeeded(&d.bosun(args))
}
