//! Process services (`kind = "process"`): `bosun start | stop | restart`
//! with real detached processes on this machine, their pidfiles and logs.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::project::{Project, stderr, stdout};
use crate::support::systemd::SystemdMachine;

const SERVICES: &str = "[services.worker]\nkind = \"process\"\ncommand = [\"sh\", \"-c\", \"echo started $$; trap 'echo bye; exit 0' TERM; while true; do sleep 0.2; done\"]\nstop_timeout = 5\n\n\
     [services.stubborn]\nkind = \"process\"\ncommand = [\"sh\", \"-c\", \"trap '' TERM; echo stubborn; while true; do sleep 0.2; done\"]\nstop_timeout = 1\n";

/// Fields of /proc/PID/stat after the name: state, ppid, pgrp, session; none once it has ended (or is a zombie).
fn stat(pid: u32) -> Option<(String, u32, u32, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text[text.rfind(')')? + 2..].split_whitespace().collect();
    (fields[0] != "Z").then(|| (fields[0].to_string(), fields[1].parse().unwrap(), fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}

fn pid_of(project: &Project, service: &str) -> u32 {
    std::fs::read_to_string(project.path().join(format!(".bosun/run/{service}.pid"))).unwrap().trim().parse().unwrap()
}

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}{}", stdout(out), stderr(out));
    stdout(out)
}

/// Stops the project's services when dropped, so a failed test leaves no detached process behind.
struct StopsAll<'a>(&'a Project);

impl Drop for StopsAll<'_> {
    fn drop(&mut self) {
        for service in ["worker", "stubborn"] {
            let _ = self.0.bosun(&["stop", service]);
        }
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_process_service_runs_detached_outlives_bosun_and_stops_on_sigterm() {
    let project = Project::new(SERVICES);
    let _stops = StopsAll(&project);
    let started = ok(&project.bosun(&["start", "worker"]));
    let pid = pid_of(&project, "worker");
    let log = project.path().join(".bosun/logs/worker.log");
    assert!(started.starts_with(&format!("worker started (pid {pid}); its output goes to ")) && started.contains("worker.log"), "{started}");
    // bosun has exited; the service runs on in a session and process group of its own, whose
    // leader (the first fork) has exited too: the service can never take a controlling terminal.
    let (_, _, group, session) = stat(pid).expect("the service outlives the bosun that started it");
    assert!(group == session && session != pid && stat(session).is_none(), "pid {pid}, group {group}, session {session}");
    wait_until("the service writes to its log", || std::fs::read_to_string(&log).unwrap_or_default().contains(&format!("started {pid}")));

    assert!(ok(&project.bosun(&["start", "worker"])).starts_with(&format!("worker runs already (pid {pid}, up ")));
    let one = ok(&project.bosun(&["status", "worker"]));
    assert_eq!(one.lines().count(), 2, "the overview line and worker's: {one}");
    assert!(one.starts_with("green: all in all\ngreen  process worker: running"), "{one}");
    let unknown = project.bosun(&["status", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no service or watched process called nope; there are: stubborn, worker"), "{}", stderr(&unknown));
    let status = ok(&project.bosun(&["status"]));
    assert!(status.lines().any(|l| l.starts_with("green  process worker: running")), "{status}");
    let watched: serde_json::Value = serde_json::from_str(&ok(&project.bosun(&["watch", "--once", "--json"]))).unwrap();
    let sample = watched["samples"].as_array().unwrap().iter().find(|s| s["target"] == "worker").unwrap().clone();
    assert_eq!((sample["state"].as_str(), sample["detail"].as_str()), (Some("running"), Some(format!("pids {pid}").as_str())), "{sample:#}");

    // logrotate moves the log away: what comes next goes to a new file of the old name.
    let rotated = project.path().join(".bosun/logs/worker.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    let stopped = ok(&project.bosun(&["stop", "worker"]));
    assert!(stopped.starts_with(&format!("worker (pid {pid}) stopped on SIGTERM in ")), "{stopped}");
    assert!(stat(pid).is_none(), "it has ended");
    wait_until("its TERM handler's line reaches the new log", || std::fs::read_to_string(&log).unwrap_or_default().ends_with("bye\n"));
    assert_eq!(std::fs::read_to_string(&rotated).unwrap(), format!("started {pid}\n"));
    assert!(!project.path().join(".bosun/run/worker.pid").exists());
    assert_eq!(ok(&project.bosun(&["stop", "worker"])).trim(), "worker was not running");
    let status = ok(&project.bosun(&["status"]));
    assert!(status.lines().any(|l| l.starts_with("amber  process worker: stopped")) && status.contains("not running: `bosun start worker` starts it"), "stopped on purpose: {status}");

    // restart starts it when it is not running, and replaces it when it is.
    ok(&project.bosun(&["restart", "worker"]));
    let first = pid_of(&project, "worker");
    ok(&project.bosun(&["restart", "worker"]));
    let second = pid_of(&project, "worker");
    assert!(first != second && stat(first).is_none() && stat(second).is_some());
    ok(&project.bosun(&["stop", "worker"]));
}

#[test]
fn a_process_that_ignores_sigterm_is_killed_after_its_stop_timeout() {
    let project = Project::new(SERVICES);
    let _stops = StopsAll(&project);
    ok(&project.bosun(&["start", "stubborn"]));
    let pid = pid_of(&project, "stubborn");
    let stopped = ok(&project.bosun(&["stop", "stubborn"]));
    assert!(stopped.starts_with(&format!("stubborn (pid {pid}) outlived its stop_timeout and was killed (SIGKILL) after 1.")), "{stopped}");
    assert!(stat(pid).is_none());
}

#[test]
fn a_pidfile_whose_pid_another_program_now_has_is_never_signalled() {
    let project = Project::new(SERVICES);
    ok(&project.bosun(&["start", "worker"]));
    let pid = pid_of(&project, "worker");
    // The service dies without bosun, and the kernel gives its pid to another program (here: a pid we choose to write).
    let (_, _, group, _) = stat(pid).unwrap();
    unsafe { libc::kill(-(group as i32), libc::SIGKILL) };
    wait_until("the service is gone", || stat(pid).is_none());
    let status = project.bosun(&["status"]);
    assert_eq!(status.status.code(), Some(1), "{}", stdout(&status));
    assert!(stdout(&status).contains("red    process worker: exited") && stdout(&status).contains(&format!("pid {pid} ended without `bosun stop`")), "{}", stdout(&status));
    let mut other = Command::new("sleep").arg("4247.5").spawn().unwrap();
    let identity_path = project.path().join(".bosun/run/worker.json");
    let mut identity: serde_json::Value = serde_json::from_slice(&std::fs::read(&identity_path).unwrap()).unwrap();
    identity["pid"] = other.id().into();
    std::fs::write(&identity_path, identity.to_string()).unwrap();
    std::fs::write(project.path().join(".bosun/run/worker.pid"), format!("{}\n", other.id())).unwrap();

    let stopped = ok(&project.bosun(&["stop", "worker"]));
    assert_eq!(
        stopped.trim(),
        format!("worker was not running: its pidfile named pid {}, which is now `sleep 4247.5`, another program, so nothing was signalled; the stale pidfile is removed", other.id())
    );
    assert!(other.try_wait().unwrap().is_none(), "the other program runs on");
    let _ = other.kill();
    let _ = other.wait();
}

#[test]
fn process_services_are_checked_at_load_and_named_when_unknown() {
    let bad = Project::new("[services.w]\nkind = \"process\"\nimage = \"shop/w\"\nports = [\"80:80\"]\n\n[services.c]\nimage = \"shop/c\"\nworkdir = \"/srv\"\n\n[services.\"a b/c\"]\nkind = \"process\"\ncommand = [\"true\"]\n");
    let out = bad.bosun(&["start", "w"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for expected in [
        "services.w.command: a process service needs its command",
        "services.w.image: is for containers",
        "services.w.ports: is for containers",
        "services.c.workdir: is for kind = \"process\"",
        "services.a b/c: a service's name is letters, digits, '-', '_' and '.'",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    let project = Project::new(&format!("{SERVICES}\n[services.web]\nimage = \"shop/web\"\n"));
    let out = project.bosun(&["start", "web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no process service called web; web is a container service: `bosun deploy web` runs it"), "{}", stderr(&out));
    let out = project.bosun(&["deploy", "worker", "1"]);
    assert_eq!(out.status.code(), Some(2), "a process service is not deployed as a container: {}", stderr(&out));

    // A program that ends at once is reported with where its output went, and not recorded as running.
    let quitter = Project::new("[services.quitter]\nkind = \"process\"\ncommand = [\"sh\", \"-c\", \"echo no config here; exit 3\"]\n");
    let out = quitter.bosun(&["start", "quitter"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("quitter ended at once; its output is in") && stderr(&out).contains("quitter.log"), "{}", stderr(&out));
    let log = quitter.path().join(".bosun/logs/quitter.log");
    wait_until("its output reaches the log", || std::fs::read_to_string(&log).unwrap_or_default() == "no config here\n");
    assert!(!quitter.path().join(".bosun/run/quitter.pid").exists());
}

/// Process services where systemd is init and bosun runs as root: each one a
/// transient unit (`bosun-<service>.service`), in a machine booted for the test.
const UNITS: &str = r#"
[services.worker]
kind = "process"
command = ["sh", "-c", "echo \"secret=[$SECRET] file=[$FROM_FILE] user=$(id -u) dir=$(pwd)\"; trap 'echo bye; exit 0' TERM; while true; do sleep 0.2; done"]
env = { SECRET = 's3 "q" $HOME `id` \ end' }
env_files = ["worker.env"]
workdir = "sub"
user = "nobody"
stop_timeout = 5

[services.stubborn]
kind = "process"
command = ["sh", "-c", "setsid sleep 4242 & trap '' TERM; echo stubborn; while true; do sleep 0.2; done"]
stop_timeout = 1

[services.quitter]
kind = "process"
command = ["sh", "-c", "echo no config here; exit 3"]

[services.missing]
kind = "process"
command = ["/usr/local/bin/no-such-program"]

[services.clash]
kind = "process"
command = ["sleep", "100"]
"#;

#[test]
fn where_systemd_is_init_a_process_service_is_a_transient_unit() {
    crate::support::require_engine();
    let project = Project::new(UNITS);
    project.write("worker.env", b"FROM_FILE=from the file\nSECRET=overridden by env\n");
    std::fs::create_dir(project.path().join("sub")).unwrap();
    let machine = SystemdMachine::start(&project.path());
    let ok_in = |args: &[&str]| ok(&machine.bosun(args));
    let unit = "bosun-worker.service";

    let started = ok_in(&["start", "worker"]);
    let pid = pid_of(&project, "worker");
    assert!(started.starts_with(&format!("worker started as systemd unit {unit} (pid {pid}); its output goes to ")), "{started}");
    assert_eq!((machine.unit_property(unit, "MainPID"), machine.unit_property(unit, "ActiveState")), (pid.to_string(), "active".to_string()));
    let cgroup = stdout(&machine.run(&["cat", &format!("/proc/{pid}/cgroup")]));
    assert!(cgroup.contains(&format!("/system.slice/{unit}")), "{cgroup}");
    // Its environment (env_files, then env), user and directory arrive exactly as bosun.toml gives them.
    let log = project.path().join(".bosun/logs/worker.log");
    let first = format!("secret=[s3 \"q\" $HOME `id` \\ end] file=[from the file] user=65534 dir={}/sub\n", project.path().display());
    wait_until("the service writes to its log", || std::fs::read_to_string(&log).unwrap_or_default() == first);
    // ... but never where others can read them: not in the unit's properties, its unit file, or a file left behind.
    let properties = stdout(&machine.run(&["systemctl", "show", unit]));
    let unit_file = stdout(&machine.run(&["cat", &format!("/run/systemd/transient/{unit}")]));
    assert!(unit_file.contains("ExecStart=") && !properties.is_empty(), "{unit_file}");
    for readable in [&properties, &unit_file] {
        assert!(!readable.contains("s3 ") && !readable.contains("from the file"), "{readable}");
    }
    assert!(!project.path().join(".bosun/run/worker.env").exists());

    assert!(ok_in(&["start", "worker"]).starts_with(&format!("worker runs already (pid {pid}, up ")));
    let status = ok_in(&["status", "worker"]);
    assert!(status.contains("green  process worker: running"), "{status}");
    let stopped = ok_in(&["stop", "worker"]);
    assert!(stopped.starts_with(&format!("worker (pid {pid}) stopped on SIGTERM in ")), "{stopped}");
    wait_until("its TERM handler's line reaches the log", || std::fs::read_to_string(&log).unwrap_or_default().ends_with("bye\n"));
    wait_until("the ended unit is unloaded (--collect)", || machine.unit_property(unit, "LoadState") == "not-found");
    assert!(!project.path().join(".bosun/run/worker.pid").exists());

    // SIGKILL after stop_timeout reaches the whole cgroup, also a process that left the service's session.
    ok_in(&["start", "stubborn"]);
    let each_command_line = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done";
    let spawned = || stdout(&machine.run(&["sh", "-c", &format!("{each_command_line} | grep -c '^sleep 4242 $' || true")])).trim().to_string();
    wait_until("the service has started its own session's sleep", || spawned() == "1");
    let stubborn = pid_of(&project, "stubborn");
    let stopped = ok_in(&["stop", "stubborn"]);
    assert!(stopped.starts_with(&format!("stubborn (pid {stubborn}) outlived its stop_timeout and was killed (SIGKILL) after 1.")), "{stopped}");
    wait_until("nothing of the unit runs", || spawned() == "0" && machine.unit_property("bosun-stubborn.service", "LoadState") == "not-found");

    // A program that ends at once, a program that is not there, and a unit of the same name started by someone else.
    let out = machine.bosun(&["start", "quitter"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("quitter ended at once; its output is in") && stderr(&out).contains("quitter.log"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(project.path().join(".bosun/logs/quitter.log")).unwrap(), "no config here\n");
    let out = machine.bosun(&["start", "missing"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("starting missing as bosun-missing.service: Failed to find executable /usr/local/bin/no-such-program"), "{}", stderr(&out));
    ok(&machine.run(&["systemd-run", "--unit", "bosun-clash.service", "sleep", "100"]));
    let out = machine.bosun(&["start", "clash"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("systemd has a unit of that name already (`systemctl status bosun-clash.service`)"), "{}", stderr(&out));
    for service in ["quitter", "missing", "clash"] {
        assert!(!project.path().join(format!(".bosun/run/{service}.pid")).exists(), "{service}");
    }
}

/// bosun appends a service's output to its log as root. Whoever may change a
/// directory on the way to the log could swap the log for a link to
/// /etc/shadow before the next start or rotation: such a log is refused.
#[test]
fn a_log_someone_else_could_point_elsewhere_is_refused() {
    let service = |name: &str, log: &str| format!("[services.{name}]\nkind = \"process\"\ncommand = [\"sh\", \"-c\", \"echo owned; sleep 100\"]\nuser = \"nobody\"\nlog = \"{log}\"\n\n");
    let project = Project::new(&[service("w", "theirs/w.log"), service("h", "theirs/logs/h.log"), service("l", "link.log")].concat());
    let theirs = project.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    // Its own directory, or one higher up (bosun makes theirs/logs as root, but nobody may rename it).
    for (name, log) in [("w", "w.log"), ("h", "logs/h.log")] {
        let out = project.bosun(&["start", name]);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        let said = format!("log {}/{log}: {} can be changed by others than root, who could point the log at any file bosun then appends to as root; keep it where only root writes", theirs.display(), theirs.display());
        assert!(stderr(&out).contains(&said), "{said}\n{}", stderr(&out));
        assert!(!theirs.join(log).exists() && !project.path().join(format!(".bosun/run/{name}.pid")).exists());
    }

    let victim = project.path().join("victim");
    std::fs::write(&victim, "root's\n").unwrap();
    std::os::unix::fs::symlink(&victim, project.path().join("link.log")).unwrap();
    let out = project.bosun(&["start", "l"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("link.log: is a symbolic link; name the file itself"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's\n");
}

/// A service started without systemd gets what systemd would give it, and
/// none of bosun's own environment, where bosun.toml's `${VAR}` secrets are.
#[test]
fn a_process_service_gets_none_of_bosuns_environment() {
    let project = Project::new("[services.env]\nkind = \"process\"\ncommand = [\"sh\", \"-c\", \"echo leak=[$BOSUN_TEST_LEAK] path=[$PATH] home=[$HOME] user=[$USER] mine=[$MINE]; exec sleep 30\"]\nuser = \"nobody\"\nenv = { MINE = \"given\" }\n");
    let out = project.command(&["start", "env"]).env("BOSUN_TEST_LEAK", "s3cret").output().unwrap();
    let _ = ok(&out);
    let log = project.path().join(".bosun/logs/env.log");
    wait_until("the service writes its environment", || std::fs::read_to_string(&log).unwrap_or_default().ends_with('\n'));
    let _ = project.bosun(&["stop", "env"]);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "leak=[] path=[/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin] home=[/nonexistent] user=[nobody] mine=[given]\n");
}

/// A program that rewrites its command line (nginx, setproctitle) is still
/// the service: it is known by its pid, start time and boot.
#[test]
fn a_service_that_rewrites_its_command_line_is_still_known() {
    let project = Project::new("[services.titled]\nkind = \"process\"\ncommand = [\"perl\", \"-e\", \"$0 = 'titled: master process'; sleep 100\"]\n");
    ok(&project.bosun(&["start", "titled"]));
    let pid = pid_of(&project, "titled");
    wait_until("it has renamed itself", || std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default().starts_with("titled: master"));
    assert!(ok(&project.bosun(&["status", "titled"])).contains("green  process titled: running"));
    assert!(ok(&project.bosun(&["stop", "titled"])).starts_with(&format!("titled (pid {pid}) stopped on SIGTERM in ")));
    assert!(stat(pid).is_none());
}
