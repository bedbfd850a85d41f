//! Process services (`[services.<name>] kind = "process"`): programs on
//! this machine that `bosun start` runs detached, so they outlive the shell
//! and bosun: as a systemd unit where systemd is init ([`systemd`]),
//! otherwise in a session of their own ([`session`]). A pidfile says which
//! pid is the service, and an identity file beside it its start time and
//! boot (not its command line, which programs such as nginx rewrite): a pid
//! the kernel has since given to another program is never signalled.

mod session;
mod systemd;

pub use session::keep_log;

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::config::{Config, Service};
use crate::failure::Failure;
use crate::procs::{self, Find, Proc};

/// What bosun wrote when it started the service.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Identity {
    pid: u32,
    /// Clock ticks since boot when it started: with the pid, this process and no other.
    start_ticks: u64,
    /// The systemd unit it runs as, when systemd detached it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    /// The kernel's id of the boot it started in: start ticks count from boot, so after a reboot
    /// the same pid and ticks can be another program.
    #[serde(default)]
    boot_id: Option<String>,
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`).
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|id| id.trim().to_string())
}

/// Where a service's files are.
pub struct Files {
    pub pidfile: PathBuf,
    identity: PathBuf,
    pub log: PathBuf,
}

/// A process service now.
#[derive(Debug, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Now {
    Running {
        pid: u32,
        started_at_ms: i64,
        uptime_secs: u64,
        rss_bytes: u64,
        /// The systemd unit it runs as, when systemd detached it.
        #[serde(skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    /// Not started, or stopped by `bosun stop`.
    Stopped,
    /// It ended without `bosun stop` (it exited, crashed or was killed).
    Ended { pid: u32 },
    /// The pidfile names a pid that another program has now: never signalled.
    Stale { pid: u32, now_runs: String },
}

pub fn service<'a>(app: &'a App, name: &str) -> Result<&'a Service, Failure> {
    app.config.processes.get(name).ok_or_else(|| {
        let known: Vec<&str> = app.config.processes.keys().map(String::as_str).collect();
        let hint = match app.config.services.contains_key(name) {
            true => format!("{name} is a container service: `bosun deploy {name}` runs it"),
            false if known.is_empty() => "bosun.toml has no process services ([services.<name>] kind = \"process\")".to_string(),
            false => format!("the process services are: {}", known.join(", ")),
        };
        Failure::bad_input(format!("no process service called {name}; {hint}"))
    })
}

pub fn files(config: &Config, name: &str) -> Files {
    let state_dir = config.state_dir();
    let log = match config.processes.get(name).and_then(|s| s.log.as_ref()) {
        Some(log) => config.resolve(log),
        None => state_dir.join("logs").join(format!("{name}.log")),
    };
    Files { pidfile: state_dir.join("run").join(format!("{name}.pid")), identity: state_dir.join("run").join(format!("{name}.json")), log }
}

/// Whether the service runs, judged by its identity file and /proc.
pub fn now(config: &Config, name: &str) -> Now {
    let files = files(config, name);
    let Some(identity) = std::fs::read(&files.identity).ok().and_then(|b| serde_json::from_slice::<Identity>(&b).ok()) else { return Now::Stopped };
    let this_boot = identity.boot_id.is_none() || identity.boot_id == boot_id();
    match procs::find(&Find::Pid(identity.pid)).into_iter().next() {
        None => Now::Ended { pid: identity.pid },
        Some(p) if this_boot && p.start_ticks == identity.start_ticks => Now::Running {
            pid: p.pid,
            started_at_ms: p.started_at_ms(),
            uptime_secs: p.uptime_secs() as u64,
            rss_bytes: p.rss_bytes,
            // Only the unit bosun names for this service: never another unit to `systemctl kill`.
            unit: identity.unit.filter(|unit| *unit == systemd::unit_name(name)),
        },
        // Printed on the operator's terminal: no control characters from another program's command line.
        Some(other) => Now::Stale { pid: other.pid, now_runs: other.cmdline.join(" ").chars().filter(|c| !c.is_control()).collect() },
    }
}

/// What a service is started with, whichever way it is detached.
struct Launch<'a> {
    name: &'a str,
    argv: &'a [String],
    workdir: PathBuf,
    /// From `env_files`, then `env`: a later value of a name wins.
    env: Vec<(String, String)>,
    user: Option<User>,
    log: &'a Path,
    run_dir: &'a Path,
    stop_timeout: u32,
}

impl Launch<'_> {
    /// A program that ends at once (a bad flag, a missing file) is reported, not recorded as running.
    fn ended_at_once(&self) -> Failure {
        Failure::failed(format!("{} ended at once; its output is in {}", self.name, self.log.display()))
    }
}

struct User {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
    shell: PathBuf,
}

impl User {
    /// The groups the user is in: its primary one and the others the group database names.
    fn groups(&self) -> Vec<u32> {
        let Ok(name) = std::ffi::CString::new(self.name.as_str()) else { return vec![self.gid] };
        let mut groups = vec![0 as libc::gid_t; 256];
        let mut count = groups.len() as libc::c_int;
        // SAFETY: `groups` holds `count` entries; getgrouplist writes at most that many and sets `count`.
        if unsafe { libc::getgrouplist(name.as_ptr(), self.gid, groups.as_mut_ptr(), &mut count) } == -1 {
            return vec![self.gid];
        }
        groups.truncate(count.max(0) as usize);
        groups
    }
}

/// Starts the service detached; a service that runs already is left alone.
/// Returns what it is now, and whether this call started it.
pub fn start(app: &App, name: &str) -> Result<(Now, bool), Failure> {
    let service = service(app, name)?;
    if let running @ Now::Running { .. } = now(&app.config, name) {
        return Ok((running, false));
    }
    let files = files(&app.config, name);
    let run_dir = files.pidfile.parent().expect("the pidfile is in run/");
    for dir in [Some(run_dir), files.log.parent()].into_iter().flatten() {
        std::fs::create_dir_all(dir).map_err(|e| Failure::failed(format!("{}: {e}", dir.display())))?;
    }
    let config_dir = app.config.resolve(Path::new(""));
    let mut env = Vec::new();
    for (file, read) in crate::ops::deploy::spec::read_env_files(&service.env_files, &config_dir) {
        env.extend(read.map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?);
    }
    env.extend(service.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let user = match &service.user {
        Some(name) => Some(user(name)?),
        None => None,
    };
    let log = only_root_points_the_log(&files.log)?;
    let launch = Launch {
        name,
        argv: service.command.as_deref().unwrap_or_default(),
        workdir: service.workdir.as_ref().map_or(config_dir.clone(), |w| config_dir.join(w)),
        env,
        user,
        log: &log,
        run_dir,
        stop_timeout: service.stop_timeout,
    };
    let (pid, unit) = match systemd::manages_services() {
        true => (systemd::start(&launch)?, Some(systemd::unit_name(name))),
        false => (session::start(&launch)?, None),
    };
    let started = procs::find(&Find::Pid(pid)).into_iter().next().ok_or_else(|| launch.ended_at_once())?;
    let identity = Identity { pid, start_ticks: started.start_ticks, unit, boot_id: boot_id() };
    write(&files.identity, &serde_json::to_vec(&identity).expect("plain data"))?;
    write(&files.pidfile, format!("{pid}\n").as_bytes())?;
    Ok((now(&app.config, name), true))
}

/// How a stop went.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StopOutcome {
    /// It was not running.
    NotRunning,
    /// The pidfile named another program's pid: removed, nothing signalled.
    Stale { pid: u32, now_runs: String },
    /// It ended on SIGTERM within the stop timeout.
    Terminated { pid: u32, after_ms: u64 },
    /// It outlived the stop timeout and was killed (SIGKILL).
    Killed { pid: u32, after_ms: u64 },
}

/// SIGTERM to the service's processes, then SIGKILL after `stop_timeout`:
/// its unit's cgroup under systemd, otherwise its process group.
pub fn stop(app: &App, name: &str) -> Result<StopOutcome, Failure> {
    let service = service(app, name)?;
    let files = files(&app.config, name);
    let outcome = match now(&app.config, name) {
        Now::Stopped | Now::Ended { .. } => StopOutcome::NotRunning,
        Now::Stale { pid, now_runs } => StopOutcome::Stale { pid, now_runs },
        Now::Running { pid, unit, .. } => {
            let started = Instant::now();
            let running = procs::find(&Find::Pid(pid)).into_iter().next();
            let (identity, group) = (running.as_ref().map(|p| p.start_ticks), running.map_or(pid, |p| p.group));
            let alive = || procs::find(&Find::Pid(pid)).first().map(|p: &Proc| p.start_ticks) == identity && identity.is_some();
            let signal = |signal| match &unit {
                Some(unit) => systemd::signal(unit, signal),
                None => session::signal(group, signal),
            };
            signal(libc::SIGTERM);
            let deadline = started + Duration::from_secs(u64::from(service.stop_timeout));
            while alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            match alive() {
                false => StopOutcome::Terminated { pid, after_ms: started.elapsed().as_millis() as u64 },
                true => {
                    signal(libc::SIGKILL);
                    while alive() && started.elapsed() < deadline.duration_since(started) + Duration::from_secs(5) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    StopOutcome::Killed { pid, after_ms: started.elapsed().as_millis() as u64 }
                }
            }
        }
    };
    for file in [&files.pidfile, &files.identity] {
        let _ = std::fs::remove_file(file);
    }
    Ok(outcome)
}

/// bosun appends a service's output to its log as root (its log keeper, or
/// systemd), so nobody else may choose what that file is (logrotate's rule):
/// every directory on the way to it is root's, one that others may write is
/// sticky (as /tmp is: nobody else may rename root's entries in it), nobody
/// else may write the log's own directory, and the log is no symbolic link.
/// Returns the log's path with its directory resolved (systemd wants it so).
fn only_root_points_the_log(log: &Path) -> Result<PathBuf, Failure> {
    use std::os::unix::fs::MetadataExt;
    let failed = |path: &Path, e: std::io::Error| Failure::failed(format!("{}: {e}", path.display()));
    let log = std::path::absolute(log).map_err(|e| failed(log, e))?;
    let (Some(dir), Some(file)) = (log.parent(), log.file_name()) else { return Err(Failure::bad_input(format!("log {}: not a file's path", log.display()))) };
    let resolved = dir.canonicalize().map_err(|e| failed(dir, e))?;
    let others_write = |meta: &std::fs::Metadata| meta.mode() & 0o002 != 0 || (meta.mode() & 0o020 != 0 && meta.gid() != 0);
    let on_the_way = dir.ancestors().chain(resolved.ancestors());
    for step in on_the_way {
        let meta = std::fs::symlink_metadata(step).map_err(|e| failed(step, e))?;
        let sticky = meta.mode() & 0o1000 != 0;
        let own_dir = step == resolved;
        if meta.uid() != 0 || (meta.is_dir() && others_write(&meta) && (own_dir || !sticky)) {
            return Err(Failure::bad_input(format!(
                "log {}: {} can be changed by others than root, who could point the log at any file bosun then appends to as root; keep it where only root writes, such as the default under the state directory or a /var/log/<name> made by root",
                log.display(),
                step.display()
            )));
        }
    }
    let log = resolved.join(file);
    if std::fs::symlink_metadata(&log).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Failure::bad_input(format!("log {}: is a symbolic link; name the file itself", log.display())));
    }
    Ok(log)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).map_err(|e| Failure::failed(format!("{}: {e}", path.display())))
}

/// A user's uid and primary gid, from the system's user database.
fn user(user: &str) -> Result<User, Failure> {
    let name = std::ffi::CString::new(user).map_err(|_| Failure::bad_input(format!("user {user:?}: not a user name")))?;
    // SAFETY: getpwnam returns a pointer into static storage or null; read at once.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(Failure::bad_input(format!("user {user}: no such user on this machine")));
    }
    let path = |text: *const libc::c_char| {
        // SAFETY: a field of the entry: null, or a C string in the same static storage.
        let bytes = if text.is_null() { &[][..] } else { unsafe { std::ffi::CStr::from_ptr(text) }.to_bytes() };
        PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    };
    // SAFETY: non-null, as checked.
    let (uid, gid, home, shell) = unsafe { ((*entry).pw_uid, (*entry).pw_gid, (*entry).pw_dir, (*entry).pw_shell) };
    Ok(User { name: user.to_string(), uid, gid, home: path(home), shell: path(shell) })
}
