//! `bosun:plugin/process`: run granted commands (no shell), start detached
//! ones, and look at running processes.

mod command;
mod env;
mod find;
mod grant;
mod interpreters;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmtime::component::{HasData, Linker};

pub use grant::Grant;

use std::os::fd::{AsRawFd, OwnedFd};

use super::artifact;
use super::fs::beneath::{Refusal, real_path_of};
use super::fs::{Access, Locator, Place, io_error};
use super::tail::Tail;
use super::{CallScope, Capability, Denial, DenialReason, HostState, Side};
use crate::bindings::process::{self, DetachMethod, Matcher, Output, ProcessInfo, RunOptions};
use crate::bindings::types::{ExitStatus, HostError, Kv};

pub struct Process;

impl HasData for Process {
    type Data<'a> = ProcessView<'a>;
}

/// What the process interface sees of a call: its scope.
pub struct ProcessView<'a> {
    call: &'a mut CallScope,
}

impl Capability for Process {
    const NAME: &'static str = "process";
    type Grant = Grant;

    fn parse(entries: &[String], side: Side) -> Result<Grant, String> {
        match side {
            Side::Request => Grant::parse_requests(entries),
            Side::Operator => Grant::parse(entries),
        }
    }

    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        process::add_to_linker::<HostState, Process>(linker, view)
    }
}

pub(super) fn view(state: &mut HostState) -> ProcessView<'_> {
    ProcessView { call: &mut state.call }
}

const STDOUT_LIMIT: usize = 1024 * 1024;
const STDERR_TAIL: usize = 64 * 1024;

/// A checked command: the program bosun found for `argv[0]`, and the
/// arguments with granted paths in their normalised form.
struct Allowed {
    program: PathBuf,
    argv: Vec<String>,
}

impl ProcessView<'_> {
    /// Checks `argv` and `env` against the policy: the command, as bosun's
    /// PATH finds it, and its arguments against `run:` entries, each variable
    /// against `env:` entries, and `{path:…}` arguments against the fs grants.
    fn process_access(&mut self, call: &str, argv: &[String], env: &[Kv]) -> Result<Allowed, HostError> {
        if argv.is_empty() || argv[0].is_empty() {
            return Err(HostError::Invalid(format!("{call}: argv is empty")));
        }
        let target = argv.join(" ");
        for kv in env {
            if !env::is_name(&kv.key) {
                return Err(HostError::Invalid(format!("{call}: {:?} is not an environment variable name", kv.key)));
            }
            if let Some(why) = env::forbidden(&kv.key) {
                let reason = DenialReason::Forbidden(format!("it sets {}, and {why}", kv.key));
                let denial = Denial { plugin: self.call.plugin.clone(), call: call.into(), target: target.clone(), reason };
                return Err(self.denied(Err(denial)));
            }
        }
        let program = command::locate(&argv[0]).ok();
        let entry = self.call.policy.granted.process.entry_for(argv);
        let check = self.call.policy.check(call, &target, "process", entry, |g| g.process.allows_run(program.as_deref(), argv));
        self.call.allow(check).map_err(|d| HostError::Denied(d.to_string()))?;
        for kv in env {
            let check = self.call.policy.check(call, &format!("{target} with {}", kv.key), "process", format!("env:{}", kv.key), |g| g.process.allows_env(&kv.key));
            self.call.allow(check).map_err(|d| HostError::Denied(d.to_string()))?;
        }
        let program = program.ok_or_else(|| HostError::NotFound(format!("{}: not found on bosun's PATH", argv[0])))?;
        if self.may_write(&program) {
            let why = format!("{} lies where the plugin may write, so it could be the plugin's own program", program.display());
            let denial = Denial { plugin: self.call.plugin.clone(), call: call.into(), target, reason: DenialReason::Forbidden(why) };
            return Err(self.denied(Err(denial)));
        }
        let argv = self.granted_paths(call, &program, argv)?;
        Ok(Allowed { program, argv })
    }

    /// `argv` with the arguments a matching grant marks `{path:…}` checked
    /// against the fs grants and normalised. Of several matching entries the
    /// first whose paths are all granted wins; if none, the first one's denial.
    fn granted_paths(&mut self, call: &str, program: &Path, argv: &[String]) -> Result<Vec<String>, HostError> {
        let candidates = self.call.policy.granted.process.run_matches(Some(program), argv);
        if candidates.iter().any(Vec::is_empty) {
            return Ok(argv.to_vec());
        }
        let recorded = self.call.denials.lock().expect("denials lock").len();
        let mut first_error = None;
        for paths in candidates {
            let mut out = argv.to_vec();
            let checked: Result<(), HostError> = paths.iter().try_for_each(|p| {
                let arg = &argv[p.index];
                let path = &arg[p.prefix..arg.len() - p.suffix];
                let real = self.real_path_beneath(call, path, p.access)?;
                out[p.index] = format!("{}{}{}", &arg[..p.prefix], real.display(), &arg[arg.len() - p.suffix..]);
                Ok(())
            });
            match checked {
                Ok(()) => {
                    // Denials of entries tried before this one are not the call's.
                    self.call.denials.lock().expect("denials lock").truncate(recorded);
                    return Ok(out);
                }
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        Err(first_error.expect("at least one candidate"))
    }

    /// Where `path` really is, found beneath the grant covering it: its
    /// directory opened there and named by the handle, its own name kept
    /// (and refused if it is a symlink, which the child would follow).
    fn real_path_beneath(&self, call: &str, path: &str, access: Access) -> Result<PathBuf, HostError> {
        Locator::of(self.call).reach(call, path, access, |at| {
            let (dir, name) = at.parent()?;
            match rustix::fs::statat(&dir, name.as_os_str(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) if rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Symlink => return Err(Refusal::Escapes),
                _ => {}
            }
            Ok(real_path_of(&dir)?.join(name))
        })
    }

    /// Whether the operator let the plugin write `program` (or replace it in its directory).
    fn may_write(&self, program: &Path) -> bool {
        let real = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
        [program, real.as_path()].iter().any(|p| self.call.policy.granted.fs.cover(p, Access::Write).is_some())
    }

    fn denied(&mut self, denial: Result<(), Denial>) -> HostError {
        HostError::Denied(self.call.allow(denial).expect_err("a denial").to_string())
    }

    /// The command with a clean environment: PATH, HOME and LANG only, plus
    /// `opts.env` (checked by [`Self::process_access`]); and the handle of its
    /// working directory, which must stay open until it is spawned. `program`
    /// is run; the child sees `argv[0]` as its name (pg_wrapper reads it).
    fn command(&mut self, call: &str, program: &Path, argv: &[String], opts: &RunOptions) -> Result<(tokio::process::Command, Option<OwnedFd>), HostError> {
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg0(&argv[0]).args(&argv[1..]).env_clear().kill_on_drop(true);
        for key in ["PATH", "HOME", "LANG"] {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        cmd.envs(opts.env.iter().map(|kv| (&kv.key, &kv.value)));
        // The child enters the directory opened beneath its grant, not a path looked up again.
        let cwd = match &opts.cwd {
            Some(cwd) => Some(Locator::of(self.call).reach(call, cwd, Access::Read, |at| at.open(rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY))?),
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

/// How a child ended, as the WIT says it.
fn exit_status(status: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitStatus::Code(code),
        (None, Some(signal)) => ExitStatus::Signal(signal),
        (None, None) => ExitStatus::Code(-1),
    }
}

impl process::Host for ProcessView<'_> {
    async fn run(&mut self, argv: Vec<String>, opts: RunOptions) -> Result<Output, HostError> {
        let allowed = self.process_access("process.run", &argv, &opts.env)?;
        let stdout_to = match &opts.stdout_to {
            Some(path) => Some(Locator::of(self.call).place("process.run", path)?),
            None => None,
        };
        let (mut cmd, _cwd) = self.command("process.run", &allowed.program, &allowed.argv, &opts)?;
        if !self.call.execute("process.run", argv.join(" ")) {
            let stdout_artifact = opts.stdout_to.as_deref().map(artifact::planned);
            return Ok(Output { status: ExitStatus::Code(0), stdout: vec![], stdout_artifact, stderr_tail: String::new(), duration_ms: 0 });
        }
        // The run's own timeout ends the run (status timed-out); the call's
        // deadline ends the call (an error).
        let remaining = self.call.remaining();
        let own_timeout = opts.timeout_ms.map(|ms| Duration::from_millis(ms.into())).filter(|timeout| *timeout < remaining);
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
        let ((stdout, stdout_artifact), stderr, status) = match tokio::time::timeout(own_timeout.unwrap_or(remaining), collect).await {
            Ok(collected) => collected?,
            Err(_) if own_timeout.is_some() => {
                let duration_ms = started.elapsed().as_millis() as u64;
                return Ok(Output { status: ExitStatus::TimedOut, stdout: vec![], stdout_artifact: None, stderr_tail: String::new(), duration_ms });
            }
            Err(_) => return Err(HostError::TimedOut(format!("{} was still running when the plugin call's time ran out, and was killed", argv[0]))),
        };
        Ok(Output {
            status: exit_status(status),
            stdout,
            stdout_artifact,
            stderr_tail: stderr.into_string(),
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    async fn spawn_detached(&mut self, argv: Vec<String>, method: DetachMethod, log_path: String, opts: RunOptions) -> Result<u32, HostError> {
        let allowed = self.process_access("process.spawn-detached", &argv, &opts.env)?;
        let log = Locator::of(self.call).place("process.spawn-detached", &log_path)?;
        let (mut cmd, _cwd) = match method {
            DetachMethod::Systemd => {
                let systemd_run = command::locate("systemd-run").map_err(HostError::NotFound)?;
                let unit = format!("bosun-{}-{}", self.call.plugin, std::process::id());
                // systemd-run is given the program bosun found, not a name to look up again.
                let mut full = vec!["systemd-run".to_string(), "--unit".into(), unit, "--collect".into(), "--".into()];
                full.push(allowed.program.display().to_string());
                full.extend(allowed.argv[1..].iter().cloned());
                self.command("process.spawn-detached", &systemd_run, &full, &opts)?
            }
            DetachMethod::Setsid | DetachMethod::Nohup => self.command("process.spawn-detached", &allowed.program, &allowed.argv, &opts)?,
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
            Matcher::Pidfile(path) => Some((Locator::of(self.call).open_file("process.find", path)?, std::path::PathBuf::from(path))),
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

async fn stream_to_file(stream: &mut tokio::process::ChildStdout, place: Place) -> Result<crate::bindings::types::Artifact, HostError> {
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

#[cfg(test)]
mod view_tests {
    use super::*;
    use crate::capability::GrantSpec;
    use crate::capability::scope::test_scope;
    use crate::bindings::process::Host;

    fn options() -> RunOptions {
        RunOptions { cwd: None, env: vec![], stdin: None, stdout_to: None, timeout_ms: Some(5000) }
    }

    fn scope(granted: &[&str], dry_run: bool) -> CallScope {
        let spec = |e: &[&str]| GrantSpec { process: e.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        test_scope(spec(&["run:echo **", "run:sh **"]), spec(granted), dry_run)
    }

    #[tokio::test]
    async fn only_granted_argv_runs() {
        let mut call = scope(&["run:echo hello *"], false);
        let mut process = ProcessView { call: &mut call };
        let out = process.run(vec!["echo".into(), "hello".into(), "there".into()], options()).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello there\n");
        let other = process.run(vec!["echo".into(), "goodbye".into()], options()).await.unwrap_err();
        assert!(matches!(other, HostError::Denied(_)), "{other:?}");
        let shell = process.run(vec!["sh".into(), "-c".into(), "id".into()], options()).await.unwrap_err();
        assert!(matches!(shell, HostError::Denied(_)), "{shell:?}");
    }

    #[tokio::test]
    async fn a_dry_run_records_the_command_and_runs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let requested = GrantSpec { process: vec!["run:**".into()], fs: vec!["rw:*".into()], ..Default::default() };
        let granted = GrantSpec { process: vec!["run:touch {path:rw}".into()], fs: vec![format!("rw:{}", dir.path().display())], ..Default::default() };
        let mut call = test_scope(requested, granted, true);
        let argv = vec!["touch".into(), marker.display().to_string()];
        ProcessView { call: &mut call }.run(argv, options()).await.unwrap();
        assert!(!marker.exists());
        assert_eq!(call.take_planned()[0].call, "process.run");
    }

    /// The session a process leads or belongs to (`/proc/<pid>/stat` field 6).
    fn session_of(pid: u32) -> u32 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(3).unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn a_detached_command_leads_its_own_session_and_writes_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("out.log");
        let requested = GrantSpec { process: vec!["run:**".into()], fs: vec!["rw:*".into()], ..Default::default() };
        let granted = GrantSpec { process: vec!["run:sleep 30".into(), "run:echo detached".into()], fs: vec![format!("rw:{}", dir.path().display())], ..Default::default() };
        let mut call = test_scope(requested, granted, false);
        let mut process = ProcessView { call: &mut call };
        let log_path = log.display().to_string();
        let sleeper = process.spawn_detached(vec!["sleep".into(), "30".into()], DetachMethod::Setsid, log_path.clone(), options()).await.unwrap();
        let alive = std::path::Path::new(&format!("/proc/{sleeper}")).exists();
        let (session, ours) = (session_of(sleeper), session_of(std::process::id()));
        rustix::process::kill_process(rustix::process::Pid::from_raw(sleeper as i32).unwrap(), rustix::process::Signal::KILL).unwrap();
        assert!(alive);
        assert_eq!(session, sleeper, "it leads a session of its own");
        assert_ne!(session, ours);
        process.spawn_detached(vec!["echo".into(), "detached".into()], DetachMethod::Setsid, log_path, options()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&log).unwrap_or_default() != "detached\n" && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "detached\n");
        let denied = process.spawn_detached(vec!["sleep".into(), "31".into()], DetachMethod::Setsid, log.display().to_string(), options()).await.unwrap_err();
        assert!(matches!(denied, HostError::Denied(_)), "{denied:?}");
    }
}
