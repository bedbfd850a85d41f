//! The built-in plugins, as compiled into the binary, end to end through the runtime.

use crate::common;

use bosun::capability::GrantSpec;
use bosun::plugin::PluginError;
use bosun::bindings::backup_types::{BackupKind, BackupRequest, RestoreRequest};
use bosun::bindings::notify::{Channel, Event, Severity};
use bosun::bindings::types::Kv;
use common::*;
use serde_json::json;

fn http_grant(url: &str) -> GrantSpec {
    GrantSpec { http: vec![url.to_string()], ..Default::default() }
}

#[tokio::test]
async fn http_check_reports_conditions_with_actual_values() {
    let (url, _) = http_server(404, "missing").await;
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&builtin("http"), "http").unwrap();
    let config = json!({"url": format!("{url}/x"), "conditions": ["[STATUS] == 200", "[RESPONSE_TIME] < 5000"]});
    let result = runtime.check(&plugin, setup(&plugin, config, http_grant(&url), limits(10_000, 64))).await.unwrap().value;
    assert!(!result.passed);
    let status = &result.conditions[0];
    assert_eq!((status.condition.as_str(), status.actual.as_str(), status.passed), ("[STATUS] == 200", "404", false));
    assert!(result.conditions[1].passed, "{:?}", result.conditions[1]);

    let (ok_url, _) = http_server(200, "{\"status\":\"up\"}").await;
    let config = json!({"url": ok_url.clone(), "conditions": ["[STATUS] == 200", "[BODY] == pat(*up*)"]});
    let result = runtime.check(&plugin, setup(&plugin, config, http_grant(&ok_url), limits(10_000, 64))).await.unwrap().value;
    assert!(result.passed, "{result:?}");
}

#[tokio::test]
async fn http_check_rejects_a_condition_that_does_not_parse() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&builtin("http"), "http").unwrap();
    let config = json!({"url": "http://127.0.0.1:9/", "conditions": ["[STATUS] === 200"]});
    match runtime.check(&plugin, setup(&plugin, config, GrantSpec::default(), limits(5_000, 64))).await {
        Err(PluginError::InvalidConfig { message, .. }) => assert!(message.contains("[STATUS] === 200"), "{message}"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

fn vars(pairs: &[(&str, &str)]) -> Vec<Kv> {
    pairs.iter().map(|(k, v)| Kv { key: k.to_string(), value: v.to_string() }).collect()
}

#[tokio::test]
async fn template_renders_names_and_refuses_unknown_variables() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&builtin("template"), "template").unwrap();
    let config = json!({"template": "${PREFIX}-${ENV}-${SERVICE}-${VERSION}"});
    let v = vars(&[("PREFIX", "shop"), ("ENV", "prod"), ("SERVICE", "web"), ("VERSION", "1.4.2")]);
    let name = runtime.render(&plugin, setup(&plugin, config, GrantSpec::default(), limits(5_000, 64)), v.clone()).await.unwrap().value;
    assert_eq!(name, "shop-prod-web-1.4.2");

    let config = json!({"template": "${SERVICE}-${COLOUR}"});
    match runtime.render(&plugin, setup(&plugin, config, GrantSpec::default(), limits(5_000, 64)), v).await {
        Err(PluginError::InvalidConfig { message, .. }) => assert!(message.contains("COLOUR"), "{message}"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[tokio::test]
async fn webhook_posts_the_event_as_json() {
    let (url, seen) = http_server(200, "ok").await;
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&builtin("webhook"), "webhook").unwrap();
    let event = Event {
        kind: "deploy.failed".into(),
        severity: Severity::Failure,
        title: "web 1.4.2 failed".into(),
        body: "health check timed out".into(),
        facts: vars(&[("service", "web")]),
        link: None,
    };
    let channel = Channel { name: "ops".into(), url: format!("generic+{url}/hook"), params: vec![] };
    let answer = runtime.deliver(&plugin, setup(&plugin, json!({}), http_grant(&url), limits(10_000, 64)), event, channel).await.unwrap().value;
    assert!(answer.starts_with("HTTP 200"), "{answer}");
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0, "/hook");
    let body: serde_json::Value = serde_json::from_str(&requests[0].1).unwrap();
    assert_eq!(body["kind"], "deploy.failed");
    assert_eq!(body["title"], "web 1.4.2 failed");
    assert_eq!(body["facts"]["service"], "web");
}

#[tokio::test]
async fn dir_archive_round_trip_reproduces_the_tree_and_dry_run_writes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let data = root.join("data");
    std::fs::create_dir_all(data.join("nested/deeper")).unwrap();
    std::fs::write(data.join("small.txt"), "hello").unwrap();
    std::fs::write(data.join("nested/deeper/big.bin"), (0..2_000_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>()).unwrap();
    std::fs::set_permissions(data.join("small.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("small.txt", data.join("link")).unwrap();
    std::fs::create_dir_all(root.join("backup")).unwrap();

    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&builtin("dir-archive"), "dir-archive").unwrap();
    let grant = grant_fs(&[format!("ro:{}", data.display()), format!("rw:{}/backup", root.display()), format!("rw:{}/restore", root.display())]);
    let config = json!({"paths": [data.display().to_string()]});
    let request = || BackupRequest { set: "data".into(), kind: BackupKind::Full, dest_dir: format!("{}/backup", root.display()), base_dir: None };

    let dry = runtime.backup(&plugin, setup_with(&plugin, config.clone(), grant.clone(), limits(30_000, 64), true), request()).await.unwrap();
    assert!(dry.planned.iter().any(|p| p.call == "fs.archive"), "{:?}", dry.planned);
    assert_eq!(std::fs::read_dir(root.join("backup")).unwrap().count(), 0, "dry run wrote nothing");

    let done = runtime.backup(&plugin, setup(&plugin, config.clone(), grant.clone(), limits(30_000, 64)), request()).await.unwrap().value;
    assert!(!done.artifacts.is_empty());
    for artifact in &done.artifacts {
        let bytes = std::fs::read(&artifact.path).unwrap();
        assert_eq!(bytes.len() as u64, artifact.size);
    }
    let restore = RestoreRequest { backup_dir: format!("{}/backup", root.display()), target: Some(format!("{}/restore", root.display())), base_dirs: vec![] };
    runtime.restore(&plugin, setup(&plugin, config, grant, limits(30_000, 64)), restore).await.unwrap();

    let restored = root.join("restore").join(data.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(restored.join("small.txt")).unwrap(), b"hello");
    assert_eq!(std::fs::read(restored.join("nested/deeper/big.bin")).unwrap(), std::fs::read(data.join("nested/deeper/big.bin")).unwrap());
    assert_eq!(std::fs::metadata(restored.join("small.txt")).unwrap().permissions().mode() & 0o777, 0o640);
    assert_eq!(std::fs::read_link(restored.join("link")).unwrap(), std::path::Path::new("small.txt"));
}

#[tokio::test]
async fn compiled_components_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let first = bosun::plugin::Runtime::new(dir.path().join("cache")).unwrap();
    assert_eq!(first.load(&builtin("http"), "http").unwrap().cache, bosun::plugin::CacheOutcome::Compiled);
    drop(first);
    let second = bosun::plugin::Runtime::new(dir.path().join("cache")).unwrap();
    assert_eq!(second.load(&builtin("http"), "http").unwrap().cache, bosun::plugin::CacheOutcome::Hit);
}
