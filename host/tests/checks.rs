//! `bosun check` as users run it: suites, the concurrency limit and the
//! Markdown report, with the compiled `http` plugin against loopback servers.

mod common;
mod support;

use common::project::{Project, stderr, stdout};
use common::recorder::Recorder;

fn project(ok: &Recorder, missing: &Recorder) -> Project {
    Project::new(&format!(
        "[checks.home]\nplugin = \"http\"\nurl = \"{ok}/\"\nconditions = [\"[STATUS] == 200\"]\n\n\
         [checks.assets]\nplugin = \"http\"\nurl = \"{missing}/app.mjs\"\nconditions = [\"[STATUS] == 200\"]\n\n\
         [checks.api]\nplugin = \"http\"\nurl = \"{ok}/api\"\nconditions = [\"[STATUS] == 200\"]\n\n\
         [suites]\nsmoke = [\"home\", \"assets\"]\n\n\
         [plugins.http]\ngrant.http = [\"{ok}\", \"{missing}\"]\n",
        ok = ok.url,
        missing = missing.url
    ))
}

#[test]
fn suites_expand_and_reports_keep_their_order() {
    let (ok, missing) = (Recorder::start(200, "fine"), Recorder::start(404, "nope"));
    let p = project(&ok, &missing);
    let out = p.bosun(&["check", "smoke", "api", "--json", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(1), "one check fails: {}", stderr(&out));
    let reports: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<(&str, bool)> = reports.iter().map(|r| (r["name"].as_str().unwrap(), r["passed"].as_bool().unwrap())).collect();
    assert_eq!(names, [("home", true), ("assets", false), ("api", true)]);

    let out = p.bosun(&["check", "home"]);
    assert!(out.status.success(), "{}", stdout(&out));

    let out = p.bosun(&["check", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no check or suite called nope; checks: api, assets, home; suites: smoke"), "{}", stderr(&out));
}

#[test]
fn the_markdown_report_is_a_table_then_the_failures() {
    let (ok, missing) = (Recorder::start(200, "fine"), Recorder::start(404, "nope"));
    let out = project(&ok, &missing).bosun(&["check", "smoke", "--markdown"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("**1 of 2 checks passed**\n\n| | check | plugin | time | result |\n|---|---|---|---|---|\n| ✅ | home | http |"), "{text}");
    assert!(text.contains("| ❌ | assets | http |"), "{text}");
    assert!(text.contains("\n### ❌ assets\n- `✗ [STATUS] == 200 (actual: 404)"), "{text}");
    assert!(text.contains("- **try:** "), "the suggested action: {text}");
}

#[test]
fn a_suite_naming_an_unknown_check_is_refused_at_load() {
    let p = Project::new("[checks.home]\nplugin = \"http\"\nurl = \"http://127.0.0.1:1/\"\n\n[suites]\nsmoke = [\"home\", \"login\"]\n");
    let out = p.bosun(&["check", "smoke"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("suites.smoke: no check called login"), "{}", stderr(&out));
}

#[test]
fn the_container_check_sees_a_deployed_service_and_a_crash_loop() {
    support::require_engine();
    let d = support::deploys::Deploys::new("check-container", "");
    d.image("1.0", &[]);
    let looping = support::unique("check-crashloop");
    let _guard = support::ContainerGuard { name: looping.clone() };
    // The loop: the container's command exits at once and the engine restarts it.
    let image = support::test_image();
    support::docker(&["run", "--detach", "--name", &looping, "--label", support::TEST_LABEL, "--restart", "always", "--no-healthcheck", &image, "fail", "1", "boom"]);
    d.configure_with(
        "",
        &format!(
            "[checks.web]\nplugin = \"container\"\nservice = \"web\"\nwindow_ms = 500\n\n\
             [checks.loop]\nplugin = \"container\"\nname = \"{looping}\"\nwindow_ms = 3000\n\n\
             [plugins.container]\ngrant.docker = [\"inspect:*\"]\n"
        ),
    );
    let out = d.bosun(&["check", "web", "--json"]);
    assert_eq!(out.status.code(), Some(1), "nothing deployed yet: {}", stdout(&out));
    let report: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report[0]["summary"].as_str().unwrap().contains("no running container of service web"), "{}", report[0]);

    support::deploys::succeeded(&d.bosun(&["deploy", "web", "1.0"]));
    let out = d.bosun(&["check", "web"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("✓ health == healthy (actual: healthy)"), "{}", stdout(&out));

    let out = d.bosun(&["check", "loop", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let conditions: Vec<&str> = report[0]["conditions"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(conditions.iter().any(|c| c.starts_with("✗ restart count not rising")), "{conditions:?}");
}
