//! Many hosts: `[hosts.*]` engines reached over a unix socket, over ssh
//! (the system ssh, `docker system dial-stdio` on the far side) and over
//! tcp+TLS (through a veth pair), each a real dockerd in a network namespace
//! of its own; an unreachable host and a changed host key named in one line.

mod common;
mod support;

use common::project::{Project, stdout};
use support::engines::{Engine, Sshd, docker0_is_there};

#[test]
fn doctor_reaches_each_host_over_its_transport_and_names_the_ones_it_cannot() {
    support::require_engine();
    let (b, c, d) = (Engine::start(), Engine::start(), Engine::start_tls());
    let sshd = Sshd::start(&c.url());
    let (tls_addr, [ca, cert, key]) = d.tls.clone().unwrap();
    let p = Project::new(&format!(
        "[hosts.b]\ndocker = \"{}\"\nroles = [\"web\"]\n\n[hosts.c]\ndocker = \"ssh://root@127.0.0.1:{}\"\nssh_config = \"{}\"\nroles = [\"web\"]\n\n\
         [hosts.d]\ndocker = \"tcp://{tls_addr}\"\ntls = {{ ca = \"{}\", cert = \"{}\", key = \"{}\" }}\n\n[hosts.gone]\ndocker = \"tcp://127.0.0.1:1\"\n",
        b.url(),
        sshd.port,
        sshd.ssh_config.display(),
        ca.display(),
        cert.display(),
        key.display()
    ));
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
