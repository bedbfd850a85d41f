//! Many hosts: `[hosts.*]` engines reached over a unix socket, over ssh
//! (the system ssh, `docker system dial-stdio` on the far side) and over
//! tcp+TLS (through a veth pair), each a real dockerd in a network namespace
//! of its own; an unreachable host and a changed host key named in one line.

use crate::{common, support};

use common::project::{Project, stdout};
use support::engines::{Engine, Sshd, docker0_is_there};

/// `[hosts.b]` over `b`'s unix socket, `[hosts.c]` over ssh through `sshd`,
/// `[hosts.d]` over tcp+TLS to `d` (started with TLS); the last table open
/// for more keys.
fn over_each_transport(b: &Engine, sshd: &Sshd, d: &Engine) -> String {
    let (tls_addr, [ca, cert, key]) = d.tls.clone().expect("d is started with TLS");
    format!(
        "[hosts.b]\ndocker = \"{}\"\n\n[hosts.c]\ndocker = \"ssh://root@127.0.0.1:{}\"\nssh_config = \"{}\"\n\n\
         [hosts.d]\ndocker = \"tcp://{tls_addr}\"\ntls = {{ ca = \"{}\", cert = \"{}\", key = \"{}\" }}\n",
        b.url(),
        sshd.port,
        sshd.ssh_config.display(),
        ca.display(),
        cert.display(),
        key.display()
    )
}

#[test]
fn doctor_reaches_each_host_over_its_transport_and_names_the_ones_it_cannot() {
    support::require_engine();
    let (b, c, d) = (Engine::start(), Engine::start(), Engine::start_tls());
    let sshd = Sshd::start(&c.url());
    let tls_addr = d.tls.clone().unwrap().0;
    let p = Project::new(&format!("{}roles = [\"web\"]\n\n[hosts.gone]\ndocker = \"tcp://127.0.0.1:1\"\n", over_each_transport(&b, &sshd, &d)));
    let out = p.bosun(&["doctor"]);
    let text = stdout(&out);
    let line = |start: &str| text.lines().find(|l| l.contains(start)).unwrap_or_else(|| panic!("no {start:?} in:\n{text}")).to_string();
    let engine_version = String::from_utf8_lossy(&b.docker(&["version", "--format", "{{.Server.Version}}"]).stdout).trim().to_string();
    assert!(line("host b ").starts_with("ok") && line("host b ").ends_with(&format!("engine {engine_version}")), "{text}");
    let over_ssh = line("host c ");
    assert!(over_ssh.starts_with("ok") && over_ssh.contains(&format!("ssh://root@127.0.0.1:{}", sshd.port)), "{text}");
    let over_tls = line("host d ");
    assert!(over_tls.starts_with("ok") && over_tls.contains(&format!("tcp://{tls_addr} (TLS")), "{text}");
    let gone = line("host gone");
    assert!(gone.starts_with("FAIL") && gone.contains("tcp://127.0.0.1:1") && gone.contains("check hosts.gone.docker in bosun.toml"), "{gone}");
    assert_eq!(out.status.code(), Some(1), "a host that cannot be reached fails the doctor");

    // A changed host key is refused, and ssh's words name the known_hosts line.
    let other_key = tempfile::tempdir().unwrap();
    let key = other_key.path().join("k");
    assert!(std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap().success());
    let forged = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    std::fs::write(&sshd.known_hosts, format!("[127.0.0.1]:{} {forged}", sshd.port)).unwrap();
    let text = stdout(&p.bosun(&["doctor"]));
    let refused = text.lines().find(|l| l.contains("host c")).unwrap();
    assert!(refused.starts_with("FAIL") && refused.contains("ssh says:") && refused.contains(&format!("{}:1", sshd.known_hosts.display())), "{refused}");
    assert!(!refused.contains("@@@"), "one line, without ssh's banner: {refused}");

    drop((b, c, d, sshd));
    assert!(docker0_is_there(), "the host engine's docker0 is still there");
}

#[test]
fn an_unknown_host_or_role_in_a_service_is_refused_at_load() {
    let p = Project::new("[hosts.web1]\ndocker = \"unix:///var/run/docker.sock\"\nroles = [\"web\"]\n\n[services.web]\nimage = \"shop/web\"\nhosts = [\"web9\"]\nroles = [\"cache\"]\n\n[hosts.bad]\ndocker = \"ftp://x\"\n\n[hosts.tls]\ndocker = \"tcp://10.0.0.9:2376\"\ntls = { ca = \"ca.pem\", cert = \"cert.pem\", key = \"key.pem\" }\n");
    let out = p.bosun(&["releases"]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::project::stderr(&out);
    assert!(err.contains("bosun.toml:7") && err.contains("services.web.hosts: no host called web9; add a [hosts.web9] table"), "{err}");
    assert!(err.contains("services.web.roles: no host has the role cache"), "{err}");
    assert!(err.contains("hosts.bad.docker: \"ftp://x\" is not an engine address"), "{err}");
    assert!(err.contains("hosts.tls.tls.ca:") && err.contains("ca.pem"), "a TLS file that cannot be read is named: {err}");
}

#[test]
fn images_required_asks_every_host_its_services_run_on() {
    support::require_engine();
    let (b, c) = (Engine::start(), Engine::start());
    let image = support::test_image();
    b.load(&image);
    let (repo, tag) = image.rsplit_once(':').unwrap();
    let p = Project::new(&format!(
        "[hosts.b]\ndocker = \"{}\"\nroles = [\"web\"]\n\n[hosts.c]\ndocker = \"{}\"\nroles = [\"web\", \"db\"]\n\n\
         [services.web]\nimage = \"{repo}\"\nversion = \"{tag}\"\nroles = [\"web\"]\n\n[services.db]\nimage = \"bosun-test/db\"\nversion = \"9\"\nhosts = [\"c\"]\n",
        b.url(),
        c.url()
    ));
    let out = p.bosun(&["images", "required"]);
    assert_eq!(out.status.code(), Some(1), "images are missing on c");
    let text = stdout(&out);
    let row = |host: &str, image: &str| text.lines().find(|l| l.starts_with(host) && l.contains(image)).unwrap_or_else(|| panic!("{host} {image} in:\n{text}")).to_string();
    assert!(row("b ", &image).contains("present"), "{text}");
    assert!(row("c ", &image).contains("MISSING") && row("c ", "bosun-test/db:9").contains("MISSING"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("b ") && l.contains("bosun-test/db")), "db runs on c only: {text}");
    let err = common::project::stderr(&out);
    assert!(err.contains(&format!("`bosun images pull {image}` on host c")), "{err}");

    let only_b = p.bosun(&["images", "required", "--hosts", "b", "--json"]);
    assert!(only_b.status.success(), "{}", common::project::stderr(&only_b));
    let rows: serde_json::Value = serde_json::from_slice(&only_b.stdout).unwrap();
    assert!(rows.as_array().unwrap().iter().all(|r| r["host"] == "b" && r["present"] == true), "{rows}");
    let unknown = p.bosun(&["images", "required", "--hosts", "x"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(common::project::stderr(&unknown).contains("--hosts: no service runs on a host called x; they run on: b, c"));

    drop(c);
    let gone = p.bosun(&["images", "required"]);
    let err = common::project::stderr(&gone);
    assert!(gone.status.code() == Some(1) && err.contains("host c: cannot reach the Docker engine at unix://"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line naming the host and its endpoint: {err}");
}

/// Names of the containers on `engine` whose name starts with `prefix`, running or not, with their state.
fn containers_on(engine: &Engine, prefix: &str) -> Vec<String> {
    let out = engine.docker(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    let mut listed: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with(prefix)).map(str::to_string).collect();
    listed.sort();
    listed
}

#[test]
fn a_rollout_across_three_hosts_selects_by_version_rolls_back_and_undoes_a_failure() {
    support::require_engine();
    // b over its unix socket, c over ssh, d over tcp+TLS.
    let (b, c, mut d) = (Engine::start(), Engine::start(), Engine::start_tls());
    let sshd = Sshd::start(&c.url());
    let hosts = over_each_transport(&b, &sshd, &d);
    let web = support::deploys::Deploys::new("rollout", "");
    let configure = |extra: &str| web.configure_with(&format!("hosts = [\"b\", \"c\", \"d\"]\nhealth_timeout = \"20s\"\nstop_timeout = 1\n{extra}"), &hosts);
    configure("");
    let image = |version: &str| format!("{}:{version}", web.repo);
    for (version, engines) in [("1.0", vec![&b, &c, &d]), ("1.1", vec![&b]), ("1.2", vec![&c, &d])] {
        web.image(version, &[]);
        engines.iter().for_each(|e| e.load(&image(version)));
    }
    let name = |version: &str| web.container(version);

    // All three at once; a release record on each.
    let out = support::deploys::succeeded(&web.bosun(&["deploy", "web", "1.0"]));
    for host in ["b", "c", "d"] {
        assert!(out.lines().any(|l| l.starts_with(&format!("host {host}: release ")) && l.contains(&name("1.0"))), "{out}");
    }
    for engine in [&b, &c, &d] {
        assert_eq!(containers_on(engine, &web.name), [format!("{} running", name("1.0"))]);
    }
    let releases = web.releases();
    let mut hosts: Vec<&str> = releases.iter().map(|r| r["host"].as_str().unwrap()).collect();
    hosts.sort_unstable();
    assert_eq!(hosts, ["b", "c", "d"], "{releases:?}");
    assert_eq!(releases.iter().map(|r| r["run_id"].as_i64()).collect::<std::collections::BTreeSet<_>>().len(), 1, "one run covers every host");

    // The image gate runs on every host before any changes: 1.1 is on b only.
    let gated = web.bosun(&["deploy", "web", "1.1"]);
    assert_eq!(gated.status.code(), Some(2));
    let err = common::project::stderr(&gated);
    assert!(err.contains("host c: web@prod: image") && err.contains("host d: web@prod: image") && err.contains("nothing was changed"), "{err}");
    assert!(containers_on(&b, &web.name).iter().all(|c| !c.contains("1.1")), "b was not changed either");

    // One host narrowed, then the hosts still on 1.0 chosen by version.
    support::deploys::succeeded(&web.bosun(&["deploy", "web", "1.1", "--hosts", "b"]));
    let out = support::deploys::succeeded(&web.bosun(&["deploy", "web", "1.2", "--from", "1.0"]));
    assert!(out.contains("host c: release") && out.contains("host d: release"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("skipped host b: runs 1.1 (release")), "{out}");
    let matrix = stdout(&web.bosun(&["releases", "web", "--matrix"]));
    assert_eq!(matrix.lines().nth(1).unwrap().split_whitespace().collect::<Vec<_>>(), ["web", "1.1", "1.2", "1.2"], "{matrix}");
    let none = web.bosun(&["deploy", "web", "1.2", "--from", "0.9"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(common::project::stderr(&none).contains("--from 0.9: no host of web runs version 0.9 (b runs 1.1"), "{}", common::project::stderr(&none));

    // Rollback across hosts: to the newest version every host ran, 1.0.
    let out = support::deploys::succeeded(&web.bosun(&["rollback", "web"]));
    assert_eq!(out.lines().filter(|l| l.contains(&format!("runs as {}", name("1.0")))).count(), 3, "{out}");
    for engine in [&b, &c, &d] {
        assert!(containers_on(engine, &web.name).contains(&format!("{} running", name("1.0"))), "{:?}", containers_on(engine, &web.name));
    }

    // 2.0 fails its healthcheck on c: rolling one at a time, b is put back, d is never touched.
    web.image("2.0", &[("HEALTH", "fail")]);
    c.load(&image("2.0"));
    web.image("2.0", &[]);
    b.load(&image("2.0"));
    d.load(&image("2.0"));
    configure("rolling = { batch = 1 }");
    let failed = web.bosun(&["deploy", "web", "2.0"]);
    assert_eq!(failed.status.code(), Some(1));
    let err = common::project::stderr(&failed);
    assert!(err.contains("deploy of web 2.0 failed on host c:") && err.contains("web@prod on host c is back on version 1.0"), "{err}");
    assert!(err.contains("put back: b is back on version 1.0 (release") && err.contains("not started: d"), "{err}");
    assert!(containers_on(&b, &web.name).contains(&format!("{} running", name("1.0"))), "b runs 1.0 again: {:?}", containers_on(&b, &web.name));
    assert!(!containers_on(&d, &web.name).iter().any(|c| c.starts_with(&name("2.0"))), "d was not touched");
    assert!(containers_on(&d, &web.name).contains(&format!("{} running", name("1.0"))));

    // on_failure = "continue": the others go on; the command still fails.
    configure("on_failure = \"continue\"");
    let went_on = web.bosun(&["deploy", "web", "2.0"]);
    assert_eq!(went_on.status.code(), Some(1));
    let err = common::project::stderr(&went_on);
    assert!(err.contains("failed on host c") && err.contains("done: b (release") && err.contains(", d (release"), "{err}");
    assert!(containers_on(&d, &web.name).contains(&format!("{} running", name("2.0"))));

    // A host that cannot be reached: nothing changes on any host.
    configure("");
    d.kill();
    let before = (containers_on(&b, &web.name), containers_on(&c, &web.name));
    let unreachable = web.bosun(&["deploy", "web", "1.0"]);
    let err = common::project::stderr(&unreachable);
    assert_eq!(unreachable.status.code(), Some(1), "{err}");
    assert!(err.contains("host d: cannot reach the Docker engine") && err.contains("nothing was changed on any host"), "{err}");
    assert_eq!((containers_on(&b, &web.name), containers_on(&c, &web.name)), before, "nothing changed on b or c");

    // --hosts narrows status to those hosts; one no service runs on is refused.
    let only_b = stdout(&web.bosun(&["status", "--hosts", "b"]));
    assert!(only_b.contains(" service web on b: ") && !only_b.contains(" on c: ") && !only_b.contains(" on d: "), "{only_b}");
    let unknown = web.bosun(&["status", "--hosts", "zz"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(common::project::stderr(&unknown).contains("--hosts: no service runs on a host called zz"), "{}", common::project::stderr(&unknown));

    // Status has a row per host; the one that cannot be reached is amber, saying why.
    let text = stdout(&web.bosun(&["status"]));
    let row = |host: &str| text.lines().position(|l| l.contains(&format!(" service web on {host}: "))).unwrap_or_else(|| panic!("no row for {host}:\n{text}"));
    assert!(text.lines().nth(row("b")).unwrap().starts_with("green") && text.lines().nth(row("b")).unwrap().contains("2.0 (release"), "{text}");
    assert!(text.lines().nth(row("c")).unwrap().contains(": 1.0 (release"), "c was put back on 1.0: {text}");
    let d_why: Vec<&str> = text.lines().skip(row("d") + 1).take_while(|l| l.starts_with("    ")).collect();
    assert!(text.lines().nth(row("d")).unwrap().starts_with("amber") && d_why.iter().any(|l| l.contains("host d: cannot reach the Docker engine")), "{text}");
    drop((b, c, d, sshd));
    assert!(docker0_is_there());
}

/// The image a swarm service's spec runs, as the engine says it.
fn swarm_image(engine: &Engine, service: &str) -> String {
    let out = engine.docker(&["service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", service]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Running tasks of a swarm service, by image.
fn running_tasks(engine: &Engine, service: &str) -> Vec<String> {
    let out = engine.docker(&["service", "ps", "--filter", "desired-state=running", "--format", "{{.Image}} {{.CurrentState}}", service]);
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains(" Running")).map(|l| l.split_whitespace().next().unwrap().to_string()).collect()
}

#[test]
fn a_swarm_service_is_created_updated_rolled_back_and_a_bad_update_undone() {
    support::require_engine();
    let manager = Engine::start();
    let init = manager.docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
    assert!(init.status.success(), "{}", common::project::stderr(&init));
    let web = support::deploys::Deploys::new("swarm", "");
    web.configure_with(
        "strategy = \"swarm\"\nhosts = [\"m\"]\nreplicas = 2\nhealth_timeout = \"60s\"\nstop_timeout = 1\nupdate = { parallelism = 1, order = \"start-first\", failure_action = \"pause\" }",
        &format!(
            "[hosts.m]\ndocker = \"{}\"\n\n[checks.tasks]\nplugin = \"container\"\nservice = \"web\"\ndocker_host = \"m\"\nwindow_ms = 500\n\n\
             [plugins.container]\ngrant.docker = [\"inspect:*\"]\n",
            manager.url()
        ),
    );
    let image = |version: &str| format!("{}:{version}", web.repo);
    for (version, env) in [("1.0", vec![]), ("2.0", vec![]), ("3.0", vec![("HEALTH", "fail")])] {
        web.image(version, &env);
        manager.load(&image(version));
    }
    let service = format!("{}-prod-web", web.name);

    let plan = stdout(&web.bosun(&["deploy", "web", "1.0", "--dry-run"]));
    assert!(plan.contains(&format!("as swarm service {service}")) && plan.contains("replicas  2") && plan.contains("create the service"), "{plan}");
    let out = support::deploys::succeeded(&web.bosun(&["deploy", "web", "1.0"]));
    assert!(out.contains(&format!("runs as {service}")), "{out}");
    assert_eq!(running_tasks(&manager, &service), [image("1.0"), image("1.0")], "both tasks run 1.0 once the deploy returns");

    support::deploys::succeeded(&web.bosun(&["deploy", "web", "2.0"]));
    assert_eq!(running_tasks(&manager, &service), [image("2.0"), image("2.0")]);
    let status = stdout(&web.bosun(&["status"]));
    assert!(status.lines().any(|l| l.starts_with("green") && l.contains("service web on m: 2.0 (release") && l.contains("running")), "{status}");
    // The container check of a swarm service looks at one of its tasks' containers on that host.
    let checked = web.bosun(&["check", "tasks"]);
    assert!(checked.status.success() && stdout(&checked).contains(&format!("{service}.")), "{}{}", stdout(&checked), common::project::stderr(&checked));

    support::deploys::succeeded(&web.bosun(&["rollback", "web"]));
    assert_eq!(swarm_image(&manager, &service), image("1.0"));
    assert_eq!(running_tasks(&manager, &service), [image("1.0"), image("1.0")]);

    // 3.0 never gets healthy: the swarm pauses the update, bosun puts the previous spec back.
    let failed = web.bosun(&["deploy", "web", "3.0"]);
    assert_eq!(failed.status.code(), Some(1));
    let err = common::project::stderr(&failed);
    assert!(err.contains("deploy of web 3.0 failed on host m:") && err.contains("is back on version 1.0"), "{err}");
    assert_eq!(swarm_image(&manager, &service), image("1.0"), "the previous spec is back");
    let releases = web.releases();
    let outcomes: Vec<(&str, &str)> = releases.iter().map(|r| (r["version"].as_str().unwrap(), r["outcome"].as_str().unwrap())).collect();
    assert_eq!(outcomes, [("1.0", "succeeded"), ("2.0", "succeeded"), ("1.0", "succeeded"), ("3.0", "failed")]);
    drop(manager);
    assert!(docker0_is_there());
}

#[test]
fn images_check_asks_each_host_about_its_own_images() {
    support::require_engine();
    let (b, c) = (Engine::start(), Engine::start());
    let (_b_registry, _c_registry) = (b.registry(), c.registry());
    let web = support::deploys::Deploys::new("hosts-check", "");
    let (old, new) = (format!("{}:old", web.repo), format!("{}:new", web.repo));
    web.image("old", &[]);
    web.image("new", &[("BUILD", "2")]);
    let reference = "127.0.0.1:5000/shop/web:1";
    for engine in [&b, &c] {
        engine.load(&old);
        engine.push(&old, reference);
    }
    // c's registry moves on; c still runs what it pulled before.
    c.load(&new);
    c.push(&new, reference);
    let tagged = c.docker(&["tag", &old, reference]);
    assert!(tagged.status.success());
    let hosts = format!("[hosts.b]\ndocker = \"{}\"\nroles = [\"web\"]\n\n[hosts.c]\ndocker = \"{}\"\nroles = [\"web\"]\n", b.url(), c.url());
    web.write_config("127.0.0.1:5000/shop/web", "version = \"1\"\nroles = [\"web\"]", &hosts);

    let text = stdout(&web.bosun(&["images", "check"]));
    let row = |host: &str| text.lines().find(|l| l.starts_with(&format!("{host} "))).unwrap_or_else(|| panic!("no row for {host}:\n{text}")).to_string();
    assert!(row("b").contains("up to date") && row("b").contains(reference), "{text}");
    assert!(row("c").contains("update available") && row("c").contains("(web)"), "{text}");
    let only_c = web.bosun(&["images", "check", "--hosts", "c", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&only_c.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!((rows[0]["host"].as_str(), rows[0]["status"].as_str()), (Some("c"), Some("update-available")), "{rows}");

    // Pulled on both hosts at once, the progress lines named by host.
    let pulled = web.bosun(&["images", "pull", reference]);
    let (out, progress) = (stdout(&pulled), common::project::stderr(&pulled));
    assert!(pulled.status.success(), "{progress}");
    assert!(out.contains("on host b") && out.contains("on host c"), "{out}");
    assert!(progress.lines().any(|l| l.starts_with("c ")), "c's progress is named: {progress}");

    // An update recreates what runs the old image, on the host that has one.
    c.push(&old, reference);
    support::deploys::succeeded(&web.bosun(&["deploy", "web"]));
    c.push(&new, reference);
    assert!(c.docker(&["tag", &old, reference]).status.success(), "c still has the old image under the tag");
    let updated = support::deploys::succeeded(&web.bosun(&["images", "update", reference, "--yes"]));
    assert!(updated.lines().any(|l| l.starts_with("host b: ") && l.contains("is up to date; nothing recreated")), "{updated}");
    assert!(updated.lines().any(|l| l.starts_with("host c: ") && l.contains(&format!("recreated {}", web.container("1")))), "{updated}");
    let update = web.releases().into_iter().find(|r| r["kind"] == "update").expect("the update is a release");
    assert_eq!(update["host"], "c", "{update}");
    let text = stdout(&web.bosun(&["images", "check"]));
    assert_eq!(text.lines().filter(|l| l.contains("up to date")).count(), 2, "{text}");

    // Prune judges each host by its own releases: c keeps the image it ran before as a rollback point.
    let pruned = stdout(&web.bosun(&["images", "prune", "--dry-run"]));
    let (on_b, on_c) = pruned.split_once("host c:").unwrap_or_else(|| panic!("a part per host:\n{pruned}"));
    assert!(on_b.starts_with("host b:") && on_b.contains(&format!("keep    {reference}  (container {} uses it)", web.container("1"))), "{pruned}");
    assert!(on_c.contains("is a rollback point") && !pruned.contains("would remove"), "{pruned}");
}

#[test]
fn a_host_lost_mid_rollout_stops_it_and_the_done_host_is_put_back() {
    support::require_engine();
    let (b, mut c) = (Engine::start(), Engine::start());
    let web = support::deploys::Deploys::new("rollout-lost", "");
    let hosts = format!("[hosts.b]\ndocker = \"{}\"\n\n[hosts.c]\ndocker = \"{}\"\n", b.url(), c.url());
    web.configure_with("hosts = [\"b\", \"c\"]\nhealth_timeout = \"20s\"\nstop_timeout = 1\nrolling = { batch = 1, pause = \"6s\" }", &hosts);
    for version in ["1.0", "2.0"] {
        web.image(version, &[]);
        b.load(&format!("{}:{version}", web.repo));
        c.load(&format!("{}:{version}", web.repo));
    }
    support::deploys::succeeded(&web.bosun(&["deploy", "web", "1.0"]));

    let rollout = web.project.command(&["deploy", "web", "2.0"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // b is done when its 2.0 release has succeeded; the rollout then pauses before c.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !web.releases().iter().any(|r| r["host"] == "b" && r["version"] == "2.0" && r["outcome"] == "succeeded") {
        assert!(std::time::Instant::now() < deadline, "b never got 2.0");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    c.kill();
    let out = rollout.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = common::project::stderr(&out);
    assert!(err.contains("host c") && err.contains("put back: b is back on version 1.0 (release"), "{err}");
    assert!(containers_on(&b, &web.name).contains(&format!("{} running", web.container("1.0"))), "{:?}", containers_on(&b, &web.name));
    assert!(!containers_on(&b, &web.name).contains(&format!("{} running", web.container("2.0"))));
    // The run records which host failed and how.
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&web.bosun(&["runs", "--json"]).stdout).unwrap();
    let failed = runs.iter().find(|r| r["operation"] == "deploy" && r["outcome"] == "failed").unwrap_or_else(|| panic!("{runs:?}"));
    assert!(failed["summary"].as_str().unwrap().starts_with("host c: "), "{failed}");
}

#[test]
fn a_check_with_a_host_reaches_that_hosts_engine_under_the_same_grant() {
    support::require_engine();
    let b = Engine::start();
    let image = support::test_image();
    b.load(&image);
    let name = support::unique("on-b");
    let run = b.docker(&["run", "--detach", "--no-healthcheck", "--name", &name, &image]);
    assert!(run.status.success(), "{}", common::project::stderr(&run));
    let config = |grant: &str, host: &str| {
        format!(
            "[hosts.b]\ndocker = \"{}\"\n\n[checks.there]\nplugin = \"container\"\ndocker_host = \"{host}\"\nname = \"{name}\"\nwindow_ms = 500\n\n\
             [checks.here]\nplugin = \"container\"\nname = \"{name}\"\nwindow_ms = 500\n\n[plugins.container]\ngrant.docker = [\"{grant}\"]\n",
            b.url()
        )
    };
    let p = Project::new(&config("inspect:*", "b"));
    let there = p.bosun(&["check", "there"]);
    assert!(there.status.success(), "the container runs on b: {}{}", stdout(&there), common::project::stderr(&there));
    let here = p.bosun(&["check", "here"]);
    assert_eq!(here.status.code(), Some(1), "there is no such container on the local engine: {}", stdout(&here));

    // The grant still decides what the plugin may look at, whichever engine it reaches.
    std::fs::write(p.path().join("bosun.toml"), config("inspect:nothing-*", "b")).unwrap();
    let denied = p.bosun(&["check", "there", "--json"]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(stdout(&denied).contains("denied"), "{}", stdout(&denied));

    std::fs::write(p.path().join("bosun.toml"), config("inspect:*", "nope")).unwrap();
    let unknown = p.bosun(&["check", "there"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(common::project::stderr(&unknown).contains("checks.there.docker_host: no host called nope; add a [hosts.nope] table"), "{}", common::project::stderr(&unknown));
}

#[test]
fn a_backup_set_with_a_docker_host_backs_up_and_restores_a_volume_on_that_host() {
    support::require_engine();
    let b = Engine::start();
    let image = support::test_image();
    b.load(&image);
    let (volume, container) = (support::unique("hosts-vol"), support::unique("hosts-vol-user"));
    let run = b.docker(&["run", "--detach", "--no-healthcheck", "--name", &container, "--volume", &format!("{volume}:/data"), &image]);
    assert!(run.status.success(), "{}", common::project::stderr(&run));
    let files = tempfile::tempdir().unwrap();
    let put = |text: &str| {
        std::fs::write(files.path().join("note.txt"), text).unwrap();
        let cp = b.docker(&["cp", &files.path().join("note.txt").display().to_string(), &format!("{container}:/data/note.txt")]);
        assert!(cp.status.success(), "{}", common::project::stderr(&cp));
    };
    let read = || {
        let out = files.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        assert!(b.docker(&["cp", &format!("{container}:/data/note.txt"), &out.display().to_string()]).status.success());
        std::fs::read_to_string(&out).unwrap()
    };
    put("the original\n");
    let p = Project::new(&format!(
        "[hosts.b]\ndocker = \"{}\"\n\n[backups.vol]\nstrategy = \"volume\"\ndest = \"backups\"\nvolume = \"{volume}\"\nstop = [\"{container}\"]\ndocker_host = \"b\"\n\n\
         [plugins.volume.grant]\ndocker = [\"inspect,copy:{container}\"]\n",
        b.url()
    ));
    let here = std::process::Command::new("docker").args(["volume", "inspect", &volume]).output().unwrap();
    assert!(!here.status.success(), "the volume is on b only");
    let taken = p.bosun(&["backup", "run", "vol", "--json"]);
    assert!(taken.status.success(), "{}", common::project::stderr(&taken));
    let id = serde_json::from_slice::<serde_json::Value>(&taken.stdout).unwrap()["backup"]["id"].as_str().unwrap().to_string();

    put("damaged\n");
    let restored = p.bosun(&["backup", "restore", &id]);
    assert!(restored.status.success(), "{}", common::project::stderr(&restored));
    assert_eq!(read(), "the original\n", "restored in place on b");
    let state = b.docker(&["inspect", "--format", "{{.State.Running}}", &container]);
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "true", "started again on b after the restore");
}
