//! Deploys, failed deploys, rollbacks and locks as users run them: the real
//! `bosun` binary against the real Docker engine, with `FROM scratch` images
//! the tests build (one per version; a "bad" version fails its healthcheck).

use crate::{common, support};

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
    assert_eq!(kept, [false, true], "the newest replaced container (2.0's) is kept, 1.0's is removed");

    // The rollback starts the kept 2.0 container again.
    let two = inspect(&d.container("2.0")).unwrap();
    let rolled = succeeded(&d.bosun(&["rollback", "web", "--to", "2.0"]));
    assert!(running(&d.container("2.0")), "{rolled}");
    assert_eq!(inspect(&d.container("2.0")).unwrap()["Id"], two["Id"], "started again, not recreated: {rolled}");
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
    // stderr is not a terminal: a plain line per phase, then the error in one line.
    let (new, old) = (d.container("2.0-bad"), d.container("1.0"));
    let progress = stderr(&out);
    let phases: Vec<&str> = progress.lines().map(|l| l.split(" (").next().unwrap()).collect();
    let expected = [
        format!("stopping {old}"),
        format!("creating {new}"),
        format!("starting {new}"),
        format!("waiting for {new} to be healthy"),
        format!("undoing: putting {old} back"),
    ];
    assert_eq!(phases[..phases.len() - 1], expected, "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("waiting for {new} to be healthy (30s left)")), "the time left is shown: {}", stderr(&out));
    let err = stderr(&out).lines().last().unwrap().to_string();
    assert!(err.starts_with("error: deploy of web 2.0-bad failed: container") && err.contains(&format!("container {new} is unhealthy")), "named, not by id: {err}");
    assert!(err.contains(&format!("is back on version 1.0 ({old})")), "{err}");
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
    assert!(err.contains(&format!("image {}:9.9 is not on this machine; pull it with `bosun images pull {}:9.9`; nothing was changed", d.repo, d.repo)), "{err}");

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
    assert!(stderr(&out).contains(&format!("127.0.0.1:{busy_port} is held by ")), "{}", stderr(&out));
    // ...and one held by another service's container.
    let rival = Deploys::new("deploy-rival", &format!("ports = [\"127.0.0.1:{port}:8080\"]"));
    rival.image("1.0", &[]);
    let out = rival.bosun(&["deploy", "web", "1.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("127.0.0.1:{port} is published by container {}", d.container("1.0"))), "{}", stderr(&out));

    let out = d.bosun(&["deploy", "nope", "1.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no service called nope; bosun.toml has: web"), "{}", stderr(&out));

    // Dry run: the plan, and nothing created.
    let plan = succeeded(&d.bosun(&["deploy", "web", "2.0", "--dry-run"]));
    assert!(plan.contains(&format!("create    {}", d.container("2.0"))), "{plan}");
    assert!(plan.contains("stop old, then start new"), "{plan}");
    assert!(plan.contains(&format!("ports 127.0.0.1:{port}:8080/tcp)")), "the host IP is kept: {plan}");
    assert!(plan.contains(&format!("stop      {} (version 1.0)", d.container("1.0"))), "{plan}");
    assert!(inspect(&d.container("2.0")).is_none());

    assert_eq!(started_at(), before, "the running release was never stopped");
    assert_eq!(d.releases().len(), 1, "refusals record no release");
}

/// The running release's container, as a test compares it before and after.
fn identity(container: &str) -> (Value, Value, Value) {
    let c = inspect(container).unwrap_or_else(|| panic!("{container} is gone"));
    (c["Id"].clone(), c["State"]["StartedAt"].clone(), c["State"]["Running"].clone())
}

/// `bosun deploy web <version>` is refused with exit 2, one line naming
/// `expected` and ending with the promise that nothing was changed.
fn refused(d: &Deploys, version: &str, expected: &str) -> String {
    let out = d.bosun(&["deploy", "web", version]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(expected), "expected {expected:?} in: {err}");
    assert!(err.trim_end().ends_with("; nothing was changed"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn deploy_checks_the_host_before_stopping_the_running_release() {
    support::require_engine();
    let port = free_port();
    let own_port = format!("ports = [\"127.0.0.1:{port}:8080\"]");
    let d = Deploys::new("deploy-preflight", &own_port);
    d.image("1.0", &[]);
    d.image("2.0", &[]);
    succeeded(&d.bosun(&["deploy", "web", "1.0"]));
    let before = identity(&d.container("1.0"));

    // Another process holds a second port: found although the service's own container holds the first.
    let process = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let held = process.local_addr().unwrap().port();
    d.configure(&format!("ports = [\"127.0.0.1:{port}:8080\", \"127.0.0.1:{held}:9090\"]"));
    refused(&d, "2.0", &format!("127.0.0.1:{held} is held by "));
    let err = refused(&d, "2.0", &format!("(pid {}) on this host; stop it or change services.web.ports", std::process::id()));
    assert!(!err.contains("is published by"), "the service's own container may hold its port: {err}");
    // Every address collides with one; another loopback address does not.
    d.configure(&format!("ports = [\"127.0.0.1:{port}:8080\", \"{held}:9090\"]"));
    refused(&d, "2.0", &format!("port {held} is held by "));
    d.configure(&format!("ports = [\"127.0.0.1:{port}:8080\", \"127.0.0.2:{held}:9090\"]"));
    succeeded(&d.bosun(&["deploy", "web", "2.0", "--dry-run"]));
    drop(process);

    // Another container publishes it.
    let taken = free_port();
    let rival = support::run_test_container(&format!("{}-rival", d.name), &[], &["--publish", &format!("127.0.0.1:{taken}:8080")]);
    d.configure(&format!("ports = [\"127.0.0.1:{port}:8080\", \"{taken}:9090\"]"));
    refused(&d, "2.0", &format!("port {taken} is published by container {}, which this release does not replace", rival.name));
    drop(rival);

    let network = support::unique("bosun-test-no-network");
    d.configure(&format!("{own_port}\nnetworks = [\"{network}\"]"));
    refused(&d, "2.0", &format!("network {network} does not exist; create it (`docker network create {network}`) or change services.web.networks"));

    let missing = d.project.path().join("no-such-data");
    d.configure(&format!("{own_port}\nvolumes = [\"{}:/data\"]", missing.display()));
    refused(&d, "2.0", &format!("bind source {} does not exist; create it or change services.web.volumes", missing.display()));

    let volume = support::unique("bosun-test-volume");
    d.configure(&format!("{own_port}\nvolumes = [\"{volume}:/data\"]\nvolume_driver = \"no-such-driver\""));
    refused(&d, "2.0", &format!("volume {volume} would be created with the driver no-such-driver, which this engine does not have (it has local"));

    d.configure(&format!("{own_port}\nenv_files = [\"missing.env\"]"));
    refused(&d, "2.0", &format!("env file {}/missing.env cannot be read (No such file or directory", d.project.dir.path().display()));

    d.configure(&own_port);
    d.foreign_image("3.0-arm", "arm64");
    let engine_arch = String::from_utf8(support::docker(&["version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"]).stdout).unwrap();
    refused(&d, "3.0-arm", &format!("image {}:3.0-arm is built for linux/arm64, but the engine runs {}", d.repo, engine_arch.trim()));

    // Every problem at once, in one line.
    d.configure(&format!("{own_port}\nnetworks = [\"{network}\"]\nvolumes = [\"{}:/data\"]", missing.display()));
    let err = refused(&d, "2.0", &format!("network {network} does not exist"));
    assert!(err.contains(&format!("bind source {} does not exist", missing.display())), "{err}");

    assert_eq!(identity(&d.container("1.0")), before, "the running release was never stopped");
    assert!(inspect(&d.container("2.0")).is_none(), "nothing was created");
    assert_eq!(d.releases().len(), 1, "refusals record no release");
    // The service's own container holds its port and is replaced: the deploy goes ahead.
    d.configure(&own_port);
    succeeded(&d.bosun(&["deploy", "web", "2.0"]));
    assert_eq!(http_get(port), "2.0");
}

#[test]
fn redeploying_the_running_version_recreates_it_only_when_something_changed() {
    support::require_engine();
    let d = Deploys::new("deploy-again", "env = { GREETING = \"hi\" }");
    d.image("1.0", &[]);
    // Run as a cron job or a systemd unit would: no $USER.
    let without_user = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bosun"));
        command.args(args).current_dir(d.project.dir.path()).env_remove("USER").env_remove("BOSUN_USER").env_remove("BOSUN_CONFIG");
        command.output().unwrap()
    };
    succeeded(&without_user(&["deploy", "web", "1.0"]));
    let name = d.container("1.0");
    let first = inspect(&name).unwrap()["Id"].clone();

    let again = succeeded(&d.bosun(&["deploy", "web", "1.0"]));
    assert!(again.contains(&format!("web 1.0 already runs as {name} from the same image and config; nothing was changed (`--force` recreates it)")), "{again}");
    assert_eq!(inspect(&name).unwrap()["Id"], first);
    assert_eq!(d.releases().len(), 1, "nothing done, nothing recorded");

    d.configure("env = { GREETING = \"hello\" }");
    let plan = succeeded(&d.bosun(&["deploy", "web", "1.0", "--dry-run"]));
    assert!(plan.contains(&format!("redeploy  version 1.0 already runs as {name}; the config changed: it is renamed to {name}-r1 and replaced")), "{plan}");
    succeeded(&d.bosun(&["deploy", "web", "1.0"]));
    let second = inspect(&name).unwrap();
    assert_ne!(second["Id"], first);
    assert!(second["Config"]["Env"].as_array().unwrap().iter().any(|e| e == "GREETING=hello"));
    assert_eq!(inspect(&format!("{name}-r1")).unwrap()["State"]["Running"], false, "the old one is kept for rollback");

    let forced = succeeded(&d.bosun(&["deploy", "web", "1.0", "--force", "-m", "forced"]));
    assert!(forced.contains(&format!("runs as {name}")), "{forced}");
    assert_ne!(inspect(&name).unwrap()["Id"], second["Id"], "--force recreates it");

    // `releases` shows the short image id and config hash, and who ran it.
    let releases = d.releases();
    let text = succeeded(&d.bosun(&["releases", "web"]));
    let row = text.lines().find(|l| l.starts_with("   1 ")).unwrap_or_else(|| panic!("{text}"));
    let short = |v: &Value| v.as_str().unwrap().trim_start_matches("sha256:")[..12].to_string();
    assert!(row.contains(&short(&releases[0]["image_digest"])) && row.contains(&short(&releases[0]["config_hash"])), "{text}");
    let passwd_name = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    assert_eq!(releases[0]["who"], passwd_name.trim(), "without $USER, the uid's passwd name");
    assert!(text.lines().next().unwrap().contains("image         config"), "{text}");
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
    assert!(err.contains("bosun.toml:") && err.contains("services.web.ports[0]: `8080:eighty`: `eighty` is not a port number"), "{err}");
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
    let rollout: Value = serde_json::from_str(&out).unwrap();
    let released = &rollout["hosts"][0];
    assert_eq!((released["host"].as_str(), released["result"].as_str()), (Some("local"), Some("done")), "{rollout}");
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
