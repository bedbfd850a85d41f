//! The hostile-plugin suite, classes E and F: a plugin cannot make bosun hold
//! memory outside its linear memory, flood bosun's log, keep a host call
//! waiting past the deadline, or read a secret through bosun's outputs.
//! Real compiled plugins (host/tests/plugins/hostile-limits, the built-in
//! chat and webhook notifiers), the real `bosun` binary, real processes,
//! loopback servers and the real Docker engine.
// The serial guard spans each whole test (see SERIAL).
#![allow(clippy::await_holding_lock)]

mod common;
mod support;

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bosun::capability::GrantSpec;
use bosun::plugin::{Plugin, PluginError, Runtime};
use common::project::{Project, stderr, stdout};
use common::recorder::Recorder;
use common::*;
use serde_json::json;

/// One test at a time: several measure this process's peak memory, which
/// another test running beside them would add to. (Its guard spans a whole
/// test, awaits included, on purpose: each test has a runtime of its own, so
/// holding it cannot block the runtime that would release it.)
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `work`'s value, and how many MiB this process's resident memory peaked
/// above where it was when `work` started.
async fn peak_growth_mib<T>(work: impl Future<Output = T>) -> (T, u64) {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS");
    let before = status_kib("VmRSS");
    let value = work.await;
    (value, status_kib("VmHWM").saturating_sub(before) / 1024)
}

fn load(runtime: &Runtime) -> std::sync::Arc<Plugin> {
    runtime.load(&test_plugin("hostile-limits"), "hostile-limits").unwrap()
}

async fn noop_still_works(runtime: &Runtime, plugin: &Plugin) {
    let called = runtime.check(plugin, setup(plugin, json!({"mode": "noop"}), GrantSpec::default(), limits(5_000, 16))).await;
    assert!(called.expect("the next call to the same plugin succeeds").value.passed);
}

/// E1. Each way of making the host allocate for a plugin with no grants and
/// a 16 MiB cap ends the call as out of memory, long before its deadline,
/// with bosun's own memory barely moved: empty `fields` kept by the
/// thousand, `fields` filled to their limit, outgoing bodies whose buffers
/// are full but never sent, requests holding 1 MiB authorities.
#[tokio::test]
async fn host_memory_a_plugin_makes_bosun_hold_counts_against_its_cap() {
    let _serial = serial();
    let (runtime, _dir) = runtime();
    let plugin = load(&runtime);
    for mode in ["fields", "full-fields", "bodies", "authorities"] {
        let call = runtime.check(&plugin, setup(&plugin, json!({"mode": mode}), GrantSpec::default(), limits(20_000, 16)));
        let ((result, took), grew_mib) = peak_growth_mib(timed(call)).await;
        eprintln!("{mode}: stopped after {took:?}, bosun grew {grew_mib} MiB");
        match result {
            Err(PluginError::OutOfMemory { plugin, limit_bytes, .. }) => assert_eq!((plugin.as_str(), limit_bytes), ("hostile-limits", 16 << 20), "{mode}"),
            other => panic!("{mode}: expected OutOfMemory, got {other:?}"),
        }
        assert!(took < Duration::from_secs(10), "{mode}: stopped by the memory cap, not the deadline ({took:?})");
        assert!(grew_mib < 64, "{mode}: bosun's RSS grew {grew_mib} MiB for a 16 MiB plugin");
        noop_still_works(&runtime, &plugin).await;
    }
}

/// E1, the dry-run variant: calls recorded instead of run are held by the
/// host too (a plugin repeating one with a 64 KiB argument).
#[tokio::test]
async fn calls_a_dry_run_records_count_against_the_cap() {
    let _serial = serial();
    let (runtime, _dir) = runtime();
    let plugin = load(&runtime);
    let argv = ["/bin/echo".to_string(), "x".repeat(64 * 1024)];
    let granted = GrantSpec { process: vec!["run:/bin/echo *".into()], ..Default::default() };
    let call = runtime.check(&plugin, setup_with(&plugin, json!({"mode": "repeat-run", "argv": argv}), granted, limits(20_000, 16), true));
    let (result, grew_mib) = peak_growth_mib(call).await;
    assert!(matches!(result, Err(PluginError::OutOfMemory { .. })), "{result:?}");
    assert!(grew_mib < 100, "bosun's RSS grew {grew_mib} MiB");
}

/// E3. A granted command writing 200 MiB to stderr: the plugin gets the
/// last 64 KiB, bosun reads the rest without keeping it.
#[tokio::test]
async fn a_commands_stderr_is_kept_as_a_bounded_tail() {
    let _serial = serial();
    let (runtime, _dir) = runtime();
    let plugin = load(&runtime);
    let argv = ["/usr/bin/dd", "if=/dev/zero", "of=/dev/stderr", "bs=1M", "count=200"];
    let granted = GrantSpec { process: vec![format!("run:{}", argv.join(" "))], ..Default::default() };
    let call = runtime.check(&plugin, setup(&plugin, json!({"mode": "run", "argv": argv}), granted, limits(30_000, 16)));
    let (result, grew_mib) = peak_growth_mib(call).await;
    let result = result.unwrap().value;
    assert!(result.passed, "{result:?}");
    assert!(result.summary.starts_with("exit 0, stderr tail 65536 bytes"), "{}", result.summary);
    assert!(grew_mib < 100, "bosun's RSS grew {grew_mib} MiB reading 200 MiB of stderr");
}

/// A project with the hostile-limits plugin installed and checks `name =
/// mode` (each with the deadline given).
fn project_with_checks(checks: &[(&str, &str)], timeout_ms: u64) -> Project {
    let mut config = format!("[plugins.hostile-limits]\ntimeout_ms = {timeout_ms}\n");
    for (name, mode) in checks {
        config.push_str(&format!("\n[checks.{name}]\nplugin = \"hostile-limits\"\nmode = \"{mode}\"\n"));
    }
    let project = Project::new(&config);
    let wasm = project.write("hostile-limits.wasm", &test_plugin("hostile-limits"));
    let out = project.bosun(&["plugin", "install", &wasm, "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    project
}

/// E2. A plugin logging as fast as it can for its whole deadline: bosun's
/// stderr gets the call's log budget and one line saying how much was
/// dropped, not the hundreds of MiB the plugin wrote. One retrying a denied
/// call for as long: the denial is reported once.
#[test]
fn a_log_flood_is_cut_at_the_budget_with_one_line_saying_so() {
    let _serial = serial();
    let project = project_with_checks(&[("flood", "log-flood"), ("denials", "denial-flood")], 3_000);
    for check in ["flood", "denials"] {
        let started = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(["check", check])
            .current_dir(project.dir.path())
            // Everything bosun logs (wasmtime's own trace lines are the operator's choice).
            .env("BOSUN_LOG", "bosun=trace")
            .env_remove("BOSUN_CONFIG")
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{check}: {}", stdout(&out));
        assert!(stdout(&out).contains("ran past its 3000ms deadline"), "{check}: {}", stdout(&out));
        assert!(out.stderr.len() < 2 << 20, "{check}: {} bytes on stderr", out.stderr.len());
        assert!(started.elapsed() < Duration::from_secs(20), "{check}");
        let dropped: Vec<&str> = err.lines().filter(|l| l.contains("dropped: past the per-call log budget of 1024 KiB")).collect();
        if check == "denials" {
            let denied: Vec<&str> = err.lines().filter(|l| l.contains("denied process.run")).collect();
            assert_eq!(denied.len(), 1, "the denial once, however often it was tried: {err}");
            assert!(dropped.is_empty(), "{dropped:?}");
            continue;
        }
        assert_eq!(dropped.len(), 1, "{check}: one line says what was dropped: {dropped:?}");
        let lines: u64 = dropped[0].split(" more log lines").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
        assert!(lines > 10_000, "{check}: the plugin wrote far more than was kept: {}", dropped[0]);
    }
}

/// A plugin's progress reaches the sink the CLI's bar reads, and where it got
/// to lands in the call's record; a progress flood is cut at the same budget
/// as log lines, so neither the bar nor the record grows without end.
#[tokio::test]
async fn progress_reaches_the_bar_within_the_log_budget() {
    let _serial = serial();
    let (runtime, _dir) = runtime();
    let plugin = load(&runtime);
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let with_sink = |config: serde_json::Value, timeout_ms: u64| {
        let mut setup = setup(&plugin, config, GrantSpec::default(), limits(timeout_ms, 16));
        let sink = seen.clone();
        setup.progress = Some(std::sync::Arc::new(move |u: &bosun::capability::ProgressUpdate| sink.lock().unwrap().push((u.label.clone(), u.done, u.total))));
        setup
    };
    let called = runtime.check(&plugin, with_sink(json!({"mode": "progress", "count": 3}), 5_000)).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [("step".to_string(), 1, Some(3)), ("step".to_string(), 2, Some(3)), ("step".to_string(), 3, Some(3))]);
    assert!(called.log_text().contains("progress step: 3/3"), "{}", called.log_text());

    seen.lock().unwrap().clear();
    let flooded = runtime.check(&plugin, with_sink(json!({"mode": "progress-flood"}), 2_000)).await.unwrap_err();
    assert!(matches!(flooded, PluginError::TimedOut { .. }), "{flooded}");
    let shown = seen.lock().unwrap().len();
    assert!((1_000..20_000).contains(&shown), "{shown} updates shown: the budget admits about 1 MiB of them");
    noop_still_works(&runtime, &plugin).await;
}

/// E4. Host calls that would wait end at the call's deadline with the
/// timed-out error: a command that sleeps (and is killed), a server that
/// never answers. Files that would block at open (a FIFO as a pidfile or a
/// detached command's log) are refused at once, and nothing is started.
#[tokio::test(flavor = "multi_thread")]
async fn host_calls_end_at_the_deadline() {
    let _serial = serial();
    let (runtime, _dir) = runtime();
    let plugin = load(&runtime);
    let deadline_ms = 1_500;
    let within_deadline = |took: Duration| took < Duration::from_millis(deadline_ms + 1_000);

    let marker = format!("{}.{}", 40 + std::process::id() % 50, std::process::id());
    let granted = GrantSpec { process: vec![format!("run:/bin/sleep {marker}")], ..Default::default() };
    let call = runtime.check(&plugin, setup(&plugin, json!({"mode": "run", "argv": ["/bin/sleep", marker]}), granted, limits(deadline_ms, 16)));
    let (result, took) = timed(call).await;
    assert!(matches!(result, Err(PluginError::TimedOut { .. })), "sleep: {result:?}");
    assert!(within_deadline(took), "sleep ended after {took:?}");
    assert!(gone_soon(&marker), "the command was killed");

    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let accepted = tokio::spawn(async move {
        let (connection, _) = silent.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(connection);
    });
    let granted = GrantSpec { http: vec![url.clone()], ..Default::default() };
    let (result, took) = timed(runtime.check(&plugin, setup(&plugin, json!({"mode": "http", "url": format!("{url}/")}), granted, limits(deadline_ms, 16)))).await;
    assert!(matches!(result, Err(PluginError::TimedOut { .. })), "silent server: {result:?}");
    assert!(within_deadline(took), "the silent server's request ended after {took:?}");
    accepted.abort();

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let fifo = root.join("fifo");
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o600), 0).unwrap();
    let fs = vec![format!("rw:{}", root.display())];
    let cases = [
        ("find-pidfile", json!({"mode": "find-pidfile", "path": fifo}), GrantSpec { fs: fs.clone(), process: vec!["find:*".into()], ..Default::default() }),
        (
            "spawn-detached",
            json!({"mode": "spawn-detached", "path": fifo, "argv": ["/bin/sleep", marker]}),
            GrantSpec { fs: fs.clone(), process: vec![format!("run:/bin/sleep {marker}")], ..Default::default() },
        ),
    ];
    for (mode, config, granted) in cases {
        let (result, took) = timed(runtime.check(&plugin, setup(&plugin, config, granted, limits(10_000, 16)))).await;
        assert!(matches!(result, Err(PluginError::Failed { .. })), "{mode}: expected a refusal, got {result:?}");
        assert!(took < Duration::from_secs(2), "{mode} waited {took:?} on a FIFO");
    }
    assert!(gone_soon(&marker), "no detached command was started");
}

/// E5. Host file work ends with its call: archiving 128 MiB of random bytes
/// at zstd's level 19 (minutes of work) is cut at the deadline, and the
/// archive's temp file is gone within seconds and stays gone: the work
/// stopped, it did not run on after its call ended. (Engine work is bounded
/// the same way: docker_capability::exec_waits_no_longer_than_the_call_deadline.)
#[tokio::test(flavor = "multi_thread")]
async fn file_work_stops_at_the_deadline() {
    let _serial = serial();
    let (runtime, _dir) = runtime();
    let plugin = load(&runtime);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (source, out) = (root.join("source"), root.join("out"));
    std::fs::create_dir_all(&source).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let mut random = std::io::Read::take(std::fs::File::open("/dev/urandom").unwrap(), 128 << 20);
    std::io::copy(&mut random, &mut std::fs::File::create(source.join("random.bin")).unwrap()).unwrap();
    let granted = GrantSpec { fs: vec![format!("ro:{}", source.display()), format!("rw:{}", out.display())], ..Default::default() };
    let config = json!({"mode": "archive", "path": source, "dest": out.join("random.tar.zst")});
    let (result, took) = timed(runtime.check(&plugin, setup(&plugin, config, granted, limits(1_500, 64)))).await;
    assert!(matches!(result, Err(PluginError::TimedOut { .. })), "archive: {result:?}");
    assert!(took < Duration::from_millis(2_500), "the archive call ended after {took:?}");
    let left = || std::fs::read_dir(&out).unwrap().count();
    let since = Instant::now();
    // The compression jobs under way are finished first: about a second each
    // at this level (the whole archive would take minutes).
    while left() > 0 && since.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(left(), 0, "the archive stopped and its temp file was removed");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(left(), 0, "and nothing went on writing");
}

/// Whether no process with `arg` on its command line is running, within a
/// second (a killed process takes a moment to go).
fn gone_soon(arg: &str) -> bool {
    let running = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
            std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
        })
    };
    let since = Instant::now();
    while running() {
        if since.elapsed() > Duration::from_secs(1) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// F1. Secrets in channel URLs (chat tokens in the path or the query, a
/// signing secret, a webhook's path, a url_file, an SMTP password) and a
/// `${VAR}` token in a check's URL. Deliveries go to a service that fails and
/// echoes what it was sent, or to none at all: the service got the secrets,
/// nothing bosun printed or stored has them.
#[test]
fn channel_secrets_are_masked_in_every_output_and_record() {
    let _serial = serial();
    let echo = Recorder::respond(|r| (500, format!("no route for {} {}", r.method, r.uri)));
    let dead = format!("http://127.0.0.1:{}", support::deploys::free_port());
    let token = "123456789:AAHsecret-telegram-token_x";
    let secrets = [
        token,
        "T0001/B0002/slack-webhook-secret",
        "discord-webhook-token-Zq9",
        "dingtalk-access-token-77",
        "dingtalk-sign-secret-88",
        "hook-path-secret-55",
        "feishu-file-token-66",
        "wecom-robot-key-99",
        "check-query-token-12",
        "smtp-pass-word-7",
    ];
    let config = format!(
        "[project]\nname = \"shop\"\n\n\
         [checks.down]\nplugin = \"http\"\nurl = \"{dead}/?token=${{CHECK_TOKEN}}\"\nconditions = [\"[STATUS] == 200\"]\n\n\
         [plugins.http]\ngrant.http = [\"{dead}\"]\n\n\
         [notify.tg]\nurl = \"telegram://{token}@telegram?chats=@ops\"\nendpoint = \"{echo}\"\n\n\
         [notify.sl]\nurl = \"slack://{slack}\"\nendpoint = \"{echo}\"\n\n\
         [notify.dc]\nurl = \"discord://{discord}@4242\"\nendpoint = \"{echo}\"\n\n\
         [notify.ding]\nurl = \"dingtalk://{ding}?secret=${{DING_SECRET}}\"\nendpoint = \"{echo}\"\n\n\
         [notify.hook]\nurl = \"generic+{echo}/hooks/{hook}\"\n\n\
         [notify.fei]\nurl_file = \"feishu.url\"\nendpoint = \"{echo}\"\n\n\
         [notify.we]\nurl = \"wecom://{wecom}\"\nendpoint = \"{dead}\"\n\n\
         [notify.tgdead]\nurl = \"telegram://{token}@telegram?chats=@ops\"\nendpoint = \"{dead}\"\n\n\
         [notify.mail]\nurl = \"smtp://ops:{smtp}@{dead_host}/?from=bosun@shop.example&to=ops@shop.example&tls=none\"\n",
        echo = echo.url,
        slack = secrets[1],
        discord = secrets[2],
        ding = secrets[3],
        hook = secrets[5],
        wecom = secrets[7],
        smtp = secrets[9],
        dead_host = dead.trim_start_matches("http://"),
    );
    let project = Project::new(&config);
    project.write("feishu.url", format!("feishu://{}\n", secrets[6]).as_bytes());
    let bosun = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(args)
            .current_dir(project.dir.path())
            .env("DING_SECRET", secrets[4])
            .env("CHECK_TOKEN", secrets[8])
            .env("BOSUN_LOG", "bosun=debug")
            .env_remove("BOSUN_CONFIG")
            .output()
            .unwrap()
    };
    let leaked = |what: &str, text: &str| {
        for secret in secrets {
            let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            assert!(!text.contains(secret) && !text.contains(&encoded), "{what} shows {secret}:\n{text}");
        }
    };

    let mut printed = String::new();
    for channel in ["tg", "sl", "dc", "ding", "hook", "fei", "we", "tgdead", "mail"] {
        for args in [&["notify", "test", channel, "--json"][..], &["notify", "test", channel]] {
            let out = bosun(args);
            assert_eq!(out.status.code(), Some(1), "{args:?} fails: {}", stderr(&out));
            leaked(&format!("{args:?} stdout"), &stdout(&out));
            leaked(&format!("{args:?} stderr"), &stderr(&out));
            printed.push_str(&stdout(&out));
        }
    }
    assert!(printed.contains("***"), "the failures were reported, masked: {printed}");
    let sent: String = echo.requests().iter().map(|r| format!("{} {}\n", r.uri, r.body)).collect();
    for secret in [token, secrets[1], secrets[2], secrets[3], secrets[5], secrets[6]] {
        assert!(sent.contains(secret), "the service was sent {secret}: {sent}");
    }

    // A failed check notifies every channel; the failed deliveries go into its run record.
    let out = bosun(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    leaked("check stdout", &stdout(&out));
    leaked("check stderr", &stderr(&out));
    let runs: serde_json::Value = serde_json::from_slice(&bosun(&["runs", "--json"]).stdout).unwrap();
    let check_run = runs.as_array().unwrap().iter().find(|r| r["operation"] == "check").expect("the check's run").clone();
    let id = check_run["id"].to_string();
    for args in [&["runs"][..], &["runs", "--json"], &["runs", &id], &["runs", &id, "--json"]] {
        let out = bosun(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        leaked(&format!("{args:?}"), &stdout(&out));
    }
    let log = stdout(&bosun(&["runs", &id]));
    assert!(log.contains("notifying tg (chat @ops) failed") && log.contains("***"), "the run's log has the failed deliveries, masked: {log}");
    for file in ["state.db", "state.db-wal"] {
        let path = project.dir.path().join(".bosun").join(file);
        if let Ok(bytes) = std::fs::read(&path) {
            leaked(&path.display().to_string(), &String::from_utf8_lossy(&bytes));
        }
    }
    let notified: Vec<String> = echo.requests().iter().filter(|r| r.body.contains("down")).map(|r| r.body.clone()).collect();
    assert!(!notified.is_empty(), "the failed check was notified");
    for body in notified {
        leaked("a notification's text", &body);
    }
}

/// F2. A container started with a password in its environment: a plugin
/// granted `inspect` sees the keys only; `inspect-env` shows the values.
#[tokio::test]
async fn container_env_values_need_the_inspect_env_action() {
    let _serial = serial();
    support::require_engine();
    let container = support::run_test_container(&support::unique("bosun-test-env"), &[], &["--env", "DB_PASSWORD=env-file-secret-31", "--env", "MODE=web"]);
    let (runtime, _dir) = runtime();
    let plugin = load(&runtime);
    let config = json!({"mode": "inspect-env", "host": container.name});
    let inspect = |actions: &str| GrantSpec { docker: vec![format!("{actions}:{}", container.name)], ..Default::default() };

    let keys_only = runtime.check(&plugin, setup(&plugin, config.clone(), inspect("inspect"), limits(20_000, 16))).await.unwrap().value;
    assert!(keys_only.summary.contains("DB_PASSWORD=") && keys_only.summary.contains("MODE="), "{}", keys_only.summary);
    assert!(!keys_only.summary.contains("env-file-secret-31") && !keys_only.summary.contains("=web"), "{}", keys_only.summary);

    let values = runtime.check(&plugin, setup(&plugin, config, inspect("inspect,inspect-env"), limits(20_000, 16))).await.unwrap().value;
    assert!(values.summary.contains("DB_PASSWORD=env-file-secret-31") && values.summary.contains("MODE=web"), "{}", values.summary);
}
