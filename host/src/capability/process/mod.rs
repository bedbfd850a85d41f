//! `bosun:plugin/process`: run granted commands (no shell), start detached
//! ones, and look at running processes.

mod find;
mod grant;

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmtime::component::{HasSelf, Linker};

pub use grant::Grant;

use std::os::fd::{AsRawFd, OwnedFd};

use super::artifact;
use super::fs::{Access, Place, io_error};
use super::tail::Tail;
use super::{CallState, HostState};
use crate::plugin::bindings::process::{self, DetachMethod, Matcher, Output, ProcessInfo, RunOptions};
use crate::plugin::bindings::types::HostError;

pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    process::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

const STDOUT_LIMIT: usize = 1024 * 1024;
const STDERR_TAIL: usize = 64 * 1024;

impl CallState {
    fn process_access(&mut self, call: &str, argv: &[String]) -> Result<(), HostError> {
        if argv.is_empty() || argv[0].is_empty() {
            return Err(HostError::Invalid(format!("{call}: argv is empty")));
        }
        let check = self.policy.check(call, &argv.join(" "), "process", grant::entry_for(argv), |g| g.process.allows_run(argv));
        self.allow(check).map_err(|d| HostError::Denied(d.to_string()))
    }

    /// The command with a clean environment: PATH, HOME and LANG only, plus
    /// `opts.env`; and the handle of its working directory, which must stay
    /// open until it is spawned.
    fn command(&mut self, call: &str, argv: &[String], opts: &RunOptions) -> Result<(tokio::process::Command, Option<OwnedFd>), HostError> {
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..]).env_clear().kill_on_drop(true);
        for key in ["PATH", "HOME", "LANG"] {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        cmd.envs(opts.env.iter().map(|kv| (&kv.key, &kv.value)));
        // The child enters the directory opened beneath its grant, not a path looked up again.
        let cwd = match &opts.cwd {
            Some(cwd) => Some(self.fs().reach(call, cwd, Access::Read, |at| at.open(rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY))?),
            None => None,
        };
        if let Some(fd) = &cwd {
            cmd.current_dir(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        }
        Ok((cmd, cwd))
    }
}

fn spawn_error(argv: &[String], e: std::io::Error) -> HostError {
    match e.kind() {
        std::io::ErrorKind::NotFound => HostError::NotFound(format!("{}: command not found", argv[0])),
        _ => HostError::Failed(format!("{}: {e}", argv[0])),
    }
}

impl process::Host for HostState {
    async fn run(&mut self, argv: Vec<String>, opts: RunOptions) -> Result<Output, HostError> {
        self.call.process_access("process.run", &argv)?;
        let stdout_to = match &opts.stdout_to {
            Some(path) => Some(self.call.fs().place("process.run", path)?),
            None => None,
        };
        let (mut cmd, _cwd) = self.call.command("process.run", &argv, &opts)?;
        if !self.call.execute("process.run", argv.join(" ")) {
            let stdout_artifact = opts.stdout_to.as_deref().map(artifact::planned);
            return Ok(Output { exit_code: 0, stdout: vec![], stdout_artifact, stderr_tail: String::new(), duration_ms: 0 });
        }
        let limit = opts.timeout_ms.map_or(self.call.remaining(), |ms| Duration::from_millis(ms.into()).min(self.call.remaining()));
        let started = Instant::now();
        cmd.stdin(if opts.stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| spawn_error(&argv, e))?;
        if let (Some(input), Some(mut stdin)) = (opts.stdin, child.stdin.take()) {
            tokio::spawn(async move {
                let _ = stdin.write_all(&input).await;
            });
        }
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let collect = async {
            let stdout_task = async {
                match stdout_to {
                    Some(place) => stream_to_file(&mut stdout, place).await.map(|a| (Vec::new(), Some(a))),
                    None => read_limited(&mut stdout, STDOUT_LIMIT).await.map(|bytes| (bytes, None)),
                }
            };
            let stderr_task = read_tail(&mut stderr, STDERR_TAIL);
            let (out, err) = tokio::join!(stdout_task, stderr_task);
            let status = child.wait().await.map_err(|e| HostError::Failed(e.to_string()))?;
            Ok::<_, HostError>((out?, err, status))
        };
        let ((stdout, stdout_artifact), stderr, status) = tokio::time::timeout(limit, collect)
            .await
            .map_err(|_| HostError::TimedOut(format!("{} ran longer than {}ms and was killed", argv[0], limit.as_millis())))??;
        Ok(Output {
            exit_code: status.code().unwrap_or(-1),
            stdout,
            stdout_artifact,
            stderr_tail: stderr.into_string(),
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    async fn spawn_detached(&mut self, argv: Vec<String>, method: DetachMethod, log_path: String, opts: RunOptions) -> Result<u32, HostError> {
        self.call.process_access("process.spawn-detached", &argv)?;
        let log = self.call.fs().place("process.spawn-detached", &log_path)?;
        let (mut cmd, _cwd) = match method {
            DetachMethod::Systemd => {
                let unit = format!("bosun-{}-{}", self.call.plugin, std::process::id());
                let mut full = vec!["systemd-run".to_string(), "--unit".into(), unit, "--collect".into(), "--".into()];
                full.extend(argv.iter().cloned());
                self.call.command("process.spawn-detached", &full, &opts)?
            }
            DetachMethod::Setsid | DetachMethod::Nohup => self.call.command("process.spawn-detached", &argv, &opts)?,
        };
        if !self.call.execute("process.spawn-detached", format!("{:?} {}", method, argv.join(" "))) {
            return Ok(0);
        }
        let log_file = log.open_append()?;
        let log_err = log_file.try_clone().map_err(|e| io_error(&log.shown, e))?;
        cmd.stdin(Stdio::null()).stdout(log_file).stderr(log_err).kill_on_drop(false);
        let nohup = matches!(method, DetachMethod::Nohup);
        // SAFETY: only async-signal-safe libc calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if nohup {
                    libc::signal(libc::SIGHUP, libc::SIG_IGN);
                }
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| spawn_error(&argv, e))?;
        child.id().ok_or_else(|| HostError::Failed(format!("{} exited at once", argv[0])))
    }

    async fn find(&mut self, matcher: Matcher) -> Result<Vec<ProcessInfo>, HostError> {
        let pidfile = match &matcher {
            Matcher::Pidfile(path) => Some((self.call.fs().open_file("process.find", path)?, std::path::PathBuf::from(path))),
            _ => None,
        };
        let found = tokio::task::spawn_blocking(move || find::find(&matcher, pidfile))
            .await
            .map_err(|e| HostError::Failed(e.to_string()))??;
        // Processes the grant does not cover are left out; if every match is
        // outside it, say so (with the entry to add) rather than "none found".
        let mut allowed = Vec::new();
        let mut first_denied = None;
        for info in found {
            let check = self.call.policy.check("process.find", &info.name, "process", format!("find:{}", info.name), |g| g.process.allows_find(&info.name));
            match check {
                Ok(()) => allowed.push(info),
                Err(denial) => first_denied = first_denied.or(Some(denial)),
            }
        }
        match (allowed.is_empty(), first_denied) {
            (true, Some(denial)) => Err(HostError::Denied(self.call.allow(Err(denial)).unwrap_err().to_string())),
            _ => Ok(allowed),
        }
    }
}

async fn read_limited(stream: &mut tokio::process::ChildStdout, limit: usize) -> Result<Vec<u8>, HostError> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|e| HostError::Failed(e.to_string()))?;
        if n == 0 {
            return Ok(buf);
        }
        // Past the limit the rest is drained so the child never blocks on a full pipe.
        let room = limit.saturating_sub(buf.len()).min(n);
        buf.extend_from_slice(&chunk[..room]);
    }
}

/// The end of a command's stderr; the rest is drained so it never blocks.
async fn read_tail(stream: &mut tokio::process::ChildStderr, limit: usize) -> Tail {
    let mut tail = Tail::new(limit);
    let mut chunk = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = stream.read(&mut chunk).await {
        tail.push(&chunk[..n]);
    }
    tail
}

async fn stream_to_file(stream: &mut tokio::process::ChildStdout, place: Place) -> Result<crate::plugin::bindings::types::Artifact, HostError> {
    let path = &place.shown.clone();
    let mut out = place.create()?;
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|e| HostError::Failed(e.to_string()))?;
        if n == 0 {
            break;
        }
        std::io::Write::write_all(&mut out, &chunk[..n]).map_err(|e| io_error(path, e))?;
    }
    out.finish().map_err(|e| io_error(path, e))
}
