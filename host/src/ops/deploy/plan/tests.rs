//! Plans from snapshots written by hand: no Docker, no naming plugin.

use std::net::IpAddr;

use super::*;
use crate::ops::deploy::snapshot::{Container, Host, HostPort, PathState, Socket};

const NAME: &str = "shop-prod-web-2.0";

fn service(extra: &str) -> Service {
    toml::from_str(&format!("image = \"shop/web\"\n{extra}")).unwrap()
}

fn deploy(version: &str, extra: &str) -> Target {
    Target {
        service_name: "web".into(),
        service: service(extra),
        version: version.into(),
        kind: ReleaseKind::Deploy,
        pinned_image: None,
        from_release: None,
        kept_container: None,
    }
}

/// A rollback to `release`, which ran image `image_id` in container `kept`.
fn rollback(version: &str, release: i64, image_id: &str, kept: Option<&str>) -> Target {
    Target {
        kind: ReleaseKind::Rollback,
        pinned_image: Some(image_id.into()),
        from_release: Some(release),
        kept_container: kept.map(String::from),
        ..deploy(version, "")
    }
}

fn options() -> PlanOptions {
    PlanOptions { project: "shop".into(), env: "prod".into(), config_dir: "/srv/shop".into(), name: NAME.into(), force: false }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// An engine on this machine with `shop/web:<version>` for each version
/// (image id `sha256:<version>`) and no containers.
fn engine_with(versions: &[&str]) -> Snapshot {
    let images = versions.iter().map(|v| (format!("shop/web:{v}"), Image { id: format!("sha256:{v}"), platform: Some("linux/amd64".into()), healthcheck: None }));
    Snapshot { images: images.collect(), platform: "linux/amd64".into(), volume_drivers: vec!["local".into()], host: Some(Host::default()), ..Snapshot::default() }
}

/// The service's container of `version`, made by release `release`.
fn ours(version: &str, release: i64, state: &str) -> Container {
    let labels = [
        ("bosun.project", "shop"),
        ("bosun.service", "web"),
        ("bosun.env", "prod"),
        ("bosun.version", version),
        ("bosun.release", &release.to_string()),
        ("bosun.config-hash", "an older config"),
    ];
    Container {
        id: format!("{release:0>12}{version}"),
        name: format!("shop-prod-web-{version}"),
        image: format!("shop/web:{version}"),
        image_id: format!("sha256:{version}"),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        state: state.into(),
        created: 1_700_000_000 + release,
        ports: vec![],
    }
}

fn publishing(mut container: Container, addr: Option<&str>, port: u16) -> Container {
    container.ports.push(HostPort { addr: addr.map(ip), port, protocol: "tcp".into() });
    container
}

/// A container bosun does not manage.
fn stranger(name: &str) -> Container {
    Container { id: format!("{name}-id"), name: name.into(), image: "redis:7".into(), state: "running".into(), ..Container::default() }
}

fn socket(addr: &str, port: u16, holder: Option<&str>) -> Socket {
    Socket { protocol: "tcp".into(), addr: ip(addr), port, holder: holder.map(String::from) }
}

fn names(containers: &[Managed]) -> Vec<&str> {
    containers.iter().map(|m| m.name.as_str()).collect()
}

fn refusal(result: Result<DeployPlan, Refusal>) -> String {
    match result {
        Ok(plan) => panic!("planned instead of refused:\n{plan}"),
        Err(refusal) => refusal.to_string(),
    }
}

#[test]
fn a_fixed_port_that_is_free_is_planned() {
    let mut snapshot = engine_with(&["2.0"]);
    // Others on the same port elsewhere, or on other ports, are not in the way.
    snapshot.containers.push(publishing(stranger("redis"), Some("127.0.0.2"), 8080));
    snapshot.containers.push(publishing(stranger("cache"), None, 6379));
    snapshot.host.as_mut().unwrap().sockets.push(socket("127.0.0.3", 8080, Some("nginx (pid 812)")));
    let plan = plan(deploy("2.0", "ports = [\"127.0.0.1:8080:80\"]"), &snapshot, &options()).unwrap();
    assert_eq!(plan.container.name, NAME);
    assert_eq!(plan.container.image, "shop/web:2.0");
    assert_eq!(plan.container.ports[0].host_port, Some(8080));
    assert_eq!((plan.facts.image.as_str(), plan.facts.image_id.as_str()), ("shop/web:2.0", "sha256:2.0"));
    assert_eq!(plan.order, Order::StartFirst, "nothing runs yet: nothing to stop");
    assert!(plan.replaces.is_empty() && plan.remove.is_empty() && plan.set_aside.is_none() && plan.unchanged.is_none(), "{plan}");
}

#[test]
fn a_fixed_port_held_by_another_process_is_refused_before_anything_stops() {
    let mut snapshot = engine_with(&["2.0"]);
    snapshot.containers.push(ours("1.0", 1, "running"));
    snapshot.host.as_mut().unwrap().sockets.push(socket("0.0.0.0", 8080, Some("nginx (pid 812)")));
    let target = || deploy("2.0", "ports = [\"127.0.0.1:8080:80\"]");
    assert_eq!(
        refusal(plan(target(), &snapshot, &options())),
        "web@prod: 127.0.0.1:8080 is held by nginx (pid 812) on this host; stop it or change services.web.ports; nothing was changed"
    );
    // A holder the host does not show is still a holder.
    snapshot.host.as_mut().unwrap().sockets[0].holder = None;
    assert!(refusal(plan(target(), &snapshot, &options())).contains("127.0.0.1:8080 is held by a process on this host"));
    // An engine elsewhere: this machine's sockets are not its ports.
    snapshot.host = None;
    let plan = plan(target(), &snapshot, &options()).unwrap();
    assert_eq!(names(&plan.replaces), ["shop-prod-web-1.0"]);
}

#[test]
fn a_fixed_port_published_by_an_unmanaged_container_is_refused() {
    let mut snapshot = engine_with(&["2.0"]);
    snapshot.containers.push(ours("1.0", 1, "running"));
    snapshot.containers.push(publishing(stranger("redis"), None, 8080));
    // The engine's proxy for that port shows as a listening socket too; the container is named, not the proxy.
    snapshot.host.as_mut().unwrap().sockets.push(socket("0.0.0.0", 8080, Some("docker-proxy (pid 90)")));
    assert_eq!(
        refusal(plan(deploy("2.0", "ports = [\"8080:80\"]"), &snapshot, &options())),
        "web@prod: port 8080 is published by container redis, which this release does not replace; stop it or change services.web.ports; nothing was changed"
    );
    // A stopped container holds no port.
    snapshot.containers[1].state = "exited".into();
    snapshot.host.as_mut().unwrap().sockets.clear();
    plan(deploy("2.0", "ports = [\"8080:80\"]"), &snapshot, &options()).unwrap();
}

#[test]
fn the_replaced_container_holding_the_port_stops_first() {
    let mut snapshot = engine_with(&["2.0"]);
    snapshot.containers.push(publishing(ours("1.0", 1, "running"), Some("127.0.0.1"), 8080));
    snapshot.host.as_mut().unwrap().sockets.push(socket("127.0.0.1", 8080, Some("docker-proxy (pid 90)")));
    let plan = plan(deploy("2.0", "ports = [\"127.0.0.1:8080:80\"]"), &snapshot, &options()).unwrap();
    assert_eq!(plan.order, Order::StopFirst);
    assert_eq!(names(&plan.replaces), ["shop-prod-web-1.0"]);
    assert!(plan.to_string().contains("order     stop old, then start new (they publish the same host port)"), "{plan}");
}

#[test]
fn without_fixed_ports_the_new_container_starts_first() {
    let mut snapshot = engine_with(&["2.0"]);
    snapshot.containers.push(publishing(ours("1.0", 1, "running"), None, 32768));
    let plan = plan(deploy("2.0", "ports = [\"80\"]"), &snapshot, &options()).unwrap();
    assert_eq!(plan.order, Order::StartFirst, "an engine-chosen port does not collide");
    assert_eq!(names(&plan.replaces), ["shop-prod-web-1.0"]);
    assert!(plan.to_string().contains("order     start new, then stop old"), "{plan}");
}

#[test]
fn a_name_taken_by_an_unmanaged_container_is_refused() {
    let mut snapshot = engine_with(&["2.0"]);
    snapshot.containers.push(stranger(NAME));
    assert_eq!(
        refusal(plan(deploy("2.0", ""), &snapshot, &options())),
        format!("web@prod: container name {NAME} is taken by a container bosun does not manage for web@prod; rename or remove it, or change [naming].template; nothing was changed")
    );
    // The same name on another project's container is not ours either.
    let mut theirs = ours("2.0", 7, "exited");
    theirs.labels.insert("bosun.project".into(), "blog".into());
    snapshot.containers = vec![theirs];
    assert!(refusal(plan(deploy("2.0", ""), &snapshot, &options())).contains("is taken by a container bosun does not manage"));
}

#[test]
fn a_name_taken_by_the_services_own_container_is_set_aside() {
    let mut snapshot = engine_with(&["2.0"]);
    snapshot.containers.push(ours("2.0", 4, "exited"));
    let plan = plan(deploy("2.0", ""), &snapshot, &options()).unwrap();
    let aside = plan.set_aside.as_ref().unwrap();
    assert_eq!((aside.container.name.as_str(), aside.renamed_to.as_str()), (NAME, "shop-prod-web-2.0-r4"));
    assert!(plan.replaces.is_empty(), "it is not running");
}

#[test]
fn a_missing_image_is_refused() {
    let snapshot = engine_with(&["1.0"]);
    assert_eq!(
        refusal(plan(deploy("9.9", ""), &snapshot, &options())),
        "web@prod: image shop/web:9.9 is not on this machine; pull it with `bosun images pull shop/web:9.9`; nothing was changed"
    );
}

#[test]
fn a_rollback_whose_image_is_gone_is_refused() {
    // The tag 1.0 was pushed again: it no longer is the image release 1 ran.
    let mut snapshot = engine_with(&["1.0"]);
    snapshot.containers.push(ours("2.0", 2, "running"));
    assert_eq!(
        refusal(plan(rollback("1.0", 1, "sha256:old", None), &snapshot, &options())),
        "web@prod: the image shop/web:1.0 (sha256:old) of that release is no longer on this machine; pull it with `bosun images pull shop/web:1.0` if the registry still has it; nothing was changed"
    );
    // Still here by its id: created from the id, whatever the tag says now.
    snapshot.images.insert("sha256:old".into(), Image { id: "sha256:old".into(), platform: None, healthcheck: None });
    let plan = plan(rollback("1.0", 1, "sha256:old", None), &snapshot, &options()).unwrap();
    assert_eq!((plan.container.image.as_str(), plan.facts.image_id.as_str(), plan.facts.image.as_str()), ("sha256:old", "sha256:old", "shop/web:1.0"));
    assert_eq!(plan.facts.kind, ReleaseKind::Rollback);
    assert_eq!(names(&plan.replaces), ["shop-prod-web-2.0"]);
}

#[test]
fn a_rollback_starts_the_kept_container_again() {
    let mut snapshot = engine_with(&["1.0", "3.0"]);
    let kept = ours("1.0", 1, "exited");
    snapshot.containers = vec![kept.clone(), ours("2.0", 2, "exited"), ours("3.0", 3, "running")];
    let target = || rollback("1.0", 1, "sha256:1.0", Some(&kept.id));
    let plan = plan(target(), &snapshot, &PlanOptions { name: "unused".into(), ..options() }).unwrap();
    assert_eq!(plan.reuse.as_ref().map(|k| k.id.as_str()), Some(kept.id.as_str()));
    assert_eq!(plan.container.name, "shop-prod-web-1.0", "the kept container keeps its name");
    assert_eq!(names(&plan.replaces), ["shop-prod-web-3.0"]);
    // retain = 5 (the default): the kept one does not count against it.
    assert!(plan.remove.is_empty(), "{plan}");
    assert!(plan.to_string().contains("start     shop-prod-web-1.0 (kept from release 1)"), "{plan}");

    snapshot.containers[0].state = "running".into();
    assert_eq!(
        refusal(super::plan(target(), &snapshot, &options())),
        "web@prod: it already runs release 1 (version 1.0, container shop-prod-web-1.0); nothing was changed"
    );
}

#[test]
fn redeploying_the_running_version_is_a_no_op_unless_it_changed_or_is_forced() {
    let mut snapshot = engine_with(&["2.0"]);
    let first = plan(deploy("2.0", ""), &snapshot, &options()).unwrap();
    let mut running = ours("2.0", 5, "running");
    running.labels.insert("bosun.config-hash".into(), first.facts.config_hash.clone());
    snapshot.containers.push(running);

    let again = plan(deploy("2.0", ""), &snapshot, &options()).unwrap();
    assert_eq!(again.unchanged.as_ref().map(|m| m.name.as_str()), Some(NAME));

    let forced = plan(deploy("2.0", ""), &snapshot, &PlanOptions { force: true, ..options() }).unwrap();
    assert!(forced.unchanged.is_none());
    assert_eq!(forced.set_aside.as_ref().map(|a| a.renamed_to.as_str()), Some("shop-prod-web-2.0-r5"));
    assert!(forced.to_string().contains(&format!("redeploy  version 2.0 already runs as {NAME}; --force: it is renamed to {NAME}-r5 and replaced")), "{forced}");

    let changed = plan(deploy("2.0", "env = { MODE = \"new\" }"), &snapshot, &options()).unwrap();
    assert!(changed.unchanged.is_none());
    assert_eq!(names(&changed.replaces), [NAME]);
    assert!(changed.to_string().contains("the config changed: it is renamed to"), "{changed}");
}

#[test]
fn retention_removes_the_oldest_beyond_retain() {
    let mut snapshot = engine_with(&["4.0"]);
    // Listed in any order; a stranger and another env's container are never counted.
    let mut staging = ours("0.9", 9, "exited");
    staging.labels.insert("bosun.env".into(), "staging".into());
    snapshot.containers = vec![ours("2.0", 2, "exited"), stranger("redis"), ours("3.0", 3, "running"), staging, ours("1.0", 1, "exited")];
    let plan = plan(deploy("4.0", "retain = 1"), &snapshot, &options()).unwrap();
    assert_eq!(names(&plan.replaces), ["shop-prod-web-3.0"]);
    assert_eq!(names(&plan.remove), ["shop-prod-web-2.0", "shop-prod-web-1.0"], "the newest replaced one stays for a rollback");
    let text = plan.to_string();
    assert!(text.contains("remove    shop-prod-web-1.0 (version 1.0), beyond retain"), "{text}");

    let keep_all = super::plan(deploy("4.0", "retain = 5"), &snapshot, &options()).unwrap();
    assert!(keep_all.remove.is_empty());
}

#[test]
fn every_host_problem_is_named_at_once() {
    let mut snapshot = engine_with(&["2.0"]);
    snapshot.host.as_mut().unwrap().paths.insert("/srv/missing".into(), PathState::Missing);
    snapshot.host.as_mut().unwrap().paths.insert("/srv/secret".into(), PathState::Unreadable("Permission denied (os error 13)".into()));
    snapshot.images.get_mut("shop/web:2.0").unwrap().platform = Some("linux/arm64".into());
    let target = deploy("2.0", "networks = [\"backend\"]\nvolumes = [\"/srv/missing:/data\", \"/srv/secret:/secret\", \"dbdata:/db\"]\nvolume_driver = \"rexray\"");
    let err = refusal(plan(target, &snapshot, &options()));
    let expected = [
        "network backend does not exist; create it (`docker network create backend`) or change services.web.networks",
        "bind source /srv/missing does not exist; create it or change services.web.volumes",
        "bind source /srv/secret cannot be read (Permission denied (os error 13)); fix it or change services.web.volumes",
        "volume dbdata would be created with the driver rexray, which this engine does not have (it has local); install the plugin (`docker plugin install`) or change services.web.volume_driver",
        "image shop/web:2.0 is built for linux/arm64, but the engine runs linux/amd64; pull the linux/amd64 image (`bosun images pull shop/web:2.0`) or push one for it",
    ];
    assert_eq!(err, format!("web@prod: {}; nothing was changed", expected.join("; ")));

    // All there: the network, the paths, the volume (with an installed driver), the platform.
    snapshot.networks.insert("backend".into());
    for state in snapshot.host.as_mut().unwrap().paths.values_mut() {
        *state = PathState::Present;
    }
    snapshot.volumes.insert("dbdata".into(), "local".into());
    snapshot.images.get_mut("shop/web:2.0").unwrap().platform = Some("linux/amd64".into());
    let target = deploy("2.0", "networks = [\"backend\"]\nvolumes = [\"/srv/missing:/data\", \"/srv/secret:/secret\", \"dbdata:/db\"]\nvolume_driver = \"rexray\"");
    plan(target, &snapshot, &options()).unwrap();
}

#[test]
fn an_unreadable_env_file_is_refused_with_its_reason() {
    let mut snapshot = engine_with(&["2.0"]);
    let problem = "env file /srv/shop/web.env cannot be read (No such file or directory (os error 2)); fix env_files in bosun.toml";
    snapshot.env_files.insert("/srv/shop/web.env".into(), Err(problem.into()));
    assert_eq!(refusal(plan(deploy("2.0", "env_files = [\"web.env\"]"), &snapshot, &options())), format!("web@prod: {problem}; nothing was changed"));
    snapshot.env_files.insert("/srv/shop/web.env".into(), Ok([("TOKEN".to_string(), "s3cret".to_string())].into()));
    let plan = plan(deploy("2.0", "env_files = [\"web.env\"]\nenv = { MODE = \"x\" }"), &snapshot, &options()).unwrap();
    assert_eq!(plan.container.env.keys().collect::<Vec<_>>(), ["MODE", "TOKEN"]);
}

#[test]
fn health_is_judged_by_the_service_or_image_healthcheck() {
    let mut snapshot = engine_with(&["2.0"]);
    let health = |snapshot: &Snapshot, extra: &str| plan(deploy("2.0", extra), snapshot, &options()).unwrap().health;
    assert!(!health(&snapshot, "").docker_healthcheck, "no healthcheck: running is enough");
    snapshot.images.get_mut("shop/web:2.0").unwrap().healthcheck = Some(vec!["CMD".into(), "/health".into()]);
    let judged = health(&snapshot, "health_timeout = \"45s\"\nchecks = [\"home\"]");
    assert!(judged.docker_healthcheck);
    assert_eq!((judged.checks.as_slice(), judged.timeout_ms), (&["home".to_string()][..], 45_000));
    snapshot.images.get_mut("shop/web:2.0").unwrap().healthcheck = Some(vec!["NONE".into()]);
    assert!(!health(&snapshot, "").docker_healthcheck, "an image may turn its healthcheck off");
}
