//! The docker capability against the real engine: grants, dry runs, deadlines
//! and the bytes it streams to and from host files. Needs a reachable Docker
//! engine (fails, never skips, without one); builds its own test image.

use crate::support;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun::capability::docker::DockerView;
use bosun::capability::{CallScope, GrantSpec, HostServices, PlannedCall, Policy};
use bosun::bindings::docker::Host as _;
use bosun::bindings::docker::{ContainerState, Health};
use bosun::bindings::types::{Artifact, ExitStatus, HostError};
use support::{ContainerGuard, run_test_container, test_image, unique};

const PLUGIN: &str = "test-plugin";

/// One plugin call's scope and the runtime's services, as the docker
/// capability sees them.
struct Call {
    call: CallScope,
    services: HostServices,
}

impl Call {
    fn docker(&mut self) -> DockerView<'_> {
        DockerView::new(&mut self.call, &self.services)
    }
}

/// A fresh call of a plugin whose manifest asks for every docker action and
/// any path, and whose operator granted `docker` and `fs`.
fn host(docker: &[&str], fs: &[&str], dry_run: bool) -> Call {
    host_with_deadline(docker, fs, dry_run, Duration::from_secs(120))
}

fn host_with_deadline(docker: &[&str], fs: &[&str], dry_run: bool, budget: Duration) -> Call {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    let requested = GrantSpec { docker: vec!["*:*".into()], fs: vec!["rw:*".into()], ..Default::default() };
    let granted = GrantSpec { docker: strings(docker), fs: strings(fs), ..Default::default() };
    let policy = Arc::new(Policy::new(PLUGIN, &requested, &granted).expect("valid grants"));
    Call { call: CallScope::new(PLUGIN, policy, dry_run, Instant::now() + budget), services: HostServices::default() }
}

/// A started test container named `<prefix>-<pid>`.
fn container(prefix: &str, labels: &[&str], extra: &[&str]) -> ContainerGuard {
    run_test_container(&unique(prefix), labels, extra)
}

fn cli_inspect(container: &str, format: &str) -> String {
    let out = support::docker(&["inspect", "--format", format, container]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn assert_artifact_matches_file(artifact: &Artifact, path: &Path) {
    assert_eq!(artifact.path, path_str(path));
    assert_eq!(artifact.size, std::fs::metadata(path).unwrap().len());
    assert_eq!((artifact.digest.algorithm.as_str(), artifact.digest.hex.as_str()), ("sha256", &* bosun::capability::artifact::sha256_file(path).unwrap()));
}

fn tar_entries(reader: impl Read) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(reader);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents).unwrap();
            (name, contents)
        })
        .collect()
}

fn file_in_tar(entries: &[(String, Vec<u8>)], name: &str) -> String {
    let (_, contents) = entries.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} not in {entries:?}"));
    String::from_utf8(contents.clone()).unwrap()
}

#[tokio::test]
async fn connecting_negotiates_the_api_and_reports_the_engine_version() {
    support::require_engine();
    let expected = support::docker(&["version", "--format", "{{.Server.Version}}"]);
    let expected = String::from_utf8_lossy(&expected.stdout).trim().to_string();
    let opened = bosun::docker::open().await.expect("open the engine");
    assert_eq!(bosun::docker::ping(&opened).await.unwrap(), expected);
    // A request that needs the agreed API version, not only /version.
    opened.list_containers(None::<bollard::query_parameters::ListContainersOptions>).await.expect("list containers");
}

#[tokio::test]
async fn list_and_inspect_show_only_granted_containers() {
    let case = format!("bosun.test.case=list-{}", std::process::id());
    let shown = container(
        "bosun-test-list",
        &[&case, "com.example.role=web"],
        &["--env", "VERSION=1.2.3", "--publish", "127.0.0.1::8080"],
    );
    let hidden = container("bosun-test-hidden", &[&case], &[]);
    let mut state = host(&["inspect:bosun-test-list-*"], &[], false);

    let listed = state.docker().list_containers(false, vec![case.clone()]).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, [shown.name.as_str()], "{hidden:?} is outside the grant", hidden = hidden.name);
    let summary = &listed[0];
    assert_eq!(summary.image, test_image());
    assert_eq!(summary.state, ContainerState::Running);
    assert!(summary.labels.iter().any(|kv| kv.key == "com.example.role" && kv.value == "web"));
    let now_ms = jiff::Timestamp::now().as_millisecond();
    assert!((now_ms - 120_000..=now_ms).contains(&summary.created), "created {} ms, now {now_ms}", summary.created);
    assert!(state.call.denials.lock().unwrap().is_empty(), "leaving items out records no denial");

    let details = state.docker().inspect_container(shown.name.clone()).await.unwrap();
    assert_eq!(details.name, shown.name);
    assert_eq!(details.id, summary.id);
    assert_eq!(details.image, test_image());
    assert!(details.image_id.starts_with("sha256:"), "{}", details.image_id);
    assert_eq!((details.state, details.running), (ContainerState::Running, true));
    assert!(matches!(details.health, Some(Health::Starting | Health::Healthy)), "{:?}", details.health);
    assert!(details.started_at.is_some_and(|started| started >= summary.created && started <= now_ms + 1000), "{:?}", details.started_at);
    assert!(details.env.contains(&"VERSION=".to_string()), "values only with inspect-env: {:?}", details.env);
    assert!(details.labels.iter().any(|kv| kv.key == support::TEST_LABEL));
    assert_eq!(details.networks, ["bridge"]);
    let port = details.ports.iter().find(|p| p.container_port == 8080).expect("published 8080");
    assert_eq!((port.protocol.as_str(), port.host_ip.as_str()), ("tcp", "127.0.0.1"));
    assert_ne!(port.host_port, 0);

    let missing = state.docker().inspect_container("bosun-test-list-missing".into()).await.unwrap_err();
    assert!(matches!(&missing, HostError::NotFound(m) if m == "container bosun-test-list-missing not found"), "{missing:?}");
}

#[tokio::test]
async fn inspect_outside_the_grant_is_denied_naming_the_grant_line() {
    let mut state = host(&["inspect:shop-*"], &[], false);
    let err = state.docker().inspect_container("bosun-test-other".into()).await.unwrap_err();
    let HostError::Denied(message) = err else { panic!("expected a denial, got {err:?}") };
    assert!(message.contains("plugin test-plugin denied docker.inspect-container bosun-test-other"), "{message}");
    assert!(message.contains(r#"[plugins.test-plugin.grant] docker = ["inspect:bosun-test-other"]"#), "{message}");
    assert_eq!(state.call.denials.lock().unwrap().len(), 1, "the denial is remembered as the typed cause");
}

#[tokio::test]
async fn list_images_by_reference_glob_within_the_grant() {
    let image = test_image();
    let mut state = host(&["inspect:bosun-test/*"], &[], false);
    let all = state.docker().list_images(None).await.unwrap();
    let ours = all.iter().find(|i| i.repo_tags.contains(&image)).unwrap_or_else(|| panic!("{image} not in {all:?}"));
    assert!(ours.id.starts_with("sha256:") && ours.size > 0 && ours.created > 0);
    assert!(ours.labels.iter().any(|kv| kv.key == support::TEST_LABEL));
    assert!(all.iter().flat_map(|i| &i.repo_tags).all(|t| t.starts_with("bosun-test/")), "only granted names: {all:?}");

    let globbed = state.docker().list_images(Some("bosun-test/testsrv:*".into())).await.unwrap();
    assert!(globbed.iter().any(|i| i.repo_tags.contains(&image)));
    assert!(state.docker().list_images(Some("registry.example/*".into())).await.unwrap().is_empty());

    let mut ungranted = host(&["inspect:shop-*"], &[], false);
    assert!(!ungranted.docker().list_images(None).await.unwrap().iter().any(|i| i.repo_tags.contains(&image)));
}

#[tokio::test]
async fn exec_keeps_output_or_streams_stdout_to_a_file() {
    let c = container("bosun-test-exec", &[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let grant_dir = format!("rw:{}", dir.path().display());
    let mut state = host(&[&format!("exec:{}", c.name)], &[&grant_dir], false);
    let argv = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let echoed = state.docker().exec(c.name.clone(), argv(&["/testsrv", "echo", "hello", "world"]), None).await.unwrap();
    assert_eq!((echoed.status, echoed.stdout.as_str(), echoed.stderr_tail.as_str()), (ExitStatus::Code(0), "hello world\n", ""));
    assert!(echoed.stdout_artifact.is_none());

    let failed = state.docker().exec(c.name.clone(), argv(&["/testsrv", "fail", "3", "disk", "full"]), None).await.unwrap();
    assert_eq!((failed.status, failed.stderr_tail.as_str()), (ExitStatus::Code(3), "disk full\n"));

    let missing = state.docker().exec(c.name.clone(), argv(&["/nope"]), None).await.unwrap();
    // The engine reports a command it cannot start on the exec's stdout.
    assert_eq!(missing.status, ExitStatus::Code(126), "{missing:?}");
    assert!(missing.stdout.contains("/nope: no such file or directory"), "{missing:?}");

    let big = state.docker().exec(c.name.clone(), argv(&["/testsrv", "gen", "200000"]), None).await.unwrap();
    assert_eq!(big.stdout.len(), 64 * 1024, "stdout is kept up to 64 KiB");

    let dump = dir.path().join("dump.txt");
    let to_file = state.docker().exec(c.name.clone(), argv(&["/testsrv", "cat", "/data/hello.txt"]), Some(path_str(&dump))).await.unwrap();
    assert_eq!((to_file.status, to_file.stdout.as_str()), (ExitStatus::Code(0), ""));
    assert_artifact_matches_file(to_file.stdout_artifact.as_ref().unwrap(), &dump);
    assert_eq!(std::fs::read_to_string(&dump).unwrap(), "hello from the image\n");

    let large = dir.path().join("large.bin");
    let streamed = state.docker().exec(c.name.clone(), argv(&["/testsrv", "gen", "3000000"]), Some(path_str(&large))).await.unwrap();
    let artifact = streamed.stdout_artifact.unwrap();
    assert_eq!(artifact.size, 3_000_000);
    assert_artifact_matches_file(&artifact, &large);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no temp files left: {leftovers:?}");

    let outside = state.docker().exec(c.name.clone(), argv(&["/testsrv", "echo"]), Some("/etc/bosun-dump.txt".into())).await.unwrap_err();
    assert!(matches!(&outside, HostError::Denied(m) if m.contains("rw:/etc")), "{outside:?}");
    let empty = state.docker().exec(c.name.clone(), vec![], None).await.unwrap_err();
    assert!(matches!(empty, HostError::Invalid(_)));
}

#[tokio::test]
async fn exec_waits_no_longer_than_the_call_deadline() {
    let c = container("bosun-test-deadline", &[], &[]);
    let mut state = host_with_deadline(&[&format!("exec:{}", c.name)], &[], false, Duration::from_secs(2));
    let started = Instant::now();
    let argv = vec!["/testsrv".to_string(), "sleep".into(), "30".into()];
    let err = state.docker().exec(c.name.clone(), argv, None).await.unwrap_err();
    assert!(matches!(&err, HostError::TimedOut(m) if m.contains("still running")), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn logs_return_the_last_lines() {
    // No healthcheck: its probes would be logged too.
    let c = container("bosun-test-logs", &[], &["--no-healthcheck"]);
    let mut state = host(&[&format!("logs:{}", c.name)], &[], false);
    support::wait_ready(&c.name);
    // Each probe is a request the server logs on stdout.
    for _ in 0..2 {
        support::docker(&["exec", &c.name, "/testsrv", "probe"]);
    }
    let all = state.docker().logs(c.name.clone(), 100).await.unwrap();
    assert!(all.starts_with("testsrv dev listening on 0.0.0.0:8080\n"), "{all:?}");
    assert_eq!(all.matches("GET /health HTTP/1.0").count(), 3, "the readiness probe and two more: {all:?}");
    assert_eq!(state.docker().logs(c.name.clone(), 1).await.unwrap(), "GET /health HTTP/1.0\n");

    let denied = state.docker().logs("bosun-test-elsewhere".into(), 1).await.unwrap_err();
    assert!(matches!(denied, HostError::Denied(_)));
}

#[tokio::test]
async fn stop_and_start_a_container() {
    let c = container("bosun-test-stop", &[], &[]);
    let mut state = host(&[&format!("stop,start,inspect:{}*", c.name)], &[], false);

    state.docker().stop(c.name.clone(), 10).await.unwrap();
    let stopped = state.docker().inspect_container(c.name.clone()).await.unwrap();
    assert_eq!((stopped.state, stopped.running, stopped.exit_code), (ContainerState::Exited, false, 0));

    state.docker().start(c.name.clone()).await.unwrap();
    assert!(state.docker().inspect_container(c.name.clone()).await.unwrap().running);
    state.docker().start(c.name.clone()).await.expect("starting a running container is not an error");

    let missing = state.docker().stop(format!("{}-missing", c.name), 1).await.unwrap_err();
    assert!(matches!(&missing, HostError::NotFound(m) if m.ends_with("-missing not found")), "{missing:?}");
}

#[tokio::test]
async fn stats_sample_a_running_container() {
    let c = container("bosun-test-stats", &[], &[]);
    let mut state = host(&[&format!("stats:{}", c.name)], &[], false);
    let stats = state.docker().stats(c.name.clone()).await.unwrap();
    assert!(stats.memory_bytes > 0 && stats.memory_limit >= stats.memory_bytes, "{stats:?}");
    assert!(stats.cpu_percent >= 0.0);
}

#[tokio::test]
async fn save_images_writes_a_tarball_whose_hash_matches() {
    let image = test_image();
    let dir = tempfile::tempdir().unwrap();
    let mut state = host(&["save:bosun-test/*"], &[&format!("rw:{}", dir.path().display())], false);
    let dest = dir.path().join("images.tar");

    let artifact = state.docker().save_images(vec![image.clone()], path_str(&dest)).await.unwrap();
    assert_artifact_matches_file(&artifact, &dest);
    let entries = tar_entries(std::fs::File::open(&dest).unwrap());
    let manifest = file_in_tar(&entries, "manifest.json");
    assert!(manifest.contains(&image), "{manifest}");

    let missing = state.docker().save_images(vec!["bosun-test/none:1".into()], path_str(&dir.path().join("none.tar"))).await.unwrap_err();
    assert!(matches!(&missing, HostError::NotFound(m) if m == "image bosun-test/none:1 not found"), "{missing:?}");
    let denied = state.docker().save_images(vec!["registry.example/shop:1".into()], path_str(&dir.path().join("x.tar"))).await.unwrap_err();
    assert!(matches!(&denied, HostError::Denied(m) if m.contains("save:registry.example/shop:1")), "{denied:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the finished tarball");
}

#[tokio::test]
async fn copy_from_and_copy_to_round_trip() {
    let c = container("bosun-test-copy", &[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = host(&[&format!("copy,exec:{}", c.name)], &[&format!("rw:{}", dir.path().display())], false);

    // Out of the container, plain and zstd-compressed.
    let plain = dir.path().join("data.tar");
    let artifact = state.docker().copy_from(c.name.clone(), "/data".into(), path_str(&plain)).await.unwrap();
    assert_artifact_matches_file(&artifact, &plain);
    let entries = tar_entries(std::fs::File::open(&plain).unwrap());
    assert_eq!(file_in_tar(&entries, "data/hello.txt"), "hello from the image\n");
    assert_eq!(file_in_tar(&entries, "data/sub/nested.txt"), "nested\n");

    let compressed = dir.path().join("data.tar.zst");
    let artifact = state.docker().copy_from(c.name.clone(), "/data".into(), path_str(&compressed)).await.unwrap();
    assert_artifact_matches_file(&artifact, &compressed);
    let raw = std::fs::read(&compressed).unwrap();
    assert!(raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]), "zstd frame");
    let entries = tar_entries(zstd::Decoder::new(raw.as_slice()).unwrap());
    assert_eq!(file_in_tar(&entries, "data/hello.txt"), "hello from the image\n");

    // Back in, under another name, from the compressed copy...
    state.docker().copy_to(c.name.clone(), path_str(&compressed), "/data/sub".into()).await.unwrap();
    let cat = |path: &str| vec!["/testsrv".to_string(), "cat".into(), path.into()];
    let restored = state.docker().exec(c.name.clone(), cat("/data/sub/data/hello.txt"), None).await.unwrap();
    assert_eq!(restored.stdout, "hello from the image\n");

    // ...and a plain tar made on the host.
    let upload = dir.path().join("upload.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&upload).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(9);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "restored.txt", &b"restored\n"[..]).unwrap();
    builder.finish().unwrap();
    drop(builder);
    state.docker().copy_to(c.name.clone(), path_str(&upload), "/data".into()).await.unwrap();
    assert_eq!(state.docker().exec(c.name.clone(), cat("/data/restored.txt"), None).await.unwrap().stdout, "restored\n");

    let missing = state.docker().copy_from(c.name.clone(), "/nope".into(), path_str(&dir.path().join("nope.tar"))).await.unwrap_err();
    assert!(matches!(&missing, HostError::NotFound(m) if m.starts_with("/nope in container")), "{missing:?}");
    let no_dir = state.docker().copy_to(c.name.clone(), path_str(&upload), "/missing-dir".into()).await.unwrap_err();
    assert!(matches!(&no_dir, HostError::NotFound(m) if m.starts_with("/missing-dir in container")), "{no_dir:?}");
    let relative = state.docker().copy_to(c.name.clone(), path_str(&upload), "data".into()).await.unwrap_err();
    assert!(matches!(relative, HostError::Invalid(_)));
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.contains("partial")), "no temp files left: {names:?}");
}

#[tokio::test]
async fn registry_digest_without_pulling() {
    let registry = support::Registry::start();
    let (pushed, digest) = registry.push(&test_image(), &format!("bosun-test/digest-{}:1", std::process::id()));
    let _untag = Untag(pushed.clone());
    let mut state = host(&[&format!("inspect:{}/*", registry.addr)], &[], false);

    let (algorithm, hex) = digest.split_once(':').unwrap();
    let expected = bosun::bindings::types::Digest { algorithm: algorithm.into(), hex: hex.into() };
    assert_eq!(state.docker().image_registry_digest(pushed.clone()).await.unwrap(), Some(expected));
    let unknown_tag = format!("{}:2", pushed.rsplit_once(':').unwrap().0);
    assert_eq!(state.docker().image_registry_digest(unknown_tag).await.unwrap(), None);
    let unknown_repo = format!("{}/bosun-test/never-pushed:1", registry.addr);
    assert_eq!(state.docker().image_registry_digest(unknown_repo).await.unwrap(), None);

    drop(registry);
    let down = state.docker().image_registry_digest(pushed).await.unwrap_err();
    assert!(matches!(down, HostError::Failed(_)), "an unreachable registry is a failure, not \"no such image\": {down:?}");
}

/// Removes an image tag when dropped.
struct Untag(String);

impl Drop for Untag {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker").args(["image", "rm", &self.0]).output();
    }
}

#[tokio::test]
async fn dry_run_records_mutations_and_runs_none() {
    let c = container("bosun-test-dry", &[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let grants = [format!("stop,exec,copy,inspect:{}", c.name), "save:bosun-test/*".to_string()];
    let grants: Vec<&str> = grants.iter().map(String::as_str).collect();
    let mut state = host(&grants, &[&format!("rw:{}", dir.path().display())], true);

    state.docker().stop(c.name.clone(), 1).await.unwrap();
    let dump = path_str(&dir.path().join("dump.sql"));
    let argv = vec!["/testsrv".to_string(), "gen".into(), "10".into()];
    let exec = state.docker().exec(c.name.clone(), argv, Some(dump.clone())).await.unwrap();
    assert_eq!(exec.stdout_artifact.map(|a| a.path), Some(dump.clone()));
    let saved = path_str(&dir.path().join("images.tar"));
    let artifact = state.docker().save_images(vec![test_image()], saved.clone()).await.unwrap();
    assert_eq!((artifact.path.as_str(), artifact.size, artifact.digest.hex.as_str()), (saved.as_str(), 0, ""));

    let recorded = state.call.planned.lock().unwrap().clone();
    let planned: Vec<&str> = recorded.iter().map(|p| p.call.as_str()).collect();
    assert_eq!(planned, ["docker.stop", "docker.exec", "docker.save-images"]);
    assert_eq!(recorded[0], PlannedCall { call: "docker.stop".into(), detail: format!("{} (grace 1s)", c.name) });
    assert!(recorded[1].detail.ends_with(&format!("/testsrv gen 10 > {dump}")), "{:?}", recorded[1]);

    // Reads still run, and show nothing changed.
    assert!(state.docker().inspect_container(c.name.clone()).await.unwrap().running);
    assert_eq!(cli_inspect(&c.name, "{{.State.Running}}"), "true");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file written");
}
