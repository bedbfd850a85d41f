//! Plugins built for the previous plugin API (0.2) load and run on this host:
//! `api-v02-fixture` (host/tests/plugins/api-v0.2) is built from source
//! against the frozen `wit/since_v0.2.0` with wit-bindgen alone, and reports
//! what its 0.2 host calls answered, in 0.2's shapes, where 0.3 changed
//! them (exit codes, docker states and times, mount kinds).

use crate::{common, support};

use std::collections::HashMap;

use bosun::capability::GrantSpec;
use bosun::plugin::{Api, PluginError, Runtime};
use common::{limits, runtime, setup, test_plugin};
use serde_json::{Value, json};
use support::{run_test_container, unique, wait_ready};

const FIXTURE: &str = "api-v02-fixture";

async fn check(runtime: &Runtime, config: Value, granted: GrantSpec) -> Result<HashMap<String, String>, PluginError> {
    let plugin = runtime.load(&test_plugin(FIXTURE), FIXTURE).unwrap();
    let called = runtime.check(&plugin, setup(&plugin, config, granted, limits(20_000, 64))).await?;
    assert!(called.value.passed, "{:?}", called.value);
    assert!(called.logs.iter().any(|line| line.message.starts_with("api 0.2 fixture checking")), "0.2's log interface: {:?}", called.logs);
    Ok(called.value.metrics.into_iter().map(|kv| (kv.key, kv.value)).collect())
}

#[tokio::test]
async fn a_0_2_plugin_loads_on_the_0_2_api() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin(FIXTURE), FIXTURE).unwrap();
    assert_eq!((plugin.manifest.api.as_str(), plugin.manifest.api()), ("0.2.0", Some(Api::V0_2)));
    let reaches = runtime.validate(&plugin, setup(&plugin, json!({"mode": "net", "port": 9}), GrantSpec::default(), limits(5_000, 64))).await.unwrap();
    assert_eq!(reaches.value, ["127.0.0.1:9"]);
}

#[tokio::test]
async fn process_exit_codes_reach_a_0_2_plugin_as_0_2_numbers() {
    let (runtime, _dir) = runtime();
    let granted = GrantSpec { process: vec!["run:false".into(), "run:true".into()], ..Default::default() };
    let metrics = check(&runtime, json!({"mode": "process"}), granted).await.unwrap();
    assert_eq!((metrics["false-exit-code"].as_str(), metrics["true-exit-code"].as_str()), ("1", "0"));
}

#[tokio::test]
async fn a_0_2_plugin_is_held_to_its_grants() {
    let (runtime, _dir) = runtime();
    let granted = GrantSpec { process: vec!["run:true".into()], ..Default::default() };
    match check(&runtime, json!({"mode": "process"}), granted).await {
        Err(PluginError::CapabilityDenied(denial)) => assert!(denial.to_string().contains("process.run"), "{denial}"),
        other => panic!("expected the ungranted `false` to be denied, got {other:?}"),
    }
}

#[tokio::test]
async fn docker_answers_reach_a_0_2_plugin_in_0_2_shapes() {
    support::require_engine();
    let name = unique("bosun-test-compat");
    let _container = run_test_container(&name, &[], &["--volume", "/data"]);
    wait_ready(&name);
    let expected_status = |format: &str| String::from_utf8_lossy(&support::docker(&["inspect", "--format", format, &name]).stdout).trim().to_string();

    let (runtime, _dir) = runtime();
    let granted = GrantSpec { docker: vec![format!("inspect:{name}")], ..Default::default() };
    let metrics = check(&runtime, json!({"mode": "docker", "container": name}), granted).await.unwrap();
    assert_eq!(metrics["status"], "running");
    assert_eq!(metrics["state"], "running");
    assert_eq!(metrics["running"], "true");
    assert_eq!(metrics["health"], expected_status("{{.State.Health.Status}}"));
    assert_eq!(metrics["exit-code"], "0");
    assert_eq!(metrics["mount-kinds"], "volume");
    // 0.2 gave RFC 3339 start times and creation times in seconds.
    let started: jiff::Timestamp = metrics["started-at"].parse().unwrap();
    let engine_started: jiff::Timestamp = expected_status("{{.State.StartedAt}}").parse().unwrap();
    assert_eq!(started.as_millisecond(), engine_started.as_millisecond());
    let created: i64 = metrics["created"].parse().unwrap();
    let engine_created: jiff::Timestamp = expected_status("{{.Created}}").parse().unwrap();
    assert_eq!(created, engine_created.as_second());
}

#[tokio::test]
async fn a_0_2_plugin_probes_a_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (runtime, _dir) = runtime();
    let granted = GrantSpec { net: vec![format!("127.0.0.1:{port}")], ..Default::default() };
    let metrics = check(&runtime, json!({"mode": "net", "port": port}), granted).await.unwrap();
    assert_eq!(metrics["connect-ok"], "true");
}
