//! The `command` step: an argv from bosun.toml run on the host (never a
//! shell line), with its output kept in the run's log. Exit 75 means
//! skipped; `key=value` lines written to `$BOSUN_OUTPUT` become outputs, as
//! `$GITHUB_OUTPUT` does on GitHub.

use std::path::Path;
use std::process::Stdio;

use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt};

use super::args::Args;
use super::step::{MAX_OUTPUT_BYTES, StepDone, StepError};
use crate::failure::{Failure, SKIPPED};

/// How much of each output stream is kept (its end).
const KEPT_BYTES: usize = 64 * 1024;
/// The longest line shown whole as the command writes it.
const LINE_BYTES: usize = 8 * 1024;

/// Shows a line of the command's output as it comes.
type Shown<'a> = &'a (dyn Fn(&str) + Sync);

pub async fn run(step: &str, args: &Args, config_dir: &Path, dry_run: bool, on_line: Shown<'_>) -> Result<StepDone, StepError> {
    let argv = args.list("argv")?;
    let Some(program) = argv.first().filter(|p| !p.is_empty()) else {
        return Err(Failure::failed(format!("step {step}: with.argv is empty; name the program and its arguments")).into());
    };
    let cwd = args.text("cwd")?.map(|dir| config_dir.join(dir)).unwrap_or_else(|| config_dir.to_path_buf());
    let shown = shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "));
    if dry_run {
        return Ok(StepDone { summary: format!("would run {shown}"), planned: vec![format!("run {shown} in {}", cwd.display())], ..StepDone::default() });
    }
    let outputs_file = tempfile::NamedTempFile::new().map_err(|e| Failure::failed(format!("step {step}: creating its $BOSUN_OUTPUT file: {e}")))?;
    let mut command = tokio::process::Command::new(program);
    command.args(&argv[1..]).current_dir(&cwd).envs(args.table("env")?).env("BOSUN_OUTPUT", outputs_file.path());
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| Failure::failed(format!("step {step}: cannot run {program} in {}: {}", cwd.display(), crate::words::io_words(&e))))?;
    // A cancelled step (timeout, Ctrl-C) drops this future: the whole process group goes.
    let _group = GroupKill(child.id());
    let (stdout, stderr) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
    let (status, stdout, stderr) = tokio::join!(child.wait(), follow(stdout, on_line), follow(stderr, on_line));
    let status = status.map_err(|e| Failure::failed(format!("step {step}: waiting for {program}: {e}")))?;
    let mut log: Vec<String> = stdout.lines().chain(stderr.lines()).map(str::to_string).collect();
    let code = status.code();
    log.push(format!("{shown}: {}", match code {
        Some(code) => format!("exit {code}"),
        None => "killed by a signal".into(),
    }));
    on_line(log.last().expect("just pushed"));
    match code {
        Some(0) => {
            let mut written = String::new();
            // More than a step may hold is refused, so more is never read.
            let _ = std::io::Read::read_to_string(&mut std::io::Read::take(outputs_file.reopen().map_err(|e| Failure::failed(format!("step {step}: reading $BOSUN_OUTPUT: {e}")))?, MAX_OUTPUT_BYTES as u64 + 1), &mut written);
            if written.len() > MAX_OUTPUT_BYTES {
                return Err(StepError { failure: Failure::failed(format!("step {step}: {shown} wrote more than {MAX_OUTPUT_BYTES} bytes to $BOSUN_OUTPUT; a step's outputs hold at most that")), log });
            }
            let mut outputs = written_outputs(&written);
            outputs.insert("exit_code".into(), Value::from(0));
            outputs.insert("stdout".into(), Value::from(stdout.trim_end()));
            Ok(StepDone { outputs, summary: format!("{shown}: exit 0"), log, ..StepDone::default() })
        }
        Some(code) if code == i32::from(SKIPPED) => Ok(StepDone { summary: format!("{shown}: exit 75, skipped"), log, skipped: true, ..StepDone::default() }),
        _ => {
            let why = stderr.lines().rev().find(|l| !l.trim().is_empty()).map(|l| format!(": {l}")).unwrap_or_default();
            let ended = code.map_or("was killed by a signal".to_string(), |c| format!("exited with {c}"));
            Err(StepError { failure: Failure::failed(format!("step {step}: {shown} {ended}{why}")), log })
        }
    }
}

/// The last [`KEPT_BYTES`] a stream wrote, as text; each line is shown as it
/// comes (a line longer than [`LINE_BYTES`] in pieces).
async fn follow(stream: impl AsyncRead + Unpin, on_line: Shown<'_>) -> String {
    let mut reader = tokio::io::BufReader::new(stream);
    let mut kept: Vec<u8> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader).take(LINE_BYTES as u64).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        on_line(String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']));
        kept.extend_from_slice(&line);
        if kept.len() > 2 * KEPT_BYTES {
            kept.drain(..kept.len() - KEPT_BYTES);
        }
    }
    if kept.len() > KEPT_BYTES {
        kept.drain(..kept.len() - KEPT_BYTES);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// `key=value` lines, and GitHub's `key<<DELIMITER` … `DELIMITER` blocks for
/// values of several lines.
fn written_outputs(text: &str) -> Map<String, Value> {
    let mut outputs = Map::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((key, delimiter)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            outputs.insert(key.trim().to_string(), Value::from(value.join("\n")));
        } else if let Some((key, value)) = line.split_once('=') {
            outputs.insert(key.trim().to_string(), Value::from(value));
        }
    }
    outputs
}

/// Kills a process group when dropped.
struct GroupKill(Option<u32>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: a plain signal to the group the child leads; it may be gone.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn outputs_as_github_writes_them() {
        let outputs = super::written_outputs("digest=sha256:ab=cd\nnotes<<EOF\none\ntwo\nEOF\nlast=1\n");
        assert_eq!(serde_json::Value::Object(outputs), serde_json::json!({ "digest": "sha256:ab=cd", "notes": "one\ntwo", "last": "1" }));
    }
}
