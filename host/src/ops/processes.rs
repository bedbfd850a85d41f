//! Process services (`[services.<name>] kind = "process"`): programs on
//! this machine that `bosun start` runs detached (a session of their own
//! by setsid and a double fork, stdin closed, output appended to a log file by a keeper that reopens it
//! when it is rotated), so they outlive the shell and bosun. A pidfile says which pid is the service, and an identity file
//! beside it its start time and command line: a pid the kernel has since
//! given to another program is never signalled.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
    cmdline: Vec<String>,
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
    Running { pid: u32, started_at_ms: i64, uptime_secs: u64, rss_bytes: u64 },
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
    match procs::find(&Find::Pid(identity.pid)).into_iter().next() {
        None => Now::Ended { pid: identity.pid },
        Some(p) if p.start_ticks == identity.start_ticks && p.cmdline.get(1..) == identity.cmdline.get(1..) => Now::Running {
            pid: p.pid,
            started_at_ms: p.started_at_ms(),
            uptime_secs: p.uptime_secs() as u64,
            rss_bytes: p.rss_bytes,
        },
        Some(other) => Now::Stale { pid: other.pid, now_runs: other.cmdline.join(" ") },
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
    let argv = service.command.clone().unwrap_or_default();
    for dir in [files.pidfile.parent(), files.log.parent()].into_iter().flatten() {
        std::fs::create_dir_all(dir).map_err(|e| Failure::failed(format!("{}: {e}", dir.display())))?;
    }
    let output = keep_log_beside(&files.log)?;
    let config_dir = app.config.resolve(Path::new(""));
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]).stdin(Stdio::null()).stdout(output.try_clone().map_err(|e| Failure::failed(e.to_string()))?).stderr(output);
    command.current_dir(service.workdir.as_ref().map_or(config_dir.clone(), |w| config_dir.join(w)));
    for (file, read) in crate::ops::deploy::spec::read_env_files(&service.env_files, &config_dir) {
        command.envs(read.map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?);
    }
    command.envs(&service.env);
    if let Some(user) = &service.user {
        let (uid, gid) = user_ids(user)?;
        command.uid(uid).gid(gid);
    }
    // A new session, then a second fork whose parent, the session's leader,
    // exits: the program is not a session leader, so it can never take a
    // controlling terminal, and nothing waits for it but init.
    // SAFETY: setsid, fork and _exit are async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            match libc::fork() {
                -1 => Err(std::io::Error::last_os_error()),
                0 => Ok(()),
                _ => libc::_exit(0),
            }
        });
    }
    let mut leader = command.spawn().map_err(|e| Failure::failed(format!("starting {name}: {}: {e}", argv[0])))?;
    let session = leader.id();
    let _ = leader.wait();
    // A program that ends at once (a bad flag, a missing file) is reported, not recorded as running.
    std::thread::sleep(Duration::from_millis(200));
    let ended = || Failure::failed(format!("{name} ended at once; its output is in {}", files.log.display()));
    let started = procs::find(&Find::Session(session)).into_iter().min_by_key(|p| p.start_ticks).ok_or_else(ended)?;
    let pid = started.pid;
    let identity = Identity { pid, start_ticks: started.start_ticks, cmdline: started.cmdline.clone() };
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

/// SIGTERM to the service's process group, then SIGKILL after `stop_timeout`.
pub fn stop(app: &App, name: &str) -> Result<StopOutcome, Failure> {
    let service = service(app, name)?;
    let files = files(&app.config, name);
    let outcome = match now(&app.config, name) {
        Now::Stopped | Now::Ended { .. } => StopOutcome::NotRunning,
        Now::Stale { pid, now_runs } => StopOutcome::Stale { pid, now_runs },
        Now::Running { pid, .. } => {
            let started = Instant::now();
            let running = procs::find(&Find::Pid(pid)).into_iter().next();
            let (identity, group) = (running.as_ref().map(|p| p.start_ticks), running.map_or(pid, |p| p.group));
            let alive = || procs::find(&Find::Pid(pid)).first().map(|p: &Proc| p.start_ticks) == identity && identity.is_some();
            // The service has a process group of its own (from setsid): what it started goes too.
            signal_group(group, libc::SIGTERM);
            let deadline = started + Duration::from_secs(u64::from(service.stop_timeout));
            while alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            match alive() {
                false => StopOutcome::Terminated { pid, after_ms: started.elapsed().as_millis() as u64 },
                true => {
                    signal_group(group, libc::SIGKILL);
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

/// Starts a log keeper for `log` (this bosun, `bosun keep-log`, in a session
/// of its own) and returns the pipe end the service writes to.
fn keep_log_beside(log: &Path) -> Result<std::io::PipeWriter, Failure> {
    let failed = |e: std::io::Error| Failure::failed(format!("{}: {e}", log.display()));
    // Opened here first, so a log that cannot be written is reported now, not lost later.
    std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(failed)?;
    let (reader, writer) = std::io::pipe().map_err(failed)?;
    let bosun = std::env::current_exe().map_err(failed)?;
    let mut keeper = Command::new(bosun);
    keeper.arg("keep-log").arg(log).stdin(reader).stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        keeper.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    keeper.spawn().map_err(failed)?;
    Ok(writer)
}

/// Appends what comes on stdin to `path`, opening it again when it has been
/// rotated (renamed or removed), so logrotate needs no `copytruncate`. Ends
/// when every writer has closed the pipe: the service and what it started.
pub fn keep_log(path: &Path) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let open = || std::fs::OpenOptions::new().create(true).append(true).open(path);
    let mut file = open()?;
    let mut input = std::io::stdin().lock();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = input.read(&mut chunk)?;
        if read == 0 {
            return Ok(());
        }
        if rotated(&file, path) {
            file = open()?;
        }
        file.write_all(&chunk[..read])?;
    }
}

/// Whether `path` no longer names the file `file` is.
fn rotated(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => (open.dev(), open.ino()) != (named.dev(), named.ino()),
        _ => true,
    }
}

fn signal_group(pid: u32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(-(pid as i32), signal) };
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).map_err(|e| Failure::failed(format!("{}: {e}", path.display())))
}

/// A user's uid and primary gid, from the system's user database.
fn user_ids(user: &str) -> Result<(u32, u32), Failure> {
    let name = std::ffi::CString::new(user).map_err(|_| Failure::bad_input(format!("user {user:?}: not a user name")))?;
    // SAFETY: getpwnam returns a pointer into static storage or null; read at once.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(Failure::bad_input(format!("user {user}: no such user on this machine")));
    }
    // SAFETY: non-null, as checked.
    Ok(unsafe { ((*entry).pw_uid, (*entry).pw_gid) })
}
