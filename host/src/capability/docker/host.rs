//! The docker calls themselves. Each checks its grant first; mutating ones are
//! recorded instead of run in a dry run; every wait on the engine is bounded
//! by the plugin call's deadline. Bulk bytes (image tarballs, archives, dumps)
//! stream between the engine and host files on blocking threads and never
//! reach the plugin.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::pin;

use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, ImportImageOptionsBuilder, ListContainersOptionsBuilder, ListImagesOptions, LogsOptionsBuilder,
    StartContainerOptions, StatsOptionsBuilder, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::StreamExt;

use super::Action;
use super::call_engine::{CallEngine, engine_error};
use super::convert::{container_details, container_summary, cpu_percent, from_seconds, kvs, memory_in_use};
use super::exec_output::ExecStdout;
use super::file_sink::FileSink;
use super::saved::{save_from_socket, saved_references};
use super::tar_reader::{READ_CHUNK, tar_reader};
use crate::capability::artifact;
use crate::capability::fs::{Locator, io_error};
use crate::capability::tail::Tail;
use super::DockerView;
use crate::capability::Policy;
use crate::bindings::docker::{self, ContainerDetails, ContainerStats, ContainerSummary, ExecStatus, ImageSummary};
use crate::bindings::types::{Artifact, Digest, ExitStatus, HostError};

/// The most of a container's log returned (its end), whatever `tail` asks for.
const LOGS_LIMIT: usize = 1024 * 1024;

impl docker::Host for DockerView<'_> {
    async fn list_containers(&mut self, all: bool, label_filters: Vec<String>) -> Result<Vec<ContainerSummary>, HostError> {
        const CALL: &str = "docker.list-containers";
        let engine = self.engine().await?;
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
        const CALL: &str = "docker.inspect-container";
        self.docker_access(CALL, Action::Inspect, &name)?;
        let engine = self.engine().await?;
        let mut details = engine.inspect(&name).await.map(container_details)?;
        // Env values are often passwords (an env_files secret): only an
        // explicit `inspect-env` shows them; otherwise `KEY=` per entry.
        if !covers(&self.call.policy, CALL, Action::InspectEnv, &name) {
            for entry in &mut details.env {
                entry.truncate(entry.find('=').map_or(entry.len(), |at| at + 1));
            }
        }
        Ok(details)
    }

    async fn list_images(&mut self, reference: Option<String>) -> Result<Vec<ImageSummary>, HostError> {
        const CALL: &str = "docker.list-images";
        let pattern = match &reference {
            Some(glob) => Some(globset::Glob::new(glob).map_err(|e| HostError::Invalid(format!("reference {glob:?}: {e}")))?.compile_matcher()),
            None => None,
        };
        let engine = self.engine().await?;
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
                    created: from_seconds(image.created),
                    labels: kvs(Some(image.labels)),
                })
            })
            .collect())
    }

    async fn image_registry_digest(&mut self, image: String) -> Result<Option<Digest>, HostError> {
        self.docker_access("docker.image-registry-digest", Action::Inspect, &image)?;
        let engine = self.engine().await?;
        let what = format!("image {image} in its registry");
        let asked = engine.within(&what, engine.docker.inspect_registry_image(&image, None)).await?;
        match asked {
            Ok(found) => Ok(found.descriptor.digest.map(|reference| match reference.split_once(':') {
                Some((algorithm, hex)) => Digest { algorithm: algorithm.into(), hex: hex.into() },
                None => Digest::sha256(reference),
            })),
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
            self.docker_access(CALL, Action::Save, image)?;
        }
        let dest = Locator::of(self.call).place(CALL, &dest_path)?;
        if !self.call.execute(CALL, format!("{} -> {dest_path}", images.join(" "))) {
            return Ok(artifact::planned(&dest_path));
        }
        let engine = self.engine().await?;
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
        let mut src = Locator::of(self.call).open_file(CALL, &src_path)?;
        let references = {
            let (file, path) = (src.try_clone().map_err(|e| io_error(Path::new(&src_path), e))?, PathBuf::from(&src_path));
            tokio::task::spawn_blocking(move || saved_references(file, &path)).await.map_err(|e| HostError::Failed(e.to_string()))??
        };
        io::Seek::rewind(&mut src).map_err(|e| io_error(Path::new(&src_path), e))?;
        for reference in &references {
            self.docker_access(CALL, Action::Load, reference)?;
        }
        if !self.call.execute(CALL, format!("{src_path} ({})", references.join(" "))) {
            return Ok(references);
        }
        let engine = self.engine().await?;
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
        self.docker_access(CALL, Action::Exec, &container)?;
        let stdout_file = match &stdout_to {
            Some(path) => Some(Locator::of(self.call).place(CALL, path)?),
            None => None,
        };
        let redirect = stdout_to.as_deref().map(|p| format!(" > {p}")).unwrap_or_default();
        if !self.call.execute(CALL, format!("{container}: {}{redirect}", argv.join(" "))) {
            let stdout_artifact = stdout_to.as_deref().map(artifact::planned);
            return Ok(ExecStatus { status: ExitStatus::Code(0), stdout_artifact, stdout: String::new(), stderr_tail: String::new() });
        }
        let engine = self.engine().await?;
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
        self.docker_access(CALL, Action::Exec, &container)?;
        let input = Locator::of(self.call).open_file(CALL, &stdin_from)?;
        if !self.call.execute(CALL, format!("{container}: {} < {stdin_from}", argv.join(" "))) {
            return Ok(ExecStatus { status: ExitStatus::Code(0), stdout_artifact: None, stdout: String::new(), stderr_tail: String::new() });
        }
        let file = tokio::fs::File::from_std(input);
        let engine = self.engine().await?;
        engine.exec(&container, argv, Some(file), ExecStdout::Kept(Vec::new())).await
    }

    async fn stats(&mut self, container: String) -> Result<ContainerStats, HostError> {
        self.docker_access("docker.stats", Action::Stats, &container)?;
        let engine = self.engine().await?;
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
        self.docker_access("docker.logs", Action::Logs, &container)?;
        let engine = self.engine().await?;
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
        self.docker_access(CALL, Action::Start, &container)?;
        if !self.call.execute(CALL, &container) {
            return Ok(());
        }
        let engine = self.engine().await?;
        let start = engine.docker.start_container(&container, None::<StartContainerOptions>);
        engine.run(&format!("container {container}"), start).await
    }

    async fn stop(&mut self, container: String, timeout_secs: u32) -> Result<(), HostError> {
        const CALL: &str = "docker.stop";
        self.docker_access(CALL, Action::Stop, &container)?;
        if !self.call.execute(CALL, format!("{container} (grace {timeout_secs}s)")) {
            return Ok(());
        }
        let engine = self.engine().await?;
        let options = StopContainerOptionsBuilder::new().t(i32::try_from(timeout_secs).unwrap_or(i32::MAX)).build();
        engine.run(&format!("container {container}"), engine.docker.stop_container(&container, Some(options))).await
    }

    async fn copy_from(&mut self, container: String, src_path: String, dest_path: String) -> Result<Artifact, HostError> {
        const CALL: &str = "docker.copy-from";
        self.docker_access(CALL, Action::Copy, &container)?;
        absolute_in_container(CALL, &src_path)?;
        let dest = Locator::of(self.call).place(CALL, &dest_path)?;
        if !self.call.execute(CALL, format!("{container}:{src_path} -> {dest_path}")) {
            return Ok(artifact::planned(&dest_path));
        }
        let engine = self.engine().await?;
        // Asked first, so a 404 from the archive API can only mean the path.
        engine.inspect(&container).await?;
        let options = DownloadFromContainerOptionsBuilder::new().path(&src_path).build();
        let archive = engine.docker.download_from_container(&container, Some(options));
        let sink = FileSink::create(dest, dest_path.ends_with(".zst"))?;
        engine.stream_to_file(&format!("{src_path} in container {container}"), archive, sink).await
    }

    async fn copy_to(&mut self, container: String, archive_path: String, dest_dir: String) -> Result<(), HostError> {
        const CALL: &str = "docker.copy-to";
        self.docker_access(CALL, Action::Copy, &container)?;
        absolute_in_container(CALL, &dest_dir)?;
        let file = Locator::of(self.call).open_file(CALL, &archive_path)?;
        let archive = PathBuf::from(&archive_path);
        if !self.call.execute(CALL, format!("{archive_path} -> {container}:{dest_dir}")) {
            return Ok(());
        }
        let engine = self.engine().await?;
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

impl DockerView<'_> {
    /// The engine client, bounded by this call's deadline.
    async fn engine(&self) -> Result<CallEngine, HostError> {
        let connection = self.docker().await?;
        Ok(CallEngine { docker: connection.client, endpoint: connection.endpoint, deadline: self.call.deadline })
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
}
