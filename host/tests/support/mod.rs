//! Shared by the tests that need the real Docker engine.
//!
//! The engine here has no images and cannot pull, so the tests build their own:
//! `testsrv` (tests/testsrv, a static std-only binary) in a `FROM scratch`
//! image tagged by the binary's hash, built once per test process and reused
//! across runs. An unreachable engine fails the test with a clear message;
//! it is never skipped.
#![allow(dead_code)] // each test binary uses a different part

pub mod deploys;
pub mod engines;
pub mod systemd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The label every container and image made by the tests carries, so a
/// leftover can be found (`docker ps -a --filter label=bosun-test`).
pub const TEST_LABEL: &str = "bosun-test";

/// Files baked into the image under `/data`, for copy and exec tests.
pub const IMAGE_FILES: &[(&str, &str)] = &[("data/hello.txt", "hello from the image\n"), ("data/sub/nested.txt", "nested\n")];

/// The `bosun-test/testsrv:<hash>` image: `/testsrv serve` by default (HTTP on
/// 8080, `$VERSION` on `/`, `ok` on `/health`, each request logged on stdout),
/// with [`IMAGE_FILES`] under `/` and a healthcheck probing `/health` every
/// second (`--no-healthcheck` turns it off, e.g. to keep the log quiet).
pub fn test_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(build_test_image).clone()
}

/// Runs the docker CLI and returns its output, panicking with a readable
/// message (naming the command and its stderr) when it fails.
pub fn docker(args: &[&str]) -> Output {
    let output = Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the docker CLI (docker {}): {e}; the Docker tests need it on PATH", args.join(" ")));
    if !output.status.success() {
        panic!(
            "docker {} failed ({}): {}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
    }
    output
}

/// Fails the test at once, with a message saying what to fix, when the engine
/// cannot be reached.
pub fn require_engine() {
    let reached = Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]).output();
    match reached {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "the Docker engine is unreachable; these tests need a running engine (set DOCKER_HOST if it is not on the local socket): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!("cannot run the docker CLI: {e}; these tests need docker on PATH and a running engine"),
    }
}

fn build_test_image() -> String {
    require_engine();
    let binary = build_testsrv();
    let bytes = std::fs::read(&binary).unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    let tag = format!("bosun-test/testsrv:{}", &hex::encode(Sha256::digest(&bytes))[..16]);
    let present = Command::new("docker").args(["image", "inspect", &tag]).output().is_ok_and(|o| o.status.success());
    if present {
        return tag;
    }
    let context = tempfile::tempdir().expect("temp dir");
    std::fs::write(context.path().join("testsrv"), &bytes).expect("copy testsrv");
    set_executable(&context.path().join("testsrv"));
    for (path, contents) in IMAGE_FILES {
        let file = context.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, contents).unwrap();
    }
    let dockerfile = format!(
        "FROM scratch\n\
         COPY testsrv /testsrv\n\
         COPY data /data\n\
         ENV VERSION=dev PORT=8080\n\
         EXPOSE 8080\n\
         LABEL {TEST_LABEL}=1\n\
         HEALTHCHECK --interval=1s --timeout=5s --retries=3 CMD [\"/testsrv\", \"probe\"]\n\
         ENTRYPOINT [\"/testsrv\"]\n\
         CMD [\"serve\"]\n"
    );
    std::fs::write(context.path().join("Dockerfile"), dockerfile).unwrap();
    docker(&["build", "--quiet", "--tag", &tag, &context.path().to_string_lossy()]);
    tag
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Builds tests/testsrv as a static binary in its own target directory.
fn build_testsrv() -> PathBuf {
    const TARGET: &str = "x86_64-unknown-linux-gnu";
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testsrv/Cargo.toml");
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("testsrv");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--target", TARGET, "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("run cargo to build tests/testsrv");
    assert!(status.success(), "building tests/testsrv failed ({status})");
    target_dir.join(TARGET).join("release/testsrv")
}

/// A container the test created, removed (with its anonymous volumes) when
/// dropped, also when the test fails.
pub struct ContainerGuard {
    pub name: String,
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "--force", "--volumes", &self.name]).output();
    }
}

/// Starts `docker run --detach` of the test image as `name` (removing any
/// leftover of that name first), labelled [`TEST_LABEL`] plus `labels`, with
/// `extra` arguments before the image (e.g. `--env`, `--health-cmd`).
pub fn run_test_container(name: &str, labels: &[&str], extra: &[&str]) -> ContainerGuard {
    let image = test_image();
    let _ = Command::new("docker").args(["rm", "--force", "--volumes", name]).output();
    let guard = ContainerGuard { name: name.to_string() };
    let mut args = vec!["run", "--detach", "--name", name, "--label", TEST_LABEL];
    for label in labels {
        args.extend(["--label", label]);
    }
    args.extend_from_slice(extra);
    args.push(&image);
    docker(&args);
    guard
}

/// Waits until the server in `container` answers on /health (at most 20 s).
pub fn wait_ready(container: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let probe = Command::new("docker").args(["exec", container, "/testsrv", "probe"]).output();
        if probe.is_ok_and(|o| o.status.success()) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{container} did not answer on /health within 20 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A local registry (the `docker-registry` package) on a free 127.0.0.1 port,
/// storing into a temp dir; stopped when dropped. The engine pushes to and
/// pulls from loopback registries over plain HTTP without configuration.
pub struct Registry {
    /// `127.0.0.1:PORT`, to prefix image names with.
    pub addr: String,
    process: std::process::Child,
    _storage: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let storage = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let config = storage.path().join("config.yml");
        let data = storage.path().join("data");
        let yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            data.display()
        );
        std::fs::write(&config, yaml).unwrap();
        let process = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start docker-registry: {e}; install the Debian package docker-registry"));
        let registry = Registry { addr, process, _storage: storage };
        registry.wait_until_up();
        registry
    }

    fn wait_until_up(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(&self.addr).is_err() {
            assert!(std::time::Instant::now() < deadline, "docker-registry did not listen on {} within 20 s", self.addr);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Tags `image` as `<addr>/<name>` and pushes it; returns the pushed
    /// reference and the digest the registry stored (`sha256:...`).
    pub fn push(&self, image: &str, name: &str) -> (String, String) {
        let reference = format!("{}/{name}", self.addr);
        docker(&["tag", image, &reference]);
        docker(&["push", "--quiet", &reference]);
        let repo = reference.rsplit_once(':').map_or(reference.as_str(), |(repo, _)| repo);
        let digests = docker(&["image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", &reference]);
        let digest = String::from_utf8_lossy(&digests.stdout)
            .lines()
            .find_map(|d| d.strip_prefix(&format!("{repo}@")).map(str::to_string))
            .unwrap_or_else(|| panic!("no digest for {reference} after the push"));
        (reference, digest)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A name unique to this test process, so parallel runs do not collide.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}
