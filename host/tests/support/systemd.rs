//! A machine whose init is systemd, for the process-service tests (PID 1 on
//! the test machine is not systemd): a container of this machine's Debian
//! release, built once with debootstrap, running `/lib/systemd/systemd` as
//! PID 1, with the `bosun` binary and the test's project directory mounted in.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{TEST_LABEL, docker, require_engine, unique};

pub struct SystemdMachine {
    name: String,
    workdir: PathBuf,
}

impl SystemdMachine {
    /// Boots the machine with `project` mounted at the same path, and waits until systemd has started its units.
    pub fn start(project: &Path) -> SystemdMachine {
        let image = systemd_image();
        let name = unique("bosun-systemd");
        let machine = SystemdMachine { name: name.clone(), workdir: project.to_path_buf() };
        let bosun = format!("{}:/usr/local/bin/bosun:ro", env!("CARGO_BIN_EXE_bosun"));
        let project = format!("{0}:{0}", project.display());
        #[rustfmt::skip]
        docker(&[
            "run", "--detach", "--name", &name, "--label", TEST_LABEL,
            // What systemd needs to be init in a container: to mount, a /run of its own, and the cgroups.
            "--cap-add", "SYS_ADMIN", "--tmpfs", "/run", "--tmpfs", "/run/lock", "--volume", "/sys/fs/cgroup:/sys/fs/cgroup",
            "--volume", &bosun, "--volume", &project, &image,
        ]);
        let started = Instant::now();
        loop {
            let state = machine.run(&["systemctl", "is-system-running"]);
            let said = String::from_utf8_lossy(&state.stdout).trim().to_string();
            if said == "running" || said == "degraded" {
                return machine;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "systemd in {name} did not finish starting within 60 s: {said}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs a command in the machine, in the project directory.
    pub fn run(&self, args: &[&str]) -> Output {
        let workdir = self.workdir.display().to_string();
        Command::new("docker").args(["exec", "--workdir", &workdir, &self.name]).args(args).output().expect("run docker exec")
    }

    pub fn bosun(&self, args: &[&str]) -> Output {
        let mut command = vec!["bosun"];
        command.extend_from_slice(args);
        self.run(&command)
    }

    /// A property of a unit, as `systemctl show` gives it.
    pub fn unit_property(&self, unit: &str, property: &str) -> String {
        String::from_utf8_lossy(&self.run(&["systemctl", "show", "--property", property, "--value", unit]).stdout).trim().to_string()
    }
}

impl Drop for SystemdMachine {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "--force", &self.name]).output();
    }
}

/// `bosun-test/systemd:<codename>`, built when the engine does not have it.
fn systemd_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(build_systemd_image).clone()
}

fn build_systemd_image() -> String {
    require_engine();
    // This machine's release, so the bosun built here finds the same C library in the container.
    let release = std::fs::read_to_string("/etc/os-release").expect("read /etc/os-release");
    let codename = release.lines().find_map(|l| l.strip_prefix("VERSION_CODENAME=")).expect("/etc/os-release names VERSION_CODENAME").trim_matches('"').to_string();
    let tag = format!("bosun-test/systemd:{codename}");
    if Command::new("docker").args(["image", "inspect", &tag]).output().is_ok_and(|o| o.status.success()) {
        return tag;
    }
    let root = tempfile::tempdir().unwrap();
    let built = Command::new("debootstrap")
        .args(["--variant=minbase", "--include=systemd,systemd-sysv,dbus", &codename])
        .arg(root.path())
        .arg("http://deb.debian.org/debian")
        .output()
        .unwrap_or_else(|e| panic!("cannot run debootstrap ({e}); scripts/setup installs it"));
    assert!(built.status.success(), "debootstrap {codename} failed: {}", String::from_utf8_lossy(&built.stderr));
    let import = format!("tar -C {} -c . | docker import --change 'CMD [\"/lib/systemd/systemd\"]' - {tag}", root.path().display());
    let imported = Command::new("sh").args(["-c", &import]).output().expect("run sh");
    assert!(imported.status.success(), "{import}: {}", String::from_utf8_lossy(&imported.stderr));
    tag
}
