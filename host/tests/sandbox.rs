//! The sandbox holds against hostile plugins, and the host keeps working after each.

use crate::common;

use bosun::capability::GrantSpec;
use bosun::plugin::PluginError;
use common::*;
use serde_json::json;

async fn noop_still_works(runtime: &bosun::plugin::Runtime, plugin: &bosun::plugin::Plugin) {
    let called = runtime.check(plugin, setup(plugin, json!({"mode": "noop"}), GrantSpec::default(), limits(5_000, 64))).await;
    assert!(called.expect("the next call to the same plugin succeeds").value.passed);
}

#[tokio::test]
async fn infinite_loop_is_stopped_by_the_deadline() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-check"), "hostile-check").unwrap();
    let deadline_ms = 300;
    let (result, took) = timed(runtime.check(&plugin, setup(&plugin, json!({"mode": "loop"}), GrantSpec::default(), limits(deadline_ms, 64)))).await;
    match result {
        Err(PluginError::TimedOut { plugin, export, .. }) => assert_eq!((plugin.as_str(), export.as_str()), ("hostile-check", "check")),
        other => panic!("expected TimedOut, got {other:?}"),
    }
    assert!(took.as_millis() < 2 * deadline_ms as u128, "stopped after {took:?}, more than 2x the {deadline_ms}ms deadline");
    noop_still_works(&runtime, &plugin).await;
}

#[tokio::test]
async fn memory_growth_past_the_cap_is_stopped() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-check"), "hostile-check").unwrap();
    let result = runtime.check(&plugin, setup(&plugin, json!({"mode": "grow-memory"}), GrantSpec::default(), limits(10_000, 32))).await;
    match result {
        Err(PluginError::OutOfMemory { limit_bytes, .. }) => assert_eq!(limit_bytes, 32 << 20),
        other => panic!("expected OutOfMemory, got {other:?}"),
    }
    noop_still_works(&runtime, &plugin).await;
}

#[tokio::test]
async fn a_panic_traps_and_the_next_call_succeeds() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-check"), "hostile-check").unwrap();
    let result = runtime.check(&plugin, setup(&plugin, json!({"mode": "panic"}), GrantSpec::default(), limits(5_000, 64))).await;
    match result {
        Err(e @ PluginError::Trapped { .. }) => {
            let text = e.to_string();
            assert!(text.contains("hostile-check") && text.contains("check"), "{text}");
            assert!(text.contains("hostile panic"), "the panic message is quoted: {text}");
            assert!(text.contains("wasm backtrace"), "{text}");
        }
        other => panic!("expected Trapped, got {other:?}"),
    }
    noop_still_works(&runtime, &plugin).await;
}

#[tokio::test]
async fn http_to_a_host_not_granted_is_denied_with_the_grant_line() {
    let (url, seen) = http_server(200, "ok").await;
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-check"), "hostile-check").unwrap();
    let other = GrantSpec { http: vec!["http://127.0.0.1:1".into()], ..Default::default() };
    let result = runtime.check(&plugin, setup(&plugin, json!({"mode": "http", "url": url}), other, limits(5_000, 64))).await;
    match result {
        Err(PluginError::CapabilityDenied(denial)) => {
            let text = denial.to_string();
            let origin = url.trim_start_matches("http://");
            assert!(text.contains(&format!("[plugins.hostile-check.grant] http = [\"http://{origin}\"]")), "{text}");
        }
        other => panic!("expected CapabilityDenied, got {other:?}"),
    }
    assert!(seen.lock().unwrap().is_empty(), "the denied request never reached the server");

    let granted = GrantSpec { http: vec![url.clone()], ..Default::default() };
    let called = runtime.check(&plugin, setup(&plugin, json!({"mode": "http", "url": url}), granted, limits(5_000, 64))).await.unwrap();
    assert!(called.value.passed, "granted request passes: {:?}", called.value);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_process_not_granted_is_denied() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-check"), "hostile-check").unwrap();
    let config = json!({"mode": "process", "argv": ["/bin/echo", "hi"]});
    let result = runtime.check(&plugin, setup(&plugin, config.clone(), GrantSpec::default(), limits(5_000, 64))).await;
    match result {
        Err(PluginError::CapabilityDenied(denial)) => {
            assert!(denial.to_string().contains("[plugins.hostile-check.grant] process = [\"run:/bin/echo hi\"]"), "{denial}");
        }
        other => panic!("expected CapabilityDenied, got {other:?}"),
    }
    let granted = GrantSpec { process: vec!["run:/bin/echo *".into()], ..Default::default() };
    let called = runtime.check(&plugin, setup(&plugin, config, granted, limits(5_000, 64))).await.unwrap();
    assert!(called.value.passed, "{:?}", called.value);
}

/// A temp tree: `granted/` (with a symlink out) next to `secret`.
fn tree() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir(root.join("granted")).unwrap();
    std::fs::write(root.join("granted/ok.txt"), "fine").unwrap();
    std::fs::write(root.join("secret"), "top secret").unwrap();
    std::os::unix::fs::symlink(root.join("secret"), root.join("granted/link")).unwrap();
    (dir, root)
}

async fn read_via_backup(path: String, root: &std::path::Path) -> Result<(), PluginError> {
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-backup"), "hostile-backup").unwrap();
    let granted = grant_fs(&[format!("ro:{}/granted", root.display())]);
    let setup = setup(&plugin, json!({"path": path}), granted, limits(5_000, 64));
    let req = bosun::bindings::backup_types::BackupRequest {
        set: "probe".into(),
        kind: bosun::bindings::backup_types::BackupKind::Full,
        dest_dir: root.join("granted").display().to_string(),
        base_dir: None,
    };
    runtime.backup(&plugin, setup, req).await.map(|_| ())
}

fn assert_denied(result: Result<(), PluginError>, what: &str) {
    match result {
        Err(PluginError::CapabilityDenied(denial)) => {
            let text = denial.to_string();
            assert!(text.contains("fs.read-small") && text.contains("[plugins.hostile-backup.grant] fs = [\"ro:"), "{what}: {text}");
        }
        other => panic!("{what}: expected CapabilityDenied, got {other:?}"),
    }
}

#[tokio::test]
async fn fs_reads_are_confined_to_the_grant() {
    let (_dir, root) = tree();
    read_via_backup(format!("{}/granted/ok.txt", root.display()), &root).await.expect("a granted read works");
    assert_denied(read_via_backup(format!("{}/secret", root.display()), &root).await, "outside the grant");
    assert_denied(read_via_backup("/etc/hostname".into(), &root).await, "system file");
}

#[tokio::test]
async fn path_escapes_via_dotdot_and_symlink_are_denied() {
    let (_dir, root) = tree();
    assert_denied(read_via_backup(format!("{}/granted/../secret", root.display()), &root).await, "`..` escape");
    assert_denied(read_via_backup(format!("{}/granted/link", root.display()), &root).await, "symlink escape");
}

#[tokio::test]
async fn the_deadline_also_bounds_host_calls() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-check"), "hostile-check").unwrap();
    let granted = GrantSpec { process: vec!["run:sleep *".into()], ..Default::default() };
    let config = json!({"mode": "process", "argv": ["sleep", "30"]});
    let deadline_ms = 400;
    let (result, took) = timed(runtime.check(&plugin, setup(&plugin, config, granted, limits(deadline_ms, 64)))).await;
    assert!(matches!(result, Err(PluginError::TimedOut { .. })), "{result:?}");
    assert!(took.as_millis() < 2 * deadline_ms as u128, "took {took:?}");
    noop_still_works(&runtime, &plugin).await;
}
