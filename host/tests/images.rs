//! Image checks, pulls, updates and prunes as users run them: the real
//! `bosun` binary, the real Docker engine and a local registry (Debian's
//! `docker-registry`) on a free loopback port.

use crate::{common, support};

use std::process::Command;

use common::project::{stderr, stdout};
use serde_json::Value;
use support::deploys::{Deploys, free_port, inspect, succeeded};
use support::{ContainerGuard, Registry, docker, unique};

fn image_id(reference: &str) -> String {
    String::from_utf8(docker(&["image", "inspect", "--format", "{{.Id}}", reference]).stdout).unwrap().trim().to_string()
}

fn check_statuses(d: &Deploys) -> Vec<(String, String)> {
    let checked: Vec<Value> = serde_json::from_str(&succeeded(&d.bosun(&["images", "check", "--json"]))).unwrap();
    checked.iter().map(|c| (c["image"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string())).collect()
}

/// The parts of a container's config an update must keep, for comparison.
fn config_kept(c: &Value) -> Value {
    let host = &c["HostConfig"];
    let mut env: Vec<&str> = c["Config"]["Env"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).filter(|e| !e.starts_with("VERSION=")).collect();
    env.sort();
    let networks = c["NetworkSettings"]["Networks"].as_object().unwrap();
    // The engine adds each container's own short id as an alias.
    let own_id = &c["Id"].as_str().unwrap()[..12];
    let aliases: Vec<(String, Vec<&str>)> = networks
        .iter()
        .map(|(n, e)| (n.clone(), e["Aliases"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).filter(|a| *a != own_id).collect()))
        .collect();
    let mut mounts: Vec<(String, String, String)> = c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["Type"].as_str().unwrap().into(), m["Name"].as_str().or(m["Source"].as_str()).unwrap_or_default().into(), m["Destination"].as_str().unwrap().into()))
        .collect();
    mounts.sort();
    serde_json::json!({
        "name": c["Name"], "env": env, "labels": c["Config"]["Labels"], "cmd": c["Config"]["Cmd"],
        "binds": host["Binds"], "ports": host["PortBindings"], "restart": host["RestartPolicy"],
        "memory": host["Memory"], "cpus": host["NanoCpus"], "network_mode": host["NetworkMode"],
        "aliases": aliases, "mounts": mounts, "running": c["State"]["Running"],
    })
}

#[test]
fn update_recreates_running_and_stopped_containers_with_their_config() {
    support::require_engine();
    let registry = Registry::start();
    let d = Deploys::new("images-update", "");
    d.image("v1", &[]);
    d.image("v2", &[]);
    let (live, _) = registry.push(&format!("{}:v1", d.repo), &format!("{}/web:live", d.name));
    let repo = live.rsplit_once(':').unwrap().0.to_string();
    d.configure_image(&repo, "version = \"live\"");
    let v1 = image_id(&live);
    assert_eq!(check_statuses(&d), [(live.clone(), "up-to-date".to_string())]);

    // The registry gets v2 under the same tag; this machine still has v1.
    registry.push(&format!("{}:v2", d.repo), &format!("{}/web:live", d.name));
    docker(&["tag", &format!("{}:v1", d.repo), &live]);
    assert_eq!(image_id(&live), v1);
    assert_eq!(check_statuses(&d), [(live.clone(), "update-available".to_string())]);

    let network = unique("bosun-test-net");
    docker(&["network", "create", "--label", support::TEST_LABEL, &network]);
    let _network = NetworkGuard(network.clone());
    let data = tempfile::tempdir().unwrap();
    let volume = unique("bosun-test-vol");
    let port = free_port().to_string();
    let (serving, stopped) = (unique("upd-serving"), unique("upd-stopped"));
    let _guards = [ContainerGuard { name: serving.clone() }, ContainerGuard { name: stopped.clone() }];
    let bind = format!("{}:/data/host:ro", data.path().display());
    let publish = format!("127.0.0.1:{port}:8080");
    let mount = format!("{volume}:/data/vol");
    #[rustfmt::skip]
    let shared: Vec<&str> = vec!["--label", support::TEST_LABEL, "--label", "team=shop", "--env", "DB_HOST=db", "--volume", &bind, "--volume", &mount,
        "--network", &network, "--network-alias", "web-alias", "--restart", "unless-stopped", "--memory", "64m", "--cpus", "0.5"];
    let mut run = vec!["run", "--detach", "--name", &serving, "--publish", &publish];
    run.extend(&shared);
    run.push(&live);
    docker(&run);
    let mut create = vec!["create", "--name", &stopped];
    create.extend(&shared);
    create.extend([live.as_str(), "serve"]);
    docker(&create);
    support::wait_ready(&serving);
    let before: Vec<Value> = [&serving, &stopped].iter().map(|c| inspect(c).unwrap()).collect();

    let out = d.bosun(&["images", "update", &live]);
    assert_eq!(out.status.code(), Some(2), "no terminal and no --yes: {}", stderr(&out));
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    let planned = succeeded(&d.bosun(&["images", "update", &live, "--dry-run"]));
    assert!(planned.contains(&format!("{serving} (running)")) && planned.contains(&format!("{stopped} (stopped)")), "{planned}");
    assert_eq!(image_id(&live), v1, "a dry run pulls nothing");

    let done = succeeded(&d.bosun(&["images", "update", &live, "--yes"]));
    assert!(done.contains("recreated"), "{done}");
    let v2 = image_id(&live);
    assert_ne!(v2, v1);
    for (name, old) in [&serving, &stopped].iter().zip(&before) {
        let new = inspect(name).unwrap();
        assert_ne!(new["Id"], old["Id"], "{name} was recreated");
        assert_eq!(new["Image"], v2.as_str(), "{name} runs the new image");
        assert_eq!(config_kept(&new), config_kept(old), "{name} kept its config");
        let envs = new["Config"]["Env"].as_array().unwrap();
        assert!(envs.iter().any(|e| e == "VERSION=v2"), "the new image's own env applies: {envs:?}");
    }
    support::wait_ready(&serving);

    let history: Vec<Value> = serde_json::from_str(&succeeded(&d.bosun(&["images", "history", "--json"]))).unwrap();
    let rows: Vec<(&str, bool, &str)> = history.iter().map(|h| (h["container"].as_str().unwrap(), h["was_running"].as_bool().unwrap(), h["outcome"].as_str().unwrap())).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.contains(&(serving.as_str(), true, "succeeded")) && rows.contains(&(stopped.as_str(), false, "succeeded")), "{rows:?}");
    assert_eq!(check_statuses(&d), [(live.clone(), "up-to-date".to_string())]);
    let again = succeeded(&d.bosun(&["images", "update", &live, "--yes"]));
    assert!(again.contains("is up to date; nothing recreated"), "{again}");

    let out = d.bosun(&["images", "pull", &format!("{repo}:no-such-tag")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("pulling {repo}:no-such-tag: ")) && stderr(&out).lines().count() == 1, "{}", stderr(&out));
    let _ = Command::new("docker").args(["volume", "rm", "-f", &volume]).output();
}

struct NetworkGuard(String);

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["network", "rm", &self.0]).output();
    }
}

#[test]
fn pull_shows_progress_and_required_names_what_is_missing() {
    support::require_engine();
    let registry = Registry::start();
    let d = Deploys::new("images-pull", "version = \"2.0\"");
    // A layer of its own, so the pull downloads something.
    let context = tempfile::tempdir().unwrap();
    // Incompressible (xorshift), so the layer stays 2 MiB on the wire and the pull reports bytes as they come.
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
    let noise: Vec<u8> = (0..2u32 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    std::fs::write(context.path().join("noise.bin"), noise).unwrap();
    std::fs::write(context.path().join("Dockerfile"), format!("FROM {}\nCOPY noise.bin /noise.bin\n", support::test_image())).unwrap();
    docker(&["build", "--quiet", "--tag", &format!("{}:1.0", d.repo), &context.path().to_string_lossy()]);
    let (pushed, _) = registry.push(&format!("{}:1.0", d.repo), &format!("{}/web:1.0", d.name));
    let repo = pushed.rsplit_once(':').unwrap().0.to_string();
    docker(&["image", "rm", &pushed, &format!("{}:1.0", d.repo)]);
    d.configure_image(&repo, "version = \"1.0\"");

    let out = d.bosun(&["images", "required"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains(&format!("MISSING  {pushed}  (web)")), "{}", stdout(&out));
    assert!(stderr(&out).contains(&format!("`bosun images pull {pushed}`")), "{}", stderr(&out));
    let out = d.bosun(&["deploy", "web"]);
    assert_eq!(out.status.code(), Some(2), "deploy never downloads by itself");
    let doctor = d.bosun(&["doctor"]);
    assert_eq!(doctor.status.code(), Some(1));
    assert!(stdout(&doctor).contains(&format!("FAIL images     {pushed} (web) is missing: `bosun images pull {pushed}`")), "{}", stdout(&doctor));

    let out = d.bosun(&["images", "pull", &pushed]);
    succeeded(&out);
    let progress = stderr(&out);
    assert!(progress.contains(": Pull complete ("), "per-layer progress lines with the layer's size: {progress}");
    assert!(progress.contains(": Already exists"), "the test image's layer is here already: {progress}");
    assert!(progress.lines().any(|l| l.contains(": Downloading ") && l.contains("B/")), "byte counts of the layer pulled: {progress}");
    assert!(!progress.contains("0 B/0 B"), "{progress}");
    assert!(stdout(&d.bosun(&["images", "required"])).contains(&format!("present  {pushed}")));
    assert!(stdout(&d.bosun(&["doctor"])).contains("ok   images     the 1 image(s) the services need are here"));
    succeeded(&d.bosun(&["deploy", "web"]));
}

#[test]
fn prune_keeps_running_kept_and_recent_releases() {
    support::require_engine();
    let d = Deploys::new("images-prune", "retain = 1");
    for v in ["1", "2", "3", "4"] {
        d.image(v, &[]);
        succeeded(&d.bosun(&["deploy", "web", v]));
    }
    // The kept container of 3 is gone, but release 3 is still a rollback point.
    docker(&["rm", &d.container("3")]);

    let plan = |keep: &str| -> Value { serde_json::from_str(&succeeded(&d.bosun(&["images", "prune", "--keep", keep, "--dry-run", "--json"]))).unwrap() };
    let tags = |list: &Value| -> Vec<String> {
        let mut t: Vec<String> = list.as_array().unwrap().iter().flat_map(|i| i["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string())).collect();
        t.sort();
        t
    };
    let tag = |v: &str| format!("{}:{v}", d.repo);
    let wide = plan("3");
    assert_eq!(tags(&wide["keep"]), [tag("2"), tag("3"), tag("4")]);
    assert_eq!(tags(&wide["remove"]), [tag("1")]);
    let narrow = plan("1");
    assert_eq!(tags(&narrow["keep"]), [tag("3"), tag("4")]);
    let reasons: Vec<&str> = narrow["keep"].as_array().unwrap().iter().map(|i| i["kept_because"].as_str().unwrap()).collect();
    assert!(reasons.iter().any(|r| r.contains("uses it")) && reasons.iter().any(|r| r.contains("rollback point")), "{reasons:?}");
    assert_eq!(tags(&narrow["remove"]), [tag("1"), tag("2")]);
    for v in ["1", "2", "3", "4"] {
        assert!(!image_id(&tag(v)).is_empty(), "a dry run removes nothing");
    }

    succeeded(&d.bosun(&["images", "prune", "--keep", "1"]));
    let present = |v: &str| Command::new("docker").args(["image", "inspect", &tag(v)]).output().unwrap().status.success();
    assert_eq!(["1", "2", "3", "4"].map(present), [false, false, true, true]);
    succeeded(&d.bosun(&["rollback", "web"]));
}

#[test]
fn updating_a_deployed_service_records_a_release_and_keeps_rollback_working() {
    support::require_engine();
    let registry = Registry::start();
    let d = Deploys::new("images-managed", "");
    d.image("v1", &[]);
    d.image("v2", &[]);
    let (live, _) = registry.push(&format!("{}:v1", d.repo), &format!("{}/web:live", d.name));
    let repo = live.rsplit_once(':').unwrap().0.to_string();
    d.configure_image(&repo, "version = \"live\"\nretain = 2");
    // Two containers of the service run `live`: the current one and the one it replaced.
    succeeded(&d.bosun(&["deploy", "web"]));
    succeeded(&d.bosun(&["deploy", "web", "--force"]));
    registry.push(&format!("{}:v2", d.repo), &format!("{}/web:live", d.name));
    docker(&["tag", &format!("{}:v1", d.repo), &live]);

    let done = succeeded(&d.bosun(&["images", "update", &live, "--yes"]));
    assert!(done.contains("recreated"), "{done}");
    let releases = d.releases();
    let kinds: Vec<(&str, &str)> = releases.iter().map(|r| (r["kind"].as_str().unwrap(), r["outcome"].as_str().unwrap())).collect();
    assert_eq!(kinds, [("deploy", "succeeded"), ("deploy", "succeeded"), ("update", "succeeded")], "the kept container is no release of its own");
    let history: Vec<Value> = serde_json::from_str(&succeeded(&d.bosun(&["images", "history", "--json"]))).unwrap();
    assert_eq!(history.len(), 2, "both containers were recreated: {history:?}");
    let current = d.container("live");
    let new = inspect(&current).unwrap();
    assert_eq!(new["Image"], image_id(&live).as_str());
    assert_eq!(new["State"]["Running"], true);
    assert!(succeeded(&d.bosun(&["lock", "status"])).contains("no locks held"));

    // Rolling back goes to the release before the update: the old image, by id.
    let v1 = image_id(&format!("{}:v1", d.repo));
    succeeded(&d.bosun(&["rollback", "web"]));
    assert_eq!(inspect(&current).unwrap()["Image"], v1.as_str(), "the recorded image, though the tag moved on");
}
