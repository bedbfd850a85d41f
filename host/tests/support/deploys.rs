//! A project whose service `web` is deployed by the real `bosun` binary, and
//! the docker-side views tests assert on. Needs `mod common;` beside `mod support;`.

use std::io::{Read, Write};
use std::process::{Command, Output};

use serde_json::Value;

use super::{docker, test_image, unique};
use crate::common::project::{Project, stderr, stdout};

/// A project named uniquely for this test, whose containers are removed when
/// it is dropped.
pub struct Deploys {
    pub project: Project,
    pub name: String,
    pub repo: String,
}

impl Drop for Deploys {
    fn drop(&mut self) {
        // bosun's own containers, and those compose made for the project.
        for label in [format!("bosun.project={}", self.name), format!("com.docker.compose.project={}-prod", self.name)] {
            let ids = Command::new("docker").args(["ps", "-aq", "--filter", &format!("label={label}")]).output().unwrap();
            for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
                let _ = Command::new("docker").args(["rm", "-f", id]).output();
            }
        }
        let _ = Command::new("docker").args(["network", "rm", &format!("{}-prod_default", self.name)]).output();
    }
}

impl Deploys {
    /// `service` is the body of `[services.web]` after its image line.
    pub fn new(test: &str, service: &str) -> Deploys {
        let name = unique(test);
        let repo = format!("bosun-test/{name}");
        let project = Project::new("");
        let deploys = Deploys { project, name, repo };
        deploys.configure(service);
        deploys
    }

    pub fn configure(&self, service: &str) {
        self.configure_image(&self.repo, service);
    }

    /// [`Deploys::configure`] with another image repository (e.g. in a registry).
    pub fn configure_image(&self, repo: &str, service: &str) {
        self.write_config(repo, service, "");
    }

    /// [`Deploys::configure`] plus more tables (`[notify.*]`, `[checks.*]`, …).
    pub fn configure_with(&self, service: &str, extra: &str) {
        self.write_config(&self.repo, service, extra);
    }

    /// [`Deploys::configure_image`] plus more tables.
    pub fn write_config(&self, repo: &str, service: &str, extra: &str) {
        let config = format!("[project]\nname = \"{}\"\n\n[services.web]\nimage = \"{repo}\"\n{service}\n\n{extra}\n", self.name);
        std::fs::write(self.project.dir.path().join("bosun.toml"), config).unwrap();
    }

    /// Builds `repo:version` on the test image with `env` baked in.
    pub fn image(&self, version: &str, env: &[(&str, &str)]) {
        let context = tempfile::tempdir().unwrap();
        let mut dockerfile = format!("FROM {}\nENV VERSION={version}\n", test_image());
        for (key, value) in env {
            dockerfile.push_str(&format!("ENV {key}={value}\n"));
        }
        std::fs::write(context.path().join("Dockerfile"), dockerfile).unwrap();
        docker(&["build", "--quiet", "--tag", &format!("{}:{version}", self.repo), &context.path().to_string_lossy()]);
    }

    /// Loads `repo:version` as an image built for `arch` (no layers; it never
    /// runs), from an archive in `docker save`'s format written here.
    pub fn foreign_image(&self, version: &str, arch: &str) {
        let config = serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "config": { "Labels": { super::TEST_LABEL: "1" } },
            "rootfs": { "type": "layers", "diff_ids": [] },
        });
        let manifest = serde_json::json!([{ "Config": "config.json", "RepoTags": [format!("{}:{version}", self.repo)], "Layers": [] }]);
        let mut archive = tar::Builder::new(Vec::new());
        for (name, json) in [("config.json", config), ("manifest.json", manifest)] {
            let bytes = serde_json::to_vec(&json).unwrap();
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            archive.append_data(&mut header, name, bytes.as_slice()).unwrap();
        }
        let archive = archive.into_inner().unwrap();
        let mut load = Command::new("docker").args(["load", "--quiet"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::null()).spawn().unwrap();
        load.stdin.take().unwrap().write_all(&archive).unwrap();
        assert!(load.wait().unwrap().success(), "docker load of the {arch} image failed");
    }

    pub fn bosun(&self, args: &[&str]) -> Output {
        self.project.bosun(args)
    }

    pub fn container(&self, version: &str) -> String {
        format!("{}-prod-web-{version}", self.name)
    }

    pub fn releases(&self) -> Vec<Value> {
        let out = self.bosun(&["releases", "web", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    }
}

/// `docker inspect` of `container` as JSON, or none when it does not exist.
pub fn inspect(container: &str) -> Option<Value> {
    let out = Command::new("docker").args(["inspect", "--type", "container", container]).output().unwrap();
    out.status.success().then(|| serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap().remove(0))
}

pub fn running(container: &str) -> bool {
    inspect(container).is_some_and(|c| c["State"]["Running"] == true)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The body of `GET /` on 127.0.0.1:`port`.
pub fn http_get(port: u16) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split("\r\n\r\n").nth(1).unwrap_or_default().trim().to_string()
}

pub fn succeeded(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}\nstdout: {}\nstderr: {}", out.status.code(), stdout(out), stderr(out));
    stdout(out)
}

