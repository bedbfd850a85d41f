//! API 0.2's host interfaces (`bosun:plugin/*@0.2.0`), linked beside 0.3's so
//! plugins built for 0.2 keep working. Each call is served by the 0.3
//! implementation on the same view, with the same grants and deadline; only
//! the values are converted ([`Convert`]). 0.2 is frozen: a capability added
//! later has no 0.2 interface.

use wasmtime::component::Linker;

use super::docker::{Docker, DockerView};
use super::fs::{Fs, FsView};
use super::log::{Log, LogView};
use super::net::{Net, NetView};
use super::notify::{Notify, NotifyView};
use super::process::{Process, ProcessView};
use super::HostState;
use crate::bindings::v0_2::{self as old, Convert, digest_reference};
use crate::bindings::{self as new, types::ExitStatus};

/// Links every 0.2 host interface (wasi is shared by both versions).
pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    old::log::add_to_linker::<HostState, Log>(linker, super::log::view)?;
    old::fs::add_to_linker::<HostState, Fs>(linker, super::fs::view)?;
    old::docker::add_to_linker::<HostState, Docker>(linker, super::docker::view)?;
    old::process::add_to_linker::<HostState, Process>(linker, super::process::view)?;
    old::notify::add_to_linker::<HostState, Notify>(linker, super::notify::view)?;
    old::net::add_to_linker::<HostState, Net>(linker, super::net::view)?;
    Ok(())
}

/// 0.2 functions whose arguments and answers convert as they are.
macro_rules! same_calls {
    ($current:path { $(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)* }) => {$(
        async fn $name(&mut self, $($arg: $ty),*) -> $ret {
            <Self as $current>::$name(self, $($arg.convert()),*).await.convert()
        }
    )*};
}

type Answer<T> = Result<T, old::types::HostError>;

impl old::log::Host for LogView<'_> {
    same_calls!(new::log::Host {
        fn log(level: old::log::Level, message: String) -> ();
        fn progress(label: String, done: u64, total: Option<u64>) -> ();
    });
}

impl old::notify::Host for NotifyView<'_> {
    same_calls!(new::notify::Host {
        fn emit(event: old::notify::Event) -> Answer<()>;
    });
}

impl old::net::Host for NetView<'_> {
    same_calls!(new::net::Host {
        fn tcp_connect(host: String, port: u16, timeout_ms: u32) -> Answer<old::net::TcpConnection>;
        fn tls_certificate(host: String, port: u16, timeout_ms: u32) -> Answer<old::net::Certificate>;
    });
}

impl old::fs::Host for FsView<'_> {
    same_calls!(new::fs::Host {
        fn list(dir: String, include: Vec<String>, exclude: Vec<String>, recursive: bool) -> Answer<Vec<old::fs::Entry>>;
        fn stat(path: String) -> Answer<Option<old::fs::Entry>>;
        fn archive(req: old::fs::ArchiveRequest) -> Answer<old::fs::ArchiveResult>;
        fn extract(archive_path: String, dest: String) -> Answer<u64>;
        fn copy(src: String, dest: String) -> Answer<old::types::Artifact>;
        fn read_small(path: String, max_bytes: u32) -> Answer<Vec<u8>>;
        fn write_small(path: String, contents: Vec<u8>) -> Answer<old::types::Artifact>;
        fn create_dir(path: String) -> Answer<()>;
        fn remove(path: String) -> Answer<()>;
        fn rename(src: String, dest: String) -> Answer<()>;
    });

    /// 0.2 gave the bare hex.
    async fn hash(&mut self, path: String) -> Answer<String> {
        new::fs::Host::hash(self, path).await.map(|digest| digest.hex).convert()
    }
}

impl old::process::Host for ProcessView<'_> {
    same_calls!(new::process::Host {
        fn spawn_detached(argv: Vec<String>, method: old::process::DetachMethod, log_path: String, opts: old::process::RunOptions) -> Answer<u32>;
        fn find(matcher: old::process::Matcher) -> Answer<Vec<old::process::ProcessInfo>>;
    });

    /// 0.2 reported a run killed at its own timeout as a timed-out error.
    async fn run(&mut self, argv: Vec<String>, opts: old::process::RunOptions) -> Answer<old::process::Output> {
        let program = argv.first().cloned().unwrap_or_default();
        let timeout_ms = opts.timeout_ms;
        match new::process::Host::run(self, argv, opts.convert()).await {
            Ok(output) if matches!(output.status, ExitStatus::TimedOut) => Err(old::types::HostError::TimedOut(format!(
                "{program} ran longer than {}ms and was killed",
                timeout_ms.unwrap_or_default()
            ))),
            answer => answer.convert(),
        }
    }
}

impl old::docker::Host for DockerView<'_> {
    same_calls!(new::docker::Host {
        fn list_containers(all: bool, label_filters: Vec<String>) -> Answer<Vec<old::docker::ContainerSummary>>;
        fn inspect_container(name: String) -> Answer<old::docker::ContainerDetails>;
        fn list_images(reference: Option<String>) -> Answer<Vec<old::docker::ImageSummary>>;
        fn save_images(images: Vec<String>, dest_path: String) -> Answer<old::types::Artifact>;
        fn load_images(src_path: String) -> Answer<Vec<String>>;
        fn exec(container: String, argv: Vec<String>, stdout_to: Option<String>) -> Answer<old::docker::ExecStatus>;
        fn exec_with_input(container: String, argv: Vec<String>, stdin_from: String) -> Answer<old::docker::ExecStatus>;
        fn stats(container: String) -> Answer<old::docker::ContainerStats>;
        fn logs(container: String, tail: u32) -> Answer<String>;
        fn start(container: String) -> Answer<()>;
        fn stop(container: String, timeout_secs: u32) -> Answer<()>;
        fn copy_from(container: String, src_path: String, dest_path: String) -> Answer<old::types::Artifact>;
        fn copy_to(container: String, archive_path: String, dest_dir: String) -> Answer<()>;
    });

    /// 0.2 gave the digest as `sha256:hex`.
    async fn image_registry_digest(&mut self, image: String) -> Answer<Option<String>> {
        new::docker::Host::image_registry_digest(self, image).await.map(|found| found.map(digest_reference)).convert()
    }
}
