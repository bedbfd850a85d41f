//! Deploys, failed deploys, rollbacks and locks as users run them: the real
//! `bosun` binary against the real Docker engine, with `FROM scratch` images
//! the tests build (one per version; a "bad" version fails its healthcheck).

mod common;
mod support;

use std::process::Command;

use common::project::stderr;
use serde_json::Value;
use support::deploys::{Deploys, free_port, http_get, inspect, running, succeeded};

#[test]
fn deploy_redeploy_rollback_and_retain() {
    support::require_engine();
    let d = Deploys::new("deploy-cycle", "retain = 1\nenv = { GREETING = \"hi\" }\nlabels = { team = \"shop\" }\nrestart = \"unless-stopped\"");
    for version in ["1.0", "2.0", "3.0"] {
        d.image(version, &[]);
    }

    let first = succeeded(&d.bosun(&["deploy", "web", "1.0", "-m", "first release"]));
    assert!(first.contains(&format!("runs as {}", d.container("1.0"))), "{first}");
    let one = inspect(&d.container("1.0")).expect("1.0 created");
    let labels = &one["Config"]["Labels"];
    assert_eq!(labels["bosun.service"], "web");
    assert_eq!(labels["bosun.env"], "prod");
    assert_eq!(labels["bosun.version"], "1.0");
    assert_eq!(labels["team"], "shop");
    assert!(one["Config"]["Env"].as_array().unwrap().iter().any(|e| e == "GREETING=hi"));
    assert_eq!(one["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(one["State"]["Health"]["Status"], "healthy", "the image's healthcheck was waited for");

    succeeded(&d.bosun(&["deploy", "web", "2.0"]));
    assert!(running(&d.container("2.0")));
    let old = inspect(&d.container("1.0")).expect("1.0 is kept for rollback");
    assert_eq!(old["State"]["Running"], false);
    assert_eq!(old["HostConfig"]["RestartPolicy"]["Name"], "no", "a retired container does not come back on a daemon restart");

    let rolled = succeeded(&d.bosun(&["rollback", "web"]));
    assert!(rolled.contains(&d.container("1.0")), "{rolled}");
    let back = inspect(&d.container("1.0")).unwrap();
    assert_eq!(back["Id"], one["Id"], "the kept container is started again, not recreated");
    assert_eq!(back["State"]["Running"], true);
    assert_eq!(back["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped", "its restart policy is back");
    assert!(!running(&d.container("2.0")));

    let releases = d.releases();
    let summary: Vec<(String, String, String)> = releases
        .iter()
        .map(|r| (r["version"].as_str().unwrap().into(), r["kind"].as_str().unwrap().into(), r["outcome"].as_str().unwrap().into()))
        .collect();
    let expected = [("1.0", "deploy", "succeeded"), ("2.0", "deploy", "succeeded"), ("1.0", "rollback", "succeeded")];
    assert_eq!(summary, expected.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())));
    assert_eq!(releases[0]["note"], "first release");
    assert!(releases[0]["image_digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(releases[0]["config_hash"], releases[2]["config_hash"], "the rollback runs the recorded config");

    // retain = 1: after 3.0, of the two stopped containers only the newest stays.
    let third = succeeded(&d.bosun(&["deploy", "web", "3.0"]));
    assert!(third.contains("removed beyond retain"), "{third}");
    assert!(running(&d.container("3.0")));
    let kept: Vec<bool> = ["1.0", "2.0"].iter().map(|v| inspect(&d.container(v)).is_some()).collect();
    assert_eq!(kept.iter().filter(|k| **k).count(), 1, "exactly one replaced container is kept: {kept:?}");

    let rolled = succeeded(&d.bosun(&["rollback", "web", "--to", "2.0"]));
    assert!(running(&d.container("2.0")) || rolled.contains("2.0"), "{rolled}");
    assert!(!running(&d.container("3.0")));
}

#[test]
fn a_failed_deploy_puts_the_running_version_back() {
    support::require_engine();
    let port = free_port();
    let d = Deploys::new("deploy-fail", &format!("ports = [\"127.0.0.1:{port}:8080\"]\nhealth_timeout = \"30s\"\nstop_timeout = 2"));
    d.image("1.0", &[]);
    d.image("2.0-bad", &[("HEALTH", "fail")]);
    succeeded(&d.bosun(&["deploy", "web", "1.0"]));
    assert_eq!(http_get(port), "1.0");
    let before = inspect(&d.container("1.0")).unwrap();

    let out = d.bosun(&["deploy", "web", "2.0-bad"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("deploy of web 2.0-bad failed: container") && err.contains("is unhealthy"), "{err}");
    assert!(err.contains(&format!("is back on version 1.0 ({})", d.container("1.0"))), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(inspect(&d.container("2.0-bad")).is_none(), "the bad container is removed");
    assert_eq!(http_get(port), "1.0", "the old version serves again on its port");
    let after = inspect(&d.container("1.0")).unwrap();
    assert_eq!(after["Id"], before["Id"]);
    // The engine spells "no policy" both "" and "no".
    let policy = |c: &Value| c["HostConfig"]["RestartPolicy"]["Name"].as_str().map(|n| if n.is_empty() { "no" } else { n }).unwrap().to_string();
    assert_eq!(policy(&after), policy(&before));

    // A version that exits at once fails without waiting for the timeout.
    d.configure(&format!("ports = [\"127.0.0.1:{port}:8080\"]\nhealth_timeout = \"30s\"\ncommand = [\"fail\", \"3\", \"cannot open the database\"]"));
    d.image("2.1-crash", &[]);
    let out = d.bosun(&["deploy", "web", "2.1-crash"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("exited with code 3") && err.contains("its last output: cannot open the database"), "{err}");
    assert_eq!(http_get(port), "1.0");

    let releases = d.releases();
    let outcomes: Vec<&str> = releases.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["succeeded", "failed", "failed"]);

    // The failed release's run keeps the new container's output.
    let state = rusqlite::Connection::open(d.project.dir.path().join(".bosun/state.db")).unwrap();
    let log: String = state.query_row("SELECT log FROM runs WHERE id = ?1", [releases[2]["run_id"].as_i64().unwrap()], |r| r.get(0)).unwrap();
    assert!(log.contains("cannot open the database"), "{log}");
    assert!(log.contains("undo: started"), "{log}");

    // Rollback skips failed releases: there is nothing earlier than 1.0.
    let out = d.bosun(&["rollback", "web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("web@prod has no earlier successful release to roll back to"), "{}", stderr(&out));
}

#[test]
fn deploy_refuses_before_touching_the_running_release() {
    support::require_engine();
    let port = free_port();
    let d = Deploys::new("deploy-refuse", &format!("ports = [\"127.0.0.1:{port}:8080\"]"));
    d.image("1.0", &[]);
    d.image("2.0", &[]);
    succeeded(&d.bosun(&["deploy", "web", "1.0"]));
    let started_at = || inspect(&d.container("1.0")).unwrap()["State"]["StartedAt"].clone();
    let before = started_at();

    let out = d.bosun(&["deploy", "web", "9.9"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("image {}:9.9 is not on this machine; nothing was changed. Pull it with `bosun images pull {}:9.9`", d.repo, d.repo)), "{err}");

    // The new name is taken by a container bosun does not manage.
    let _squatter = support::run_test_container(&d.container("2.0"), &[], &["--env", "PORT=9"]);
    let out = d.bosun(&["deploy", "web", "2.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("container name {} is taken by a container bosun does not manage", d.container("2.0"))), "{}", stderr(&out));
    drop(_squatter);

    // A port held by another process (the service has none running yet).
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let other = Deploys::new("deploy-port", &format!("ports = [\"127.0.0.1:{busy_port}:8080\"]"));
    other.image("1.0", &[]);
    let out = other.bosun(&["deploy", "web", "1.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("port {busy_port} is already bound by another process on this host")), "{}", stderr(&out));
    // ...and one held by another container.
    let rival = Deploys::new("deploy-rival", &format!("ports = [\"127.0.0.1:{port}:8080\"]"));
    rival.image("1.0", &[]);
    let out = rival.bosun(&["deploy", "web", "1.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("port {port} is already bound by container {}", d.container("1.0"))), "{}", stderr(&out));

    let out = d.bosun(&["deploy", "nope", "1.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no service called nope; bosun.toml has: web"), "{}", stderr(&out));

    // Dry run: the plan, and nothing created.
    let plan = succeeded(&d.bosun(&["deploy", "web", "2.0", "--dry-run"]));
    assert!(plan.contains(&format!("create    {}", d.container("2.0"))), "{plan}");
    assert!(plan.contains("stop old, then start new"), "{plan}");
    assert!(plan.contains(&format!("stop      {} (version 1.0)", d.container("1.0"))), "{plan}");
    assert!(inspect(&d.container("2.0")).is_none());

    assert_eq!(started_at(), before, "the running release was never stopped");
    assert_eq!(d.releases().len(), 1, "refusals record no release");
}

#[test]
fn one_release_per_service_at_a_time() {
    support::require_engine();
    let d = Deploys::new("deploy-lock", "");
    d.image("1.0", &[]);
    succeeded(&d.bosun(&["lock", "acquire", "web", "-m", "database migration"]));
    let out = d.bosun(&["deploy", "web", "1.0"]);
    assert_eq!(out.status.code(), Some(11), "busy: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("web@prod is locked by ") && err.contains("database migration") && err.contains("bosun lock release web"), "{err}");
    assert!(inspect(&d.container("1.0")).is_none());
    let status = succeeded(&d.bosun(&["lock", "status"]));
    assert!(status.contains("web@prod") && status.contains("database migration"), "{status}");
    succeeded(&d.bosun(&["lock", "release", "web"]));
    succeeded(&d.bosun(&["deploy", "web", "1.0"]));
    assert!(succeeded(&d.bosun(&["lock", "status"])).contains("no locks held"), "a deploy releases its own lock");
}

#[test]
fn a_bad_service_config_is_refused_at_load() {
    let d = Deploys::new("deploy-config", "ports = [\"8080:eighty\"]");
    let out = d.bosun(&["deploy", "web", "1.0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bosun.toml:") && err.contains("services.web.ports: `8080:eighty`: `eighty` is not a port number"), "{err}");
}

#[test]
fn compose_strategy_deploys_records_the_command_and_restores_on_failure() {
    support::require_engine();
    let port = free_port();
    let d = Deploys::new("deploy-compose", "strategy = \"compose\"\nfile = \"compose.yml\"\nhealth_timeout = \"30s\"");
    let out = d.bosun(&["deploy", "web", "1.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("services.web.file: cannot read the compose file") && stderr(&out).contains("compose.yml"), "{}", stderr(&out));

    let compose = format!("version: \"2.4\"\nservices:\n  web:\n    image: {}:${{VERSION}}\n    ports: [\"127.0.0.1:{port}:8080\"]\n    environment: [GREETING=hi]\n", d.repo);
    std::fs::write(d.project.dir.path().join("compose.yml"), compose).unwrap();
    d.image("1.0", &[]);
    d.image("2.0", &[]);
    d.image("3.0-bad", &[("HEALTH", "fail")]);

    let plan = succeeded(&d.bosun(&["deploy", "web", "1.0", "--dry-run"]));
    assert!(plan.contains("run       VERSION=1.0 docker") && plan.contains("up --detach --no-deps --no-build web"), "{plan}");
    succeeded(&d.bosun(&["deploy", "web", "1.0"]));
    assert_eq!(http_get(port), "1.0");
    succeeded(&d.bosun(&["deploy", "web", "2.0", "-m", "compose upgrade"]));
    assert_eq!(http_get(port), "2.0");

    let out = d.bosun(&["deploy", "web", "3.0-bad"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("is unhealthy") && err.contains("web@prod is back on version 2.0"), "{err}");
    assert_eq!(http_get(port), "2.0", "the previous version runs again");

    let releases = d.releases();
    let outcomes: Vec<(&str, &str)> = releases.iter().map(|r| (r["version"].as_str().unwrap(), r["outcome"].as_str().unwrap())).collect();
    assert_eq!(outcomes, [("1.0", "succeeded"), ("2.0", "succeeded"), ("3.0-bad", "failed")]);
    assert!(releases[1]["container_name"].as_str().unwrap().contains("web"), "{:?}", releases[1]);
    let state = rusqlite::Connection::open(d.project.dir.path().join(".bosun/state.db")).unwrap();
    let log: String = state.query_row("SELECT log FROM runs WHERE id = ?1", [releases[1]["run_id"].as_i64().unwrap()], |r| r.get(0)).unwrap();
    assert!(log.contains("ran: VERSION=2.0 docker") && log.contains("up --detach --no-deps --no-build web"), "the command is recorded: {log}");

    succeeded(&d.bosun(&["rollback", "web"]));
    assert_eq!(http_get(port), "1.0");
}

#[test]
fn container_names_come_from_the_naming_template() {
    support::require_engine();
    let d = Deploys::new("deploy-naming", "");
    d.image("1.0", &[]);
    let write = |naming: &str| {
        let config = format!("[project]\nname = \"{}\"\n\n[naming]\n{naming}\n\n[services.web]\nimage = \"{}\"\n", d.name, d.repo);
        std::fs::write(d.project.dir.path().join("bosun.toml"), config).unwrap();
    };
    write("template = \"${SERVICE}${SEP}${NOPE}\"");
    let out = d.bosun(&["deploy", "web", "1.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown variable ${NOPE}"), "{}", stderr(&out));

    write(&format!("template = \"${{PREFIX}}_${{SERVICE}}_${{SHORT_DIGEST}}_${{TIMESTAMP}}\"\ntimestamp_format = \"%Y\"\nvars = {{ PREFIX = \"{}x\" }}", d.name));
    let out = succeeded(&d.bosun(&["deploy", "web", "1.0", "--json"]));
    let released: Value = serde_json::from_str(&out).unwrap();
    let name = released["release"]["container_name"].as_str().unwrap();
    let digest = released["release"]["image_digest"].as_str().unwrap().trim_start_matches("sha256:");
    let year = &support::deploys::inspect(name).unwrap()["Created"].as_str().unwrap()[..4].to_string();
    assert_eq!(name, format!("{}x_web_{}_{year}", d.name, &digest[..12]));
    assert_eq!(inspect(name).unwrap()["Config"]["Labels"]["bosun.project"], d.name.as_str(), "found by label, whatever the name");
}

#[test]
fn an_unreachable_engine_is_one_line_naming_the_endpoint() {
    let d = Deploys::new("deploy-noengine", "version = \"1.0\"");
    let out = Command::new(env!("CARGO_BIN_EXE_bosun")).args(["deploy", "web"]).current_dir(d.project.dir.path()).env("DOCKER_HOST", "tcp://127.0.0.1:1").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: cannot reach the Docker engine at tcp://127.0.0.1:1: ") && err.contains("set DOCKER_HOST"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
