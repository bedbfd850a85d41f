//! Detaching without systemd: a session of its own (setsid, then a second
//! fork whose parent exits), stdin closed, output through a pipe to a log
//! keeper that reopens the log when it has been rotated.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::Launch;
use crate::failure::Failure;
use crate::procs::{self, Find};

/// systemd's PATH for services.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Starts the program and returns its pid.
pub fn start(launch: &Launch) -> Result<u32, Failure> {
    let output = keep_log_beside(launch.log)?;
    let mut command = Command::new(&launch.argv[0]);
    command.args(&launch.argv[1..]).stdin(Stdio::null()).stdout(output.try_clone().map_err(|e| Failure::failed(e.to_string()))?).stderr(output);
    // Only what systemd would give a service, and the service's own: none of bosun's environment (its secrets).
    command.current_dir(&launch.workdir).env_clear().env("PATH", DEFAULT_PATH);
    if let Some(user) = &launch.user {
        command.env("HOME", &user.home).env("USER", &user.name).env("LOGNAME", &user.name).env("SHELL", &user.shell);
    }
    command.envs(launch.env.iter().map(|(k, v)| (k, v)));
    let ids = launch.user.as_ref().map(|user| (user.groups(), user.gid, user.uid));
    // A new session, then a second fork whose parent, the session's leader,
    // exits: the program is not a session leader, so it can never take a
    // controlling terminal, and nothing waits for it but init. Then the
    // user's groups (all of them, as systemd and login give), group and user.
    // SAFETY: setsid, fork, _exit, setgroups, setgid and setuid are async-signal-safe; nothing allocates between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            match libc::fork() {
                -1 => return Err(std::io::Error::last_os_error()),
                0 => {}
                _ => libc::_exit(0),
            }
            if let Some((groups, gid, uid)) = &ids
                && (libc::setgroups(groups.len(), groups.as_ptr()) == -1 || libc::setgid(*gid) == -1 || libc::setuid(*uid) == -1)
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut leader = command.spawn().map_err(|e| Failure::failed(format!("starting {}: {}: {e}", launch.name, launch.argv[0])))?;
    let session = leader.id();
    let _ = leader.wait();
    std::thread::sleep(Duration::from_millis(200));
    procs::find(&Find::Session(session)).into_iter().min_by_key(|p| p.start_ticks).map(|p| p.pid).ok_or_else(|| launch.ended_at_once())
}

/// SIGTERM or SIGKILL to the service's process group (its own, from setsid):
/// what it started goes too.
pub fn signal(group: u32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(-(group as i32), signal) };
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
