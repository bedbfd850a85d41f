//! One call's view of the engine: the client and the deadline every wait
//! is bounded by, and engine errors mapped to host errors.

use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as EngineError;
use bollard::exec::StartExecResults;
use bollard::models as api;
use bollard::query_parameters::InspectContainerOptions;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::exec_output::{EXEC_OUTPUT_LIMIT, ExecStdout};
use super::file_sink::FileSink;
use crate::capability::tail::Tail;
use crate::bindings::docker::ExecStatus;
use crate::bindings::types::{Artifact, ExitStatus, HostError};

/// One call's view of the engine: the client and the deadline every wait is bounded by.
pub(super) struct CallEngine {
    pub(super) docker: Docker,
    pub(super) endpoint: crate::docker::Endpoint,
    pub(super) deadline: Instant,
}

impl CallEngine {
    /// Runs `work`, or fails with `TimedOut` naming `what` when the deadline passes first.
    pub(super) async fn within<T>(&self, what: &str, work: impl Future<Output = T>) -> Result<T, HostError> {
        tokio::time::timeout_at(self.deadline.into(), work)
            .await
            .map_err(|_| ran_out(what))
    }

    /// One engine request about `what` (e.g. "container shop-db"), errors mapped.
    pub(super) async fn run<T>(&self, what: &str, request: impl Future<Output = Result<T, EngineError>>) -> Result<T, HostError> {
        self.within(what, request).await?.map_err(|e| engine_error(what, e))
    }

    pub(super) async fn inspect(&self, container: &str) -> Result<api::ContainerInspectResponse, HostError> {
        let request = self.docker.inspect_container(container, None::<InspectContainerOptions>);
        self.run(&format!("container {container}"), request).await
    }

    /// Writes an engine byte stream (a tarball) to `sink`. The engine's part
    /// is bounded by the deadline; committing the file (fsync, rename) is not
    /// interrupted. On failure the temp file is gone when this returns.
    pub(super) async fn stream_to_file(
        &self,
        what: &str,
        bytes: impl Stream<Item = Result<Bytes, EngineError>>,
        mut sink: FileSink,
    ) -> Result<Artifact, HostError> {
        let copy = async {
            let mut bytes = pin!(bytes);
            while let Some(chunk) = bytes.next().await {
                sink.write(chunk.map_err(|e| engine_error(what, e))?).await?;
            }
            Ok(())
        };
        match self.within(what, copy).await.and_then(|copied| copied) {
            Ok(()) => sink.finish().await,
            Err(e) => {
                sink.abandon().await;
                Err(e)
            }
        }
    }

    pub(super) async fn exec(&self, container: &str, argv: Vec<String>, stdin: Option<tokio::fs::File>, mut stdout: ExecStdout) -> Result<ExecStatus, HostError> {
        let mut stderr = Tail::new(EXEC_OUTPUT_LIMIT);
        match self.run_exec(container, argv, stdin, &mut stdout, &mut stderr).await {
            Ok(exit_code) => {
                let (stdout, stdout_artifact) = stdout.finish().await?;
                let status = ExitStatus::Code(exit_code.clamp(i32::MIN.into(), i32::MAX.into()) as i32);
                Ok(ExecStatus { status, stdout_artifact, stdout, stderr_tail: stderr.into_string() })
            }
            Err(e) => {
                stdout.abandon().await;
                Err(e)
            }
        }
    }

    /// Runs `argv` in the container, passing its output on; returns the exit code.
    pub(super) async fn run_exec(&self, container: &str, argv: Vec<String>, stdin: Option<tokio::fs::File>, stdout: &mut ExecStdout, stderr: &mut Tail) -> Result<i64, HostError> {
        let what = &format!("container {container}");
        let command = argv[0].clone();
        let config = api::ExecConfig {
            attach_stdin: Some(stdin.is_some()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(argv),
            ..Default::default()
        };
        let id = self.run(what, self.docker.create_exec(container, config)).await?.id;
        let StartExecResults::Attached { mut output, mut input } = self.run(what, self.docker.start_exec(&id, None)).await? else {
            return Err(HostError::Failed(format!("{what}: the engine detached the exec")));
        };
        // stdin is fed while the output is read, so neither side's pipe fills
        // up and blocks the other; closing it is the command's end of input.
        let feed = async {
            if let Some(mut file) = stdin {
                tokio::io::copy(&mut file, &mut input).await.map_err(|e| HostError::Failed(format!("{what}: feeding {command}'s stdin: {e}")))?;
                tokio::io::AsyncWriteExt::shutdown(&mut input).await.map_err(|e| HostError::Failed(format!("{what}: closing {command}'s stdin: {e}")))?;
            }
            Ok::<(), HostError>(())
        };
        let read = async {
            while let Some(frame) = output.next().await {
                match frame.map_err(|e| engine_error(what, e))? {
                    LogOutput::StdErr { message } => stderr.push(&message),
                    LogOutput::StdOut { message } | LogOutput::Console { message } => stdout.push(message).await?,
                    LogOutput::StdIn { .. } => {}
                }
            }
            Ok::<(), HostError>(())
        };
        let run = async {
            let (fed, read) = tokio::join!(feed, read);
            read?;
            let code = self.exit_code(what, &id).await?;
            // A command that failed and stopped reading says more than the broken pipe.
            if code == 0 {
                fed?;
            }
            Ok(code)
        };
        self.within(what, run).await.map_err(|_| {
            HostError::TimedOut(format!(
                "{what}: {command} was still running when the plugin call's time ran out (the engine cannot stop an exec; it may still be running)"
            ))
        })?
    }

    /// The exit code once the engine has recorded it (just after the output ends).
    pub(super) async fn exit_code(&self, what: &str, exec_id: &str) -> Result<i64, HostError> {
        loop {
            let state = self.docker.inspect_exec(exec_id).await.map_err(|e| engine_error(what, e))?;
            match (state.running, state.exit_code) {
                (Some(false), Some(code)) => return Ok(code),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

pub(super) fn engine_error(what: &str, error: EngineError) -> HostError {
    match error {
        EngineError::DockerResponseServerError { status_code: 404, .. } => HostError::NotFound(format!("{what} not found")),
        EngineError::DockerResponseServerError { message, .. } => HostError::Failed(format!("{what}: {}", message.trim())),
        other => HostError::Failed(format!("{what}: {}", crate::docker::causes(&other))),
    }
}

pub(super) fn ran_out(what: &str) -> HostError {
    HostError::TimedOut(format!("{what}: the engine had not finished when the plugin call's time ran out"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_container_is_not_found() {
        let server = |status_code, message: &str| EngineError::DockerResponseServerError { status_code, message: message.into() };
        assert!(matches!(engine_error("container x", server(404, "No such container: x")), HostError::NotFound(m) if m == "container x not found"));
    }
}
