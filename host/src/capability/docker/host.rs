//! The docker calls themselves. Each checks its grant first; mutating ones are
//! recorded instead of run in a dry run; every wait on the engine is bounded
//! by the plugin call's deadline. Bulk bytes (image tarballs, archives, dumps)
//! stream between the engine and host files on blocking threads and never
//! reach the plugin.

use std::collections::HashMap;
use std::future::Future;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as EngineError;
use bollard::exec::StartExecResults;
use bollard::models as api;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, ImportImageOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder, ListImagesOptions, LogsOptionsBuilder,
    StartContainerOptions, StatsOptionsBuilder, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Action;
use super::socket_get;
use crate::capability::artifact::{self, AtomicFile};
use crate::capability::fs::{Place, io_error};
use crate::capability::read_ahead::ReadAhead;
use crate::capability::{CallState, HostState, Policy};
use crate::plugin::bindings::docker::{self, ContainerDetails, ContainerStats, ContainerSummary, ExecStatus, ImageSummary, Mount, PortBinding};
use crate::plugin::bindings::types::{Artifact, HostError, Kv};

/// Stdout kept from an exec without `stdout-to`, and the stderr tail kept always.
const EXEC_OUTPUT_LIMIT: usize = 64 * 1024;
/// The most of a container's log returned (its end), whatever `tail` asks for.
const LOGS_LIMIT: usize = 1024 * 1024;
/// Chunks read from host files for uploads.
const READ_CHUNK: usize = 256 * 1024;

impl docker::Host for HostState {
    async fn list_containers(&mut self, all: bool, label_filters: Vec<String>) -> Result<Vec<ContainerSummary>, HostError> {
        const CALL: &str = "docker.list-containers";
        let engine = self.call.engine().await?;
        let mut options = ListContainersOptionsBuilder::new().all(all);
        if !label_filters.is_empty() {
            options = options.filters(&HashMap::from([("label", label_filters)]));
        }
        let listed = engine.run("containers", engine.docker.list_containers(Some(options.build()))).await?;
        let policy = &self.call.policy;
        Ok(listed
            .into_iter()
            .map(container_summary)
            .filter(|c| covers(policy, CALL, Action::Inspect, &c.name))
            .collect())
    }

    async fn inspect_container(&mut self, name: String) -> Result<ContainerDetails, HostError> {
        self.call.docker_access("docker.inspect-container", Action::Inspect, &name)?;
        let engine = self.call.engine().await?;
        engine.inspect(&name).await.map(container_details)
    }

    async fn list_images(&mut self, reference: Option<String>) -> Result<Vec<ImageSummary>, HostError> {
        const CALL: &str = "docker.list-images";
        let pattern = match &reference {
            Some(glob) => Some(globset::Glob::new(glob).map_err(|e| HostError::Invalid(format!("reference {glob:?}: {e}")))?.compile_matcher()),
            None => None,
        };
        let engine = self.call.engine().await?;
        let listed = engine.run("images", engine.docker.list_images(None::<ListImagesOptions>)).await?;
        let policy = &self.call.policy;
        // An image is shown under the names the grant covers (and the glob
        // matches); one with no such name is left out.
        let visible = |name: &String| covers(policy, CALL, Action::Inspect, name) && pattern.as_ref().is_none_or(|p| p.is_match(name));
        Ok(listed
            .into_iter()
            .filter_map(|image| {
                let tags: Vec<String> = image.repo_tags.iter().filter(|t| t.as_str() != "<none>:<none>").cloned().collect();
                let names = if tags.is_empty() && reference.is_none() { vec![image.id.clone()] } else { tags };
                let shown: Vec<String> = names.into_iter().filter(|n| visible(n)).collect();
                if shown.is_empty() {
                    return None;
                }
                let repo_tags = shown.into_iter().filter(|n| *n != image.id).collect();
                let repo_digests = image.repo_digests.iter().filter(|d| covers(policy, CALL, Action::Inspect, d)).cloned().collect();
                Some(ImageSummary {
                    id: image.id,
                    repo_tags,
                    repo_digests,
                    size: image.size.max(0) as u64,
                    created: image.created,
                    labels: kvs(Some(image.labels)),
                })
            })
            .collect())
    }

    async fn image_registry_digest(&mut self, image: String) -> Result<Option<String>, HostError> {
        self.call.docker_access("docker.image-registry-digest", Action::Inspect, &image)?;
        let engine = self.call.engine().await?;
        let what = format!("image {image} in its registry");
        let asked = engine.within(&what, engine.docker.inspect_registry_image(&image, None)).await?;
        match asked {
            Ok(found) => Ok(found.descriptor.digest),
            Err(e) if crate::docker::unknown_to_registry(&e) => Ok(None),
            Err(e) => Err(engine_error(&what, e)),
        }
    }

    async fn save_images(&mut self, images: Vec<String>, dest_path: String) -> Result<Artifact, HostError> {
        const CALL: &str = "docker.save-images";
        if images.is_empty() {
            return Err(HostError::Invalid(format!("{CALL}: no images given")));
        }
        for image in &images {
            self.call.docker_access(CALL, Action::Save, image)?;
        }
        let dest = self.call.fs().place(CALL, &dest_path)?;
        if !self.call.execute(CALL, format!("{} -> {dest_path}", images.join(" "))) {
            return Ok(artifact::planned(&dest_path));
        }
        let engine = self.call.engine().await?;
        // Asked one by one first, so a missing image is named.
        for image in &images {
            engine.run(&format!("image {image}"), engine.docker.inspect_image(image)).await?;
        }
        let what = format!("images {}", images.join(", "));
        if let crate::docker::Endpoint::Unix(socket) = engine.endpoint.clone() {
            let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(images.iter().map(|i| ("names", i))).finish();
            let deadline = engine.deadline;
            let save = move || save_from_socket(Path::new(socket.trim_start_matches("unix://")), &format!("/images/get?{query}"), deadline, dest, &what);
            return tokio::task::spawn_blocking(save).await.map_err(|e| HostError::Failed(format!("host task failed: {e}")))?;
        }
        let names: Vec<&str> = images.iter().map(String::as_str).collect();
        let tarball = engine.docker.export_images(&names);
        engine.stream_to_file(&what, tarball, FileSink::create(dest, false)?).await
    }

    async fn load_images(&mut self, src_path: String) -> Result<Vec<String>, HostError> {
        const CALL: &str = "docker.load-images";
        let mut src = self.call.fs().open_file(CALL, &src_path)?;
        let references = {
            let (file, path) = (src.try_clone().map_err(|e| io_error(Path::new(&src_path), e))?, PathBuf::from(&src_path));
            tokio::task::spawn_blocking(move || saved_references(file, &path)).await.map_err(|e| HostError::Failed(e.to_string()))??
        };
        io::Seek::rewind(&mut src).map_err(|e| io_error(Path::new(&src_path), e))?;
        for reference in &references {
            self.call.docker_access(CALL, Action::Load, reference)?;
        }
        if !self.call.execute(CALL, format!("{src_path} ({})", references.join(" "))) {
            return Ok(references);
        }
        let engine = self.call.engine().await?;
        let file = tokio::fs::File::from_std(src);
        let chunks = futures_util::stream::unfold(file, |mut file| async move {
            let mut buf = vec![0u8; READ_CHUNK];
            match tokio::io::AsyncReadExt::read(&mut file, &mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Bytes::from(buf), file))
                }
            }
        });
        let what = format!("loading {src_path}");
        let mut progress = pin!(engine.docker.import_image_stream(ImportImageOptionsBuilder::new().quiet(true).build(), chunks, None));
        engine
            .within(&what, async {
                while let Some(step) = progress.next().await {
                    step.map_err(|e| engine_error(&what, e))?;
                }
                Ok::<_, HostError>(())
            })
            .await??;
        Ok(references)
    }

    async fn exec(&mut self, container: String, argv: Vec<String>, stdout_to: Option<String>) -> Result<ExecStatus, HostError> {
        const CALL: &str = "docker.exec";
        if argv.first().is_none_or(|a| a.is_empty()) {
            return Err(HostError::Invalid(format!("{CALL}: argv is empty")));
        }
        self.call.docker_access(CALL, Action::Exec, &container)?;
        let stdout_file = match &stdout_to {
            Some(path) => Some(self.call.fs().place(CALL, path)?),
            None => None,
        };
        let redirect = stdout_to.as_deref().map(|p| format!(" > {p}")).unwrap_or_default();
        if !self.call.execute(CALL, format!("{container}: {}{redirect}", argv.join(" "))) {
            let stdout_artifact = stdout_to.as_deref().map(artifact::planned);
            return Ok(ExecStatus { exit_code: 0, stdout_artifact, stdout: String::new(), stderr_tail: String::new() });
        }
        let engine = self.call.engine().await?;
        let stdout = match stdout_file {
            Some(path) => ExecStdout::File(FileSink::create(path, false)?),
            None => ExecStdout::Kept(Vec::new()),
        };
        engine.exec(&container, argv, None, stdout).await
    }

    async fn exec_with_input(&mut self, container: String, argv: Vec<String>, stdin_from: String) -> Result<ExecStatus, HostError> {
        const CALL: &str = "docker.exec-with-input";
        if argv.first().is_none_or(|a| a.is_empty()) {
            return Err(HostError::Invalid(format!("{CALL}: argv is empty")));
        }
        self.call.docker_access(CALL, Action::Exec, &container)?;
        let input = self.call.fs().open_file(CALL, &stdin_from)?;
        if !self.call.execute(CALL, format!("{container}: {} < {stdin_from}", argv.join(" "))) {
            return Ok(ExecStatus { exit_code: 0, stdout_artifact: None, stdout: String::new(), stderr_tail: String::new() });
        }
        let file = tokio::fs::File::from_std(input);
        let engine = self.call.engine().await?;
        engine.exec(&container, argv, Some(file), ExecStdout::Kept(Vec::new())).await
    }

    async fn stats(&mut self, container: String) -> Result<ContainerStats, HostError> {
        self.call.docker_access("docker.stats", Action::Stats, &container)?;
        let engine = self.call.engine().await?;
        let what = format!("container {container}");
        // Not one-shot: the engine takes two samples, so the CPU share can be computed.
        let options = StatsOptionsBuilder::new().stream(false).one_shot(false).build();
        let mut samples = pin!(engine.docker.stats(&container, Some(options)));
        let sample = engine.within(&what, samples.next()).await?;
        let sample = sample.ok_or_else(|| HostError::Failed(format!("{what}: the engine sent no stats")))?;
        let sample = sample.map_err(|e| engine_error(&what, e))?;
        let memory = sample.memory_stats.as_ref();
        Ok(ContainerStats {
            cpu_percent: cpu_percent(&sample),
            memory_bytes: memory.map_or(0, memory_in_use),
            memory_limit: memory.and_then(|m| m.limit).unwrap_or(0),
        })
    }

    async fn logs(&mut self, container: String, tail: u32) -> Result<String, HostError> {
        self.call.docker_access("docker.logs", Action::Logs, &container)?;
        let engine = self.call.engine().await?;
        let what = format!("container {container}");
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).tail(&tail.to_string()).build();
        let frames = engine.docker.logs(&container, Some(options));
        let collect = async {
            let mut frames = pin!(frames);
            let mut kept = Tail::new(LOGS_LIMIT);
            while let Some(frame) = frames.next().await {
                kept.push(frame.map_err(|e| engine_error(&what, e))?.as_ref());
            }
            Ok(kept.into_string())
        };
        engine.within(&what, collect).await?
    }

    async fn start(&mut self, container: String) -> Result<(), HostError> {
        const CALL: &str = "docker.start";
        self.call.docker_access(CALL, Action::Start, &container)?;
        if !self.call.execute(CALL, &container) {
            return Ok(());
        }
        let engine = self.call.engine().await?;
        let start = engine.docker.start_container(&container, None::<StartContainerOptions>);
        engine.run(&format!("container {container}"), start).await
    }

    async fn stop(&mut self, container: String, timeout_secs: u32) -> Result<(), HostError> {
        const CALL: &str = "docker.stop";
        self.call.docker_access(CALL, Action::Stop, &container)?;
        if !self.call.execute(CALL, format!("{container} (grace {timeout_secs}s)")) {
            return Ok(());
        }
        let engine = self.call.engine().await?;
        let options = StopContainerOptionsBuilder::new().t(i32::try_from(timeout_secs).unwrap_or(i32::MAX)).build();
        engine.run(&format!("container {container}"), engine.docker.stop_container(&container, Some(options))).await
    }

    async fn copy_from(&mut self, container: String, src_path: String, dest_path: String) -> Result<Artifact, HostError> {
        const CALL: &str = "docker.copy-from";
        self.call.docker_access(CALL, Action::Copy, &container)?;
        absolute_in_container(CALL, &src_path)?;
        let dest = self.call.fs().place(CALL, &dest_path)?;
        if !self.call.execute(CALL, format!("{container}:{src_path} -> {dest_path}")) {
            return Ok(artifact::planned(&dest_path));
        }
        let engine = self.call.engine().await?;
        // Asked first, so a 404 from the archive API can only mean the path.
        engine.inspect(&container).await?;
        let options = DownloadFromContainerOptionsBuilder::new().path(&src_path).build();
        let archive = engine.docker.download_from_container(&container, Some(options));
        let sink = FileSink::create(dest, dest_path.ends_with(".zst"))?;
        engine.stream_to_file(&format!("{src_path} in container {container}"), archive, sink).await
    }

    async fn copy_to(&mut self, container: String, archive_path: String, dest_dir: String) -> Result<(), HostError> {
        const CALL: &str = "docker.copy-to";
        self.call.docker_access(CALL, Action::Copy, &container)?;
        absolute_in_container(CALL, &dest_dir)?;
        let file = self.call.fs().open_file(CALL, &archive_path)?;
        let archive = PathBuf::from(&archive_path);
        if !self.call.execute(CALL, format!("{archive_path} -> {container}:{dest_dir}")) {
            return Ok(());
        }
        let engine = self.call.engine().await?;
        engine.inspect(&container).await?;
        let (body, reader) = tar_reader(file);
        let options = UploadToContainerOptionsBuilder::new().path(&dest_dir).build();
        let upload = engine.docker.upload_to_container(&container, Some(options), bollard::body_try_stream(body));
        let uploaded = engine.run(&format!("{dest_dir} in container {container}"), upload).await;
        // A read error aborts the upload; it is the better explanation.
        match engine.within(&format!("reading {archive_path}"), reader).await? {
            Ok(Err(e)) => Err(io_error(&archive, e)),
            Err(e) => Err(HostError::Failed(format!("reading {archive_path}: {e}"))),
            Ok(Ok(())) => uploaded,
        }
    }
}

impl CallState {
    /// The engine client, bounded by this call's deadline.
    async fn engine(&self) -> Result<Engine, HostError> {
        let connection = self.docker().await?;
        Ok(Engine { docker: connection.client, endpoint: connection.endpoint, deadline: self.deadline })
    }
}

/// Whether the policy allows `action` on `name`, without recording a denial:
/// listings leave out what the grant does not cover rather than failing.
fn covers(policy: &Policy, call: &str, action: Action, name: &str) -> bool {
    policy.check(call, name, "docker", String::new(), |g| g.docker.allows(action, name)).is_ok()
}

fn absolute_in_container(call: &str, path: &str) -> Result<(), HostError> {
    match path.starts_with('/') {
        true => Ok(()),
        false => Err(HostError::Invalid(format!("{call}: {path:?} must be an absolute path inside the container"))),
    }
}

/// One call's view of the engine: the client and the deadline every wait is bounded by.
struct Engine {
    docker: Docker,
    endpoint: crate::docker::Endpoint,
    deadline: Instant,
}

impl Engine {
    /// Runs `work`, or fails with `TimedOut` naming `what` when the deadline passes first.
    async fn within<T>(&self, what: &str, work: impl Future<Output = T>) -> Result<T, HostError> {
        tokio::time::timeout_at(self.deadline.into(), work)
            .await
            .map_err(|_| ran_out(what))
    }

    /// One engine request about `what` (e.g. "container shop-db"), errors mapped.
    async fn run<T>(&self, what: &str, request: impl Future<Output = Result<T, EngineError>>) -> Result<T, HostError> {
        self.within(what, request).await?.map_err(|e| engine_error(what, e))
    }

    async fn inspect(&self, container: &str) -> Result<api::ContainerInspectResponse, HostError> {
        let request = self.docker.inspect_container(container, None::<InspectContainerOptions>);
        self.run(&format!("container {container}"), request).await
    }

    /// Writes an engine byte stream (a tarball) to `sink`. The engine's part
    /// is bounded by the deadline; committing the file (fsync, rename) is not
    /// interrupted. On failure the temp file is gone when this returns.
    async fn stream_to_file(
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

    async fn exec(&self, container: &str, argv: Vec<String>, stdin: Option<tokio::fs::File>, mut stdout: ExecStdout) -> Result<ExecStatus, HostError> {
        let mut stderr = Tail::new(EXEC_OUTPUT_LIMIT);
        match self.run_exec(container, argv, stdin, &mut stdout, &mut stderr).await {
            Ok(exit_code) => {
                let (stdout, stdout_artifact) = stdout.finish().await?;
                Ok(ExecStatus { exit_code, stdout_artifact, stdout, stderr_tail: stderr.into_string() })
            }
            Err(e) => {
                stdout.abandon().await;
                Err(e)
            }
        }
    }

    /// Runs `argv` in the container, passing its output on; returns the exit code.
    async fn run_exec(&self, container: &str, argv: Vec<String>, stdin: Option<tokio::fs::File>, stdout: &mut ExecStdout, stderr: &mut Tail) -> Result<i64, HostError> {
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
    async fn exit_code(&self, what: &str, exec_id: &str) -> Result<i64, HostError> {
        loop {
            let state = self.docker.inspect_exec(exec_id).await.map_err(|e| engine_error(what, e))?;
            match (state.running, state.exit_code) {
                (Some(false), Some(code)) => return Ok(code),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

/// Maps an engine error about `what`: a 404 is `NotFound("<what> not found")`.
/// The image references in a `docker save` tarball (`RepoTags` in its manifest.json).
fn saved_references(file: std::fs::File, path: &Path) -> Result<Vec<String>, HostError> {
    #[derive(serde::Deserialize)]
    struct Saved {
        #[serde(rename = "RepoTags", default)]
        repo_tags: Option<Vec<String>>,
    }
    let mut tar = tar::Archive::new(BufReader::with_capacity(READ_CHUNK, file));
    for entry in tar.entries().map_err(|e| io_error(path, e))? {
        let entry = entry.map_err(|e| io_error(path, e))?;
        if entry.path().is_ok_and(|p| p.as_os_str() == "manifest.json") {
            let saved: Vec<Saved> = serde_json::from_reader(entry)
                .map_err(|e| HostError::Invalid(format!("{}: manifest.json is not a docker save manifest: {e}", path.display())))?;
            return Ok(saved.into_iter().flat_map(|s| s.repo_tags.unwrap_or_default()).collect());
        }
    }
    Err(HostError::Invalid(format!("{}: not a docker save tarball (no manifest.json)", path.display())))
}

fn engine_error(what: &str, error: EngineError) -> HostError {
    match error {
        EngineError::DockerResponseServerError { status_code: 404, .. } => HostError::NotFound(format!("{what} not found")),
        EngineError::DockerResponseServerError { message, .. } => HostError::Failed(format!("{what}: {}", message.trim())),
        other => HostError::Failed(format!("{what}: {}", crate::docker::causes(&other))),
    }
}

/// Where an exec's stdout goes: a host file, or memory up to the limit.
enum ExecStdout {
    File(FileSink),
    Kept(Vec<u8>),
}

impl ExecStdout {
    async fn push(&mut self, data: Bytes) -> Result<(), HostError> {
        match self {
            ExecStdout::File(sink) => sink.write(data).await,
            ExecStdout::Kept(kept) => {
                let room = EXEC_OUTPUT_LIMIT.saturating_sub(kept.len()).min(data.len());
                kept.extend_from_slice(&data[..room]);
                Ok(())
            }
        }
    }

    async fn finish(self) -> Result<(String, Option<Artifact>), HostError> {
        match self {
            ExecStdout::File(sink) => Ok((String::new(), Some(sink.finish().await?))),
            ExecStdout::Kept(kept) => Ok((String::from_utf8_lossy(&kept).into_owned(), None)),
        }
    }

    async fn abandon(self) {
        if let ExecStdout::File(sink) = self {
            sink.abandon().await;
        }
    }
}

/// The last `limit` bytes pushed.
struct Tail {
    bytes: Vec<u8>,
    limit: usize,
}

impl Tail {
    fn new(limit: usize) -> Tail {
        Tail { bytes: Vec::new(), limit }
    }

    fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        // Trimmed in batches, not on every push.
        if self.bytes.len() > 2 * self.limit {
            self.bytes.drain(..self.bytes.len() - self.limit);
        }
    }

    fn into_string(self) -> String {
        let start = self.bytes.len().saturating_sub(self.limit);
        String::from_utf8_lossy(&self.bytes[start..]).into_owned()
    }
}

enum Chunk {
    /// The engine's chunks as they came, gathered but not copied.
    Data(Vec<Bytes>),
    /// Everything was sent: commit the file.
    End,
}

fn ran_out(what: &str) -> HostError {
    HostError::TimedOut(format!("{what}: the engine had not finished when the plugin call's time ran out"))
}

/// `docker save` read straight off the local engine's socket into `dest`
/// on this (blocking) thread; see [`socket_get`].
fn save_from_socket(socket: &Path, request: &str, deadline: Instant, dest: Place, what: &str) -> Result<Artifact, HostError> {
    let failed = |e: io::Error| match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ran_out(what),
        _ => HostError::Failed(format!("{what}: {e}")),
    };
    let body = match socket_get::get(socket, request, deadline).map_err(failed)? {
        Ok(body) => body,
        Err(refused) if refused.status == 404 => return Err(HostError::NotFound(format!("{what} not found"))),
        Err(refused) => return Err(HostError::Failed(format!("{what}: {}", refused.message))),
    };
    // The socket is read on a thread of its own while this one hashes and
    // writes: read in between the hashing, the engine would stall on a full
    // socket buffer.
    let mut body = ReadAhead::spawn(body, 1 << 20);
    // Dropped unfinished (an error), the temp file is removed.
    let path = dest.shown.clone();
    let mut out = FileOut::create(dest.create()?, false).map_err(|e| io_error(&path, e))?;
    let dest = &path;
    let mut buffer = vec![0; 1 << 20];
    loop {
        match body.read(&mut buffer).map_err(failed)? {
            0 => return out.finish().map_err(|e| io_error(dest, e)),
            read => out.write_all(&buffer[..read]).map_err(|e| io_error(dest, e))?,
        }
    }
}

/// A host file written from async code: chunks go over a channel to a
/// blocking thread that writes them (zstd-compressed if asked) to an
/// [`AtomicFile`]. Only [`finish`](Self::finish) commits it; dropped before
/// (an error, a timeout), the temp file is removed.
struct FileSink {
    path: PathBuf,
    chunks: mpsc::Sender<Chunk>,
    writer: JoinHandle<io::Result<Option<Artifact>>>,
    /// Chunks gathered into one send: the engine's stream arrives in pieces
    /// of a few KiB to a few hundred, and each send wakes the writer thread.
    pending: Vec<Bytes>,
    pending_bytes: usize,
}

/// What [`FileSink`] gathers before waking its writer.
const SEND_BATCH: usize = 1 << 20;

impl FileSink {
    /// Creates the temp file at once (so a bad destination fails before any
    /// work starts) and the thread that fills it.
    fn create(place: Place, zstd: bool) -> Result<FileSink, HostError> {
        let path = place.shown.clone();
        let mut out = FileOut::create(place.create()?, zstd).map_err(|e| io_error(&path, e))?;
        let (chunks, mut received) = mpsc::channel::<Chunk>(16);
        let writer = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = received.blocking_recv() {
                match chunk {
                    Chunk::Data(batch) => batch.iter().try_for_each(|data| out.write_all(data))?,
                    Chunk::End => return out.finish().map(Some),
                }
            }
            Ok(None)
        });
        Ok(FileSink { path, chunks, writer, pending: Vec::new(), pending_bytes: 0 })
    }

    async fn write(&mut self, data: Bytes) -> Result<(), HostError> {
        self.pending_bytes += data.len();
        self.pending.push(data);
        match self.pending_bytes >= SEND_BATCH {
            true => self.send_pending().await,
            false => Ok(()),
        }
    }

    async fn send_pending(&mut self) -> Result<(), HostError> {
        self.pending_bytes = 0;
        if self.chunks.send(Chunk::Data(std::mem::take(&mut self.pending))).await.is_err() {
            // The writer stopped early: its result says why.
            return Err(self.writer_failure().await);
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<Artifact, HostError> {
        if !self.pending.is_empty() {
            self.send_pending().await?;
        }
        if self.chunks.send(Chunk::End).await.is_err() {
            return Err(self.writer_failure().await);
        }
        match (&mut self.writer).await {
            Ok(Ok(Some(artifact))) => Ok(artifact),
            Ok(Ok(None)) => Err(HostError::Failed(format!("{}: the writer stopped before the end", self.path.display()))),
            Ok(Err(e)) => Err(io_error(&self.path, e)),
            Err(e) => Err(HostError::Failed(format!("{}: writer task failed: {e}", self.path.display()))),
        }
    }

    /// Gives the file up and waits until its temp file is removed.
    async fn abandon(self) {
        drop(self.chunks);
        let _ = self.writer.await;
    }

    async fn writer_failure(&mut self) -> HostError {
        match (&mut self.writer).await {
            Ok(Err(e)) => io_error(&self.path, e),
            Ok(Ok(_)) => HostError::Failed(format!("{}: the writer stopped early", self.path.display())),
            Err(e) => HostError::Failed(format!("{}: writer task failed: {e}", self.path.display())),
        }
    }
}

/// The compression layer in front of the atomic file.
enum FileOut {
    Plain(BufWriter<AtomicFile>),
    Zstd(zstd::Encoder<'static, AtomicFile>),
}

impl FileOut {
    fn create(file: AtomicFile, zstd: bool) -> io::Result<FileOut> {
        if !zstd {
            return Ok(FileOut::Plain(BufWriter::with_capacity(1 << 20, file)));
        }
        let mut encoder = zstd::Encoder::new(file, zstd::DEFAULT_COMPRESSION_LEVEL)?;
        encoder.multithread(std::thread::available_parallelism().map_or(1, |n| n.get() as u32))?;
        Ok(FileOut::Zstd(encoder))
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            FileOut::Plain(w) => w.write_all(data),
            FileOut::Zstd(w) => w.write_all(data),
        }
    }

    fn finish(self) -> io::Result<Artifact> {
        match self {
            FileOut::Plain(w) => w.into_inner().map_err(|e| e.into_error())?.finish(),
            FileOut::Zstd(w) => w.finish()?.finish(),
        }
    }
}

/// Reads a host tar file as a stream of chunks on a blocking thread, decoding
/// zstd (recognised by its magic bytes; the engine itself takes plain, gzip,
/// bzip2 and xz tars). A read error ends the stream with an error, which
/// aborts the upload, and is also the reader task's result.
fn tar_reader(file: std::fs::File) -> (impl Stream<Item = io::Result<Bytes>> + Send + 'static, JoinHandle<io::Result<()>>) {
    let (chunks, mut received) = mpsc::channel::<io::Result<Bytes>>(16);
    let reader = tokio::task::spawn_blocking(move || {
        let result = (|| -> io::Result<()> {
            let mut input = decoded(file)?;
            loop {
                let mut buf = vec![0u8; READ_CHUNK];
                let n = input.read(&mut buf)?;
                buf.truncate(n);
                // A closed channel means the upload gave up; its error is reported.
                if n == 0 || chunks.blocking_send(Ok(buf.into())).is_err() {
                    return Ok(());
                }
            }
        })();
        if let Err(e) = &result {
            let _ = chunks.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
        }
        result
    });
    (futures_util::stream::poll_fn(move |cx| received.poll_recv(cx)), reader)
}

fn decoded(file: std::fs::File) -> io::Result<Box<dyn Read + Send>> {
    let mut input = BufReader::with_capacity(1 << 20, file);
    let zstd = input.fill_buf()?.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    Ok(if zstd { Box::new(zstd::Decoder::with_buffer(input)?) } else { Box::new(input) })
}

fn kvs(map: Option<HashMap<String, String>>) -> Vec<Kv> {
    let mut out: Vec<Kv> = map.unwrap_or_default().into_iter().map(|(key, value)| Kv { key, value }).collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// A container's own name: the listed one without a `/` inside (the others are link aliases).
fn primary_name(names: Option<Vec<String>>) -> String {
    let names = names.unwrap_or_default();
    let trimmed = || names.iter().map(|n| n.trim_start_matches('/'));
    trimmed().find(|n| !n.contains('/')).or_else(|| trimmed().next()).unwrap_or_default().to_string()
}

fn container_summary(c: api::ContainerSummary) -> ContainerSummary {
    ContainerSummary {
        id: c.id.unwrap_or_default(),
        name: primary_name(c.names),
        image: c.image.unwrap_or_default(),
        image_id: c.image_id.unwrap_or_default(),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        status: c.status.unwrap_or_default(),
        labels: kvs(c.labels),
        created: c.created.unwrap_or_default(),
    }
}

fn container_details(c: api::ContainerInspectResponse) -> ContainerDetails {
    let state = c.state.unwrap_or_default();
    let config = c.config.unwrap_or_default();
    let network = c.network_settings.unwrap_or_default();
    let health = state.health.and_then(|h| h.status).map(|s| s.to_string()).filter(|s| !s.is_empty() && s != "none");
    // The engine's zero time means "never started".
    let started_at = state.started_at.filter(|t| !t.starts_with("0001-")).unwrap_or_default();
    let mut networks: Vec<String> = network.networks.unwrap_or_default().into_keys().collect();
    networks.sort();
    ContainerDetails {
        id: c.id.unwrap_or_default(),
        name: c.name.unwrap_or_default().trim_start_matches('/').to_string(),
        image: config.image.unwrap_or_default(),
        image_id: c.image.unwrap_or_default(),
        status: state.status.map(|s| s.to_string()).unwrap_or_default(),
        running: state.running.unwrap_or(false),
        health,
        exit_code: state.exit_code.unwrap_or_default(),
        restart_count: c.restart_count.unwrap_or_default().clamp(0, u32::MAX.into()) as u32,
        started_at,
        labels: kvs(config.labels),
        env: config.env.unwrap_or_default(),
        mounts: c.mounts.unwrap_or_default().into_iter().map(mount).collect(),
        ports: port_bindings(network.ports.unwrap_or_default()),
        networks,
    }
}

fn mount(m: api::MountPoint) -> Mount {
    let kind = m.typ.map(|t| t.to_string()).unwrap_or_default();
    // A volume is named by its name; anything else by its host path.
    let source = match (kind.as_str(), m.name) {
        ("volume", Some(name)) => name,
        _ => m.source.unwrap_or_default(),
    };
    Mount { kind, source, destination: m.destination.unwrap_or_default(), read_only: !m.rw.unwrap_or(true) }
}

/// Published ports from the engine's `"80/tcp": [{HostIp, HostPort}]` map.
fn port_bindings(ports: api::PortMap) -> Vec<PortBinding> {
    let mut out: Vec<PortBinding> = ports
        .into_iter()
        .flat_map(|(key, bindings)| {
            let (port, protocol) = key.split_once('/').unwrap_or((&key, "tcp"));
            let container_port = port.parse().unwrap_or(0);
            let protocol = protocol.to_string();
            bindings.unwrap_or_default().into_iter().map(move |b| PortBinding {
                container_port,
                protocol: protocol.clone(),
                host_ip: b.host_ip.unwrap_or_default(),
                host_port: b.host_port.and_then(|p| p.parse().ok()).unwrap_or(0),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.container_port, &a.protocol, &a.host_ip).cmp(&(b.container_port, &b.protocol, &b.host_ip)));
    out
}

/// CPU use over the engine's two samples, as `docker stats` computes it (100% = one CPU).
fn cpu_percent(sample: &api::ContainerStatsResponse) -> f64 {
    let (Some(now), Some(before)) = (&sample.cpu_stats, &sample.precpu_stats) else {
        return 0.0;
    };
    let total = |s: &api::ContainerCpuStats| s.cpu_usage.as_ref().and_then(|u| u.total_usage).unwrap_or(0);
    let cpu_delta = total(now).saturating_sub(total(before)) as f64;
    let system_delta = now.system_cpu_usage.unwrap_or(0).saturating_sub(before.system_cpu_usage.unwrap_or(0)) as f64;
    let per_cpu = now.cpu_usage.as_ref().and_then(|u| u.percpu_usage.as_ref()).map(|p| p.len() as u32);
    let cpus = now.online_cpus.or(per_cpu).unwrap_or(1);
    if cpu_delta > 0.0 && system_delta > 0.0 { cpu_delta / system_delta * f64::from(cpus) * 100.0 } else { 0.0 }
}

/// Memory in use without the reclaimable page cache, as `docker stats` shows it.
fn memory_in_use(memory: &api::ContainerMemoryStats) -> u64 {
    let usage = memory.usage.unwrap_or(0);
    let stats = memory.stats.as_ref();
    // cgroup v1 reports total_inactive_file, v2 inactive_file.
    let cache = stats.and_then(|s| s.get("total_inactive_file").or_else(|| s.get("inactive_file"))).copied().unwrap_or(0);
    usage.saturating_sub(cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end() {
        let mut tail = Tail::new(4);
        for chunk in [&b"abc"[..], b"defgh", b"ij"] {
            tail.push(chunk);
        }
        assert_eq!(tail.into_string(), "ghij");
    }

    #[test]
    fn published_ports_are_flattened_and_sorted() {
        let binding = |ip: &str, port: &str| api::PortBinding { host_ip: Some(ip.into()), host_port: Some(port.into()) };
        let ports = api::PortMap::from([
            ("8080/tcp".to_string(), Some(vec![binding("0.0.0.0", "18080"), binding("::", "18080")])),
            ("53/udp".to_string(), Some(vec![binding("127.0.0.1", "5353")])),
            ("9000/tcp".to_string(), None),
        ]);
        let out = port_bindings(ports);
        let flat: Vec<_> = out.iter().map(|p| format!("{}:{}->{}/{}", p.host_ip, p.host_port, p.container_port, p.protocol)).collect();
        assert_eq!(flat, ["127.0.0.1:5353->53/udp", "0.0.0.0:18080->8080/tcp", ":::18080->8080/tcp"]);
    }

    #[test]
    fn link_aliases_are_not_names() {
        assert_eq!(primary_name(Some(vec!["/web/db".into(), "/db".into()])), "db");
        assert_eq!(primary_name(None), "");
    }

    #[test]
    fn a_missing_container_is_not_found() {
        let server = |status_code, message: &str| EngineError::DockerResponseServerError { status_code, message: message.into() };
        assert!(matches!(engine_error("container x", server(404, "No such container: x")), HostError::NotFound(m) if m == "container x not found"));
    }
}
