//! Shared by the plugin integration tests: the really compiled test plugins
//! (host/tests/plugins) and built-in plugins, and call setups.
#![allow(dead_code)]

pub mod project;
pub mod prometheus;
pub mod recorder;
pub mod server;
pub mod smtp;
pub mod tls;
pub mod tree;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bosun::capability::{GrantSpec, Policy};
use bosun::bindings::plugin_types::RunContext;
use bosun::plugin::{CallSetup, Limits, Runtime};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Components of host/tests/plugins, built once per test process (the wasm
/// toolchain is required: a missing toolchain fails the tests).
pub fn test_plugin(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let toolchain = bosun_plugin_build::detect_toolchain().expect("the wasm toolchain is required for these tests (scripts/setup installs it)");
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target")).join("wasm-test-plugins");
        let opts = bosun_plugin_build::BuildOptions {
            manifest_path: repo_root().join("host/tests/plugins/Cargo.toml"),
            target_dir: Some(target),
            toolchain,
            quiet: true,
        };
        bosun_plugin_build::build(&opts).expect("building the test plugins").into_iter().map(|p| (p.crate_name, p.component)).collect()
    });
    let crate_name = name.replace('-', "_");
    let (_, path) = built.iter().find(|(n, _)| *n == crate_name).unwrap_or_else(|| panic!("no test plugin {name}"));
    std::fs::read(path).unwrap()
}

pub fn builtin(name: &str) -> Vec<u8> {
    bosun::cli::builtin_bytes(name).unwrap_or_else(|| panic!("no built-in plugin {name}")).to_vec()
}

pub fn runtime() -> (Runtime, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Runtime::new(dir.path().join("cache")).unwrap(), dir)
}

pub fn setup(plugin: &bosun::plugin::Plugin, config: serde_json::Value, granted: GrantSpec, limits: Limits) -> CallSetup {
    setup_with(plugin, config, granted, limits, false)
}

pub fn setup_with(plugin: &bosun::plugin::Plugin, config: serde_json::Value, granted: GrantSpec, limits: Limits, dry_run: bool) -> CallSetup {
    let policy = Policy::new(&plugin.manifest.name, &plugin.manifest.capabilities, &granted).unwrap();
    CallSetup {
        context: RunContext { project: "test".into(), env: "test".into(), run_id: "run-1".into(), dry_run, config: config.to_string() },
        policy: Arc::new(policy),
        limits,
        progress: None,
    }
}

pub fn limits(timeout_ms: u64, memory_mib: usize) -> Limits {
    Limits { timeout: Duration::from_millis(timeout_ms), memory_bytes: memory_mib << 20 }
}

pub fn grant_fs(entries: &[String]) -> GrantSpec {
    GrantSpec { fs: entries.to_vec(), ..Default::default() }
}

/// Times `f`.
pub async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let value = f.await;
    (value, started.elapsed())
}

/// A loopback HTTP server answering every request with `status` and `body`,
/// recording request bodies.
pub async fn http_server(status: u16, body: &'static str) -> (String, Arc<std::sync::Mutex<Vec<(String, String)>>>) {
    use axum::extract::Request;
    let seen: Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let record = record.clone();
        async move {
            let path = req.uri().path().to_string();
            let bytes = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
            record.lock().unwrap().push((path, String::from_utf8_lossy(&bytes).into_owned()));
            (axum::http::StatusCode::from_u16(status).unwrap(), body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}
