//! The runtime around the sandbox against an attacker: native code planted
//! in the compiled cache (C), a lockfile entry shadowing a built-in (D), a
//! dry run that must change nothing whatever the plugin kind (G), a backup
//! directory from elsewhere choosing where it restores (H), and a plugin
//! reading what bosun keeps to itself (I). Real compiled plugins, the real
//! `bosun` binary, real files and loopback servers.

use crate::common;

use std::collections::BTreeMap;
use std::ops::Range;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use bosun::capability::GrantSpec;
use bosun::bindings::backup_types::{BackupKind, BackupRequest, RestoreRequest};
use bosun::bindings::notify::{Channel, Event, Severity};
use bosun::plugin::{CacheOutcome, PluginError, Runtime};
use common::project::{Project, sha256_hex, stderr, stdout};
use common::recorder::Recorder;
use common::*;
use serde_json::json;

// ---------------------------------------------------------------- helpers

/// Exit code 2 (bad input) with one line that contains each of `expected`.
fn assert_bad_input(out: &Output, expected: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for part in expected {
        assert!(err.contains(part), "expected {part:?} in {err}");
    }
}

/// Every entry under `root` (not following symlinks) with its kind, mode
/// and contents: what "nothing changed" is compared on.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut seen = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        let mode = meta.permissions().mode();
        let what = if meta.is_dir() {
            let mut children: Vec<PathBuf> = std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()).collect();
            children.sort();
            pending.extend(children);
            format!("dir {mode:o}")
        } else if meta.is_symlink() {
            format!("link -> {}", std::fs::read_link(&path).unwrap().display())
        } else {
            format!("file {mode:o} {}", sha256_hex(&std::fs::read(&path).unwrap()))
        };
        seen.insert(path.strip_prefix(root).unwrap().to_path_buf(), what);
    }
    seen
}

fn http_grant(url: &str) -> GrantSpec {
    GrantSpec { http: vec![url.to_string()], ..Default::default() }
}

// ------------------------------------------------- C: the compiled cache

/// The only `.cwasm` entry in `cache` (one plugin loaded).
fn cwasm_entries(cache: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(cache).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "cwasm")).collect();
    entries.sort();
    entries
}

/// Where `.text` (the machine code) lies in a cache entry: a 32-byte tag,
/// then wasmtime's ELF image.
fn machine_code(entry: &[u8]) -> Range<usize> {
    let elf = &entry[32..];
    assert_eq!(&elf[..4], b"\x7fELF", "a cache entry is a tag and an ELF image");
    let at = |offset: usize, len: usize| elf[offset..offset + len].iter().rev().fold(0usize, |n, b| n << 8 | *b as usize);
    let (section_headers, header_size, count, names_index) = (at(0x28, 8), at(0x3a, 2), at(0x3c, 2), at(0x3e, 2));
    let header = |i: usize| section_headers + i * header_size;
    let names = at(header(names_index) + 0x18, 8);
    for i in 0..count {
        let name_at = names + at(header(i), 4);
        let name = &elf[name_at..name_at + elf[name_at..].iter().position(|b| *b == 0).unwrap()];
        if name == b".text" {
            let (offset, size) = (at(header(i) + 0x18, 8), at(header(i) + 0x20, 8));
            assert!(size > 0);
            return 32 + offset..32 + offset + size;
        }
    }
    panic!("no .text section in the cache entry");
}

/// The http plugin still judges a loopback server correctly: the code that
/// ran is the http plugin's own.
async fn http_check_works(runtime: &Runtime) -> CacheOutcome {
    let (url, seen) = http_server(200, "up").await;
    let plugin = runtime.load(&builtin("http"), "http").unwrap();
    let called = runtime.check(&plugin, setup(&plugin, json!({"url": format!("{url}/health")}), http_grant(&url), limits(10_000, 64))).await;
    assert!(called.unwrap().value.passed);
    assert_eq!(seen.lock().unwrap().iter().map(|(path, _)| path.as_str()).collect::<Vec<_>>(), ["/health"]);
    plugin.cache
}

#[tokio::test]
async fn machine_code_overwritten_in_the_cache_is_recompiled_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    assert_eq!(http_check_works(&Runtime::new(cache.clone()).unwrap()).await, CacheOutcome::Compiled);
    let [entry] = &cwasm_entries(&cache)[..] else { panic!("one entry") };
    let mut bytes = std::fs::read(entry).unwrap();
    // int3 over all of it: running any of this code would kill the test.
    let code = machine_code(&bytes);
    bytes[code].fill(0xcc);
    std::fs::write(entry, &bytes).unwrap();

    assert_eq!(http_check_works(&Runtime::new(cache.clone()).unwrap()).await, CacheOutcome::Compiled, "recompiled, not loaded");
    assert_ne!(std::fs::read(entry).unwrap(), bytes, "the planted entry was replaced by bosun's own");
    assert_eq!(http_check_works(&Runtime::new(cache).unwrap()).await, CacheOutcome::Hit, "bosun's own entry loads again");
}

#[tokio::test]
async fn another_plugins_cached_code_in_an_entrys_place_is_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let runtime = Runtime::new(cache.clone()).unwrap();
    http_check_works(&runtime).await;
    let [http_entry] = &cwasm_entries(&cache)[..] else { panic!("one entry") };
    let http_entry = http_entry.clone();
    runtime.load(&test_plugin("hostile-check"), "hostile-check").unwrap();
    let hostile_entry = cwasm_entries(&cache).into_iter().find(|e| *e != http_entry).unwrap();
    drop(runtime);

    // A validly signed entry, but for another component: copied over, and linked.
    std::fs::copy(&hostile_entry, &http_entry).unwrap();
    assert_eq!(http_check_works(&Runtime::new(cache.clone()).unwrap()).await, CacheOutcome::Compiled);
    std::fs::remove_file(&http_entry).unwrap();
    std::os::unix::fs::symlink(&hostile_entry, &http_entry).unwrap();
    assert_eq!(http_check_works(&Runtime::new(cache.clone()).unwrap()).await, CacheOutcome::Compiled);
    assert!(!http_entry.is_symlink(), "the link was replaced by bosun's own entry");

    // A FIFO in its place neither hangs the load nor is read.
    std::fs::remove_file(&http_entry).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&http_entry).status().unwrap().success());
    let loaded = tokio::time::timeout(std::time::Duration::from_secs(60), http_check_works(&Runtime::new(cache).unwrap())).await;
    assert_eq!(loaded.expect("a FIFO entry does not block the load"), CacheOutcome::Compiled);
}

#[tokio::test]
async fn the_cache_key_is_private_and_one_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    http_check_works(&Runtime::new(cache.clone()).unwrap()).await;
    let key = cache.join("key");
    let meta = std::fs::symlink_metadata(&key).unwrap();
    assert!(meta.is_file() && meta.len() == 32, "{meta:?}");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = Runtime::new(cache.clone()).err().expect("a key others can read is refused").to_string();
    assert!(refused.contains(&key.display().to_string()) && refused.contains("mode 644") && refused.contains("remove it"), "{refused}");

    // A key replaced (the old entries' tags no longer match) recompiles them all.
    std::fs::remove_file(&key).unwrap();
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(http_check_works(&Runtime::new(cache.clone()).unwrap()).await, CacheOutcome::Compiled);
    // And a key removed is made anew, at random.
    std::fs::remove_file(&key).unwrap();
    assert_eq!(http_check_works(&Runtime::new(cache).unwrap()).await, CacheOutcome::Compiled);
    assert_ne!(std::fs::read(&key).unwrap(), [7u8; 32]);
}

#[test]
fn bosun_check_warns_once_naming_the_tampered_entry_and_still_checks() {
    let server = Recorder::start(200, "up");
    let project = Project::new(&format!(
        "[project]\nname = \"t\"\n\n[checks.up]\nurl = \"{}/health\"\n\n[plugins.http.grant]\nhttp = [\"{}\"]\n",
        server.url, server.url
    ));
    let run = || {
        let out = project.bosun(&["check"]);
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };
    assert_eq!(run(), "", "the first run compiles quietly");
    let cache = project.path().join(".bosun/cache/compiled");
    let [entry] = &cwasm_entries(&cache)[..] else { panic!("one entry") };
    let mut bytes = std::fs::read(entry).unwrap();
    let code = machine_code(&bytes);
    bytes[code.start + code.len() / 2] ^= 0x01;
    std::fs::write(entry, &bytes).unwrap();

    let warned = run();
    assert_eq!(warned.trim_end().lines().count(), 1, "one line: {warned}");
    let named = format!("/.bosun/cache/compiled/{}", entry.file_name().unwrap().to_string_lossy());
    assert!(warned.contains("WARN") && warned.contains(&named) && warned.contains("recompiling"), "{warned}");
    assert_eq!(run(), "", "recompiled once, then loaded quietly");
    assert_eq!(server.requests().len(), 3, "every run checked the server");
}

// ----------------------------------------------- D: the installed store

/// `wasm` with a manifest naming it `name` put in front of its own (the
/// first `bosun:manifest` section is the one read).
fn renamed(wasm: &[u8], name: &str) -> Vec<u8> {
    let text = bosun_plugin_build::find_custom_section(wasm, bosun_plugin_build::MANIFEST_SECTION).unwrap();
    let mut manifest: toml::Table = toml::from_str(std::str::from_utf8(&text).unwrap()).unwrap();
    manifest.insert("name".into(), name.into());
    let mut section = Vec::new();
    leb128(bosun_plugin_build::MANIFEST_SECTION.len(), &mut section);
    section.extend_from_slice(bosun_plugin_build::MANIFEST_SECTION.as_bytes());
    section.extend_from_slice(toml::to_string(&manifest).unwrap().as_bytes());
    let mut out = wasm[..8].to_vec();
    out.push(0);
    leb128(section.len(), &mut out);
    out.extend(section);
    out.extend_from_slice(&wasm[8..]);
    out
}

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            return out.push(byte);
        }
        out.push(byte | 0x80);
    }
}

/// A project whose check `up` uses plugin `plugin` on `server`, where the
/// `http` plugin is granted a command too (what a shadowing entry would get).
fn store_project(server: &Recorder, plugin: &str, marker: &Path) -> Project {
    let project = Project::new(&format!(
        "[project]\nname = \"t\"\n\n[checks.up]\nplugin = \"{plugin}\"\nurl = \"{url}/health\"\nmode = \"process\"\nargv = [\"touch\", \"{marker}\"]\n\n\
         [plugins.http.grant]\nhttp = [\"{url}\"]\nprocess = [\"run:touch **\"]\n",
        url = server.url,
        marker = marker.display()
    ));
    let out = project.bosun(&["plugin", "install", &project.write("hostile.wasm", &test_plugin("hostile-check")), "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    project
}

/// Renames lockfile entry `from` to `to`, as an attacker editing it would.
fn rekey_lock_entry(project: &Project, from: &str, to: &str) {
    let path = project.path().join(".bosun/plugins.lock");
    let mut lock: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let plugins = lock["plugin"].as_table_mut().unwrap();
    let entry = plugins.remove(from).unwrap();
    plugins.insert(to.into(), entry);
    std::fs::write(path, toml::to_string(&lock).unwrap()).unwrap();
}

#[test]
fn a_lockfile_entry_keyed_like_a_built_in_is_refused_at_load() {
    let server = Recorder::start(200, "up");
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let project = store_project(&server, "http", &marker);
    rekey_lock_entry(&project, "hostile-check", "http");

    let out = project.bosun(&["check"]);
    assert_bad_input(&out, &["plugins.lock has an entry http, the name of a built-in plugin", "bosun plugin remove http"]);
    assert!(!marker.exists(), "the shadowing component never ran with http's grants");
    assert!(server.requests().is_empty(), "and nothing ran in its place");
    let out = project.bosun(&["plugin", "inspect", "http"]);
    assert!(stderr(&out).contains("the name of a built-in plugin"), "{}", stderr(&out));

    // The way out the error names works, and the built-in is back: it
    // refuses the keys the shadowing plugin took, and runs once they go.
    assert!(project.bosun(&["plugin", "remove", "http"]).status.success());
    let out = project.bosun(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let lines: Vec<String> = stderr(&out).lines().map(String::from).collect();
    assert!(lines[0].contains("bosun.toml:7:8: checks.up.mode: unknown key") && lines[1].contains("bosun.toml:8:8: checks.up.argv: unknown key"), "{lines:?}");
    let config = std::fs::read_to_string(project.path().join("bosun.toml")).unwrap();
    let config: String = config.lines().filter(|l| !l.starts_with("mode =") && !l.starts_with("argv =")).map(|l| format!("{l}\n")).collect();
    project.write("bosun.toml", config.as_bytes());
    let out = project.bosun(&["check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 1);
    assert!(!marker.exists());
}

#[test]
fn a_lockfile_entry_whose_component_names_itself_otherwise_is_refused() {
    let server = Recorder::start(200, "up");
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let project = store_project(&server, "foo", &marker);
    rekey_lock_entry(&project, "hostile-check", "foo");
    assert_bad_input(&project.bosun(&["check"]), &["the entry foo holds a component named hostile-check"]);
    assert!(!marker.exists());

    // Installing a component that calls itself `http` was refused already.
    let http_named = renamed(&test_plugin("hostile-check"), "http");
    let before = project.lockfile();
    let out = project.bosun(&["plugin", "install", &project.write("http.wasm", &http_named), "--yes"]);
    assert_bad_input(&out, &["http is the name of a built-in plugin", "nothing installed"]);
    assert_eq!(project.lockfile(), before);

    // Stored by hand under the name `foo`, it is refused at load.
    let digest = sha256_hex(&http_named);
    std::fs::write(project.path().join(format!(".bosun/plugins/{digest}.wasm")), &http_named).unwrap();
    let lock = project.path().join(".bosun/plugins.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    let old_digest = text.lines().find_map(|l| l.strip_prefix("digest = \"sha256:")).unwrap().trim_end_matches('"').to_string();
    std::fs::write(&lock, text.replace(&old_digest, &digest)).unwrap();
    assert_bad_input(&project.bosun(&["check"]), &["the entry foo holds a component named http"]);
    assert!(!marker.exists());
}

#[test]
fn a_lockfile_digest_that_is_a_path_names_no_file() {
    let server = Recorder::start(200, "up");
    let dir = tempfile::tempdir().unwrap();
    let project = store_project(&server, "hostile-check", &dir.path().join("ran"));
    let victim = project.path().join(".bosun/victim.wasm");
    std::fs::write(&victim, "not bosun's to remove").unwrap();
    let lock = project.path().join(".bosun/plugins.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    let digest = text.lines().find_map(|l| l.strip_prefix("digest = ")).unwrap().to_string();
    std::fs::write(&lock, text.replace(&digest, "\"sha256:../victim\"")).unwrap();

    assert_bad_input(&project.bosun(&["check"]), &["plugins.lock: plugin hostile-check", "is not sha256:<64 hex digits>"]);
    assert!(project.bosun(&["plugin", "remove", "hostile-check"]).status.success());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "not bosun's to remove", "removing the entry removed no file outside the store");
}

// ------------------------------------------------------------ G: dry runs

/// What a hostile-dry-* plugin is pointed at, and what it must leave alone.
struct DryTargets {
    server: Recorder,
    dir: tempfile::TempDir,
    marker: PathBuf,
}

impl DryTargets {
    fn new() -> DryTargets {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("existing"), "keep me").unwrap();
        let marker = dir.path().join("touched");
        DryTargets { server: Recorder::start(200, "done"), dir, marker }
    }

    fn config(&self) -> serde_json::Value {
        json!({"url": self.server.url, "dir": self.path(), "marker": self.marker, "container": "hostile-dry"})
    }

    fn path(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    /// Everything the plugin's manifest asks for, granted.
    fn grant(&self) -> GrantSpec {
        GrantSpec {
            http: vec![self.server.url.clone()],
            fs: vec![format!("rw:{}", self.path().display())],
            process: vec!["run:touch **".into()],
            docker: vec!["start,stop,exec:hostile-*".into()],
            notify: vec!["*".into()],
            ..Default::default()
        }
    }

    /// Nothing happened: only the GET was sent, no file changed, no process ran.
    fn assert_untouched(&self, before: &BTreeMap<PathBuf, String>) {
        let requests: Vec<String> = self.server.requests().iter().map(|r| format!("{} {}", r.method, r.uri)).collect();
        assert_eq!(requests, ["GET /orders/42"], "only the read was sent");
        assert_eq!(&snapshot(&self.path()), before, "no file changed");
        assert!(!self.marker.exists(), "no process ran");
    }
}

/// The calls every hostile-dry-* plugin tries, as a dry run records them.
fn assert_all_held_back(planned: &[bosun::capability::PlannedCall], targets: &DryTargets) {
    let calls: Vec<String> = planned.iter().map(|p| format!("{} {}", p.call, p.detail)).collect();
    let cancel = format!("{}/orders/42/cancel", targets.server.url);
    for method in ["POST", "PUT", "DELETE", "PATCH", "TRACE", "BOSUN-HOSTILE", "get"] {
        assert!(calls.contains(&format!("http.request {method} {cancel}")), "{method} held back: {calls:#?}");
    }
    for call in ["fs.write-small", "fs.create-dir", "fs.copy", "fs.archive", "fs.rename", "fs.remove", "process.run", "docker.stop", "docker.start", "docker.exec", "notify.emit"] {
        assert!(planned.iter().any(|p| p.call == call), "{call} recorded: {calls:#?}");
    }
    assert!(!calls.iter().any(|c| c.contains(" GET ")), "the GET was sent, not held back: {calls:#?}");
}

#[tokio::test]
async fn a_check_plugin_in_a_dry_run_changes_nothing() {
    let targets = DryTargets::new();
    let before = snapshot(&targets.path());
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-dry-check"), "hostile-dry-check").unwrap();
    let called = runtime.check(&plugin, setup_with(&plugin, targets.config(), targets.grant(), limits(20_000, 64), true)).await.unwrap();
    assert_all_held_back(&called.planned, &targets);
    assert!(called.events.is_empty(), "no event raised");
    let outcomes: Vec<&str> = called.value.conditions.iter().map(|c| c.condition.as_str()).collect();
    assert!(outcomes.iter().any(|o| o.starts_with("http POST: ") && o.contains("not sent: this is a dry run")), "{outcomes:#?}");
    targets.assert_untouched(&before);
}

#[tokio::test]
async fn a_backup_plugin_in_a_dry_run_changes_nothing_in_backup_or_restore() {
    let targets = DryTargets::new();
    let before = snapshot(&targets.path());
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-dry-backup"), "hostile-dry-backup").unwrap();
    let setup = || setup_with(&plugin, targets.config(), targets.grant(), limits(20_000, 64), true);
    let request = BackupRequest { set: "data".into(), kind: BackupKind::Full, dest_dir: targets.path().display().to_string(), base_dir: None };
    let called = runtime.backup(&plugin, setup(), request).await.unwrap();
    assert_all_held_back(&called.planned, &targets);
    targets.assert_untouched(&before);

    let request = RestoreRequest { backup_dir: targets.path().display().to_string(), target: None, base_dirs: vec![] };
    let called = runtime.restore(&plugin, setup(), request).await.unwrap();
    assert_all_held_back(&called.planned, &targets);
    let requests = targets.server.requests();
    assert_eq!(requests.iter().filter(|r| r.method != "GET").count(), 0, "{requests:?}");
    assert_eq!(snapshot(&targets.path()), before);
    assert!(!targets.marker.exists());
}

#[tokio::test]
async fn a_naming_plugin_in_a_dry_run_changes_nothing() {
    let targets = DryTargets::new();
    let before = snapshot(&targets.path());
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-dry-naming"), "hostile-dry-naming").unwrap();
    let called = runtime.render(&plugin, setup_with(&plugin, targets.config(), targets.grant(), limits(20_000, 64), true), vec![]).await.unwrap();
    assert!(called.value.starts_with("hostile-dry-"), "{}", called.value);
    assert_all_held_back(&called.planned, &targets);
    targets.assert_untouched(&before);
}

#[tokio::test]
async fn a_notifier_in_a_dry_run_sends_nothing() {
    let server = Recorder::start(200, "ok");
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&builtin("webhook"), "webhook").unwrap();
    let event = Event { kind: "deploy.failed".into(), severity: Severity::Failure, title: "web failed".into(), body: String::new(), facts: vec![], link: None };
    let channel = Channel { name: "ops".into(), url: format!("generic+{}/hook", server.url), params: vec![] };
    let setup = setup_with(&plugin, json!({}), http_grant(&server.url), limits(10_000, 64), true);
    let outcome = runtime.deliver(&plugin, setup, event, channel).await;
    let planned = match outcome {
        Ok(called) => called.planned,
        Err(PluginError::FailedInDryRun { planned, message, .. }) => {
            assert!(message.contains("not sent"), "{message}");
            planned
        }
        Err(other) => panic!("expected the delivery held back, got {other}"),
    };
    let calls: Vec<String> = planned.iter().map(|p| format!("{} {}", p.call, p.detail)).collect();
    assert_eq!(calls, [format!("http.request POST {}/hook", server.url)]);
    assert!(server.requests().is_empty(), "the notifier's POST never left");
}

#[tokio::test]
async fn a_plugin_failing_after_a_held_back_call_says_so() {
    let targets = DryTargets::new();
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-dry-check"), "hostile-dry-check").unwrap();
    let mut config = targets.config();
    config["fail"] = json!(true);
    match runtime.check(&plugin, setup_with(&plugin, config, targets.grant(), limits(20_000, 64), true)).await {
        Err(e @ PluginError::FailedInDryRun { .. }) => {
            let text = e.to_string();
            assert!(text.contains("failed in a dry run, after bosun held back") && text.contains("http.request POST"), "{text}");
        }
        other => panic!("expected FailedInDryRun, got {other:?}"),
    }
}

/// A project with check `orders`: the built-in http plugin POSTing to `server`.
fn post_check_project(server: &Recorder) -> Project {
    Project::new(&format!(
        "[project]\nname = \"t\"\n\n[checks.orders]\nurl = \"{url}/api/orders/42/cancel\"\nmethod = \"POST\"\nbody = \"{{}}\"\n\n\
         [checks.health]\nurl = \"{url}/health\"\n\n[plugins.http.grant]\nhttp = [\"{url}\"]\n",
        url = server.url
    ))
}

#[test]
fn bosun_check_dry_run_sends_no_post_and_reports_it_not_sent() {
    let server = Recorder::start(200, "cancelled");
    let project = post_check_project(&server);
    let out = project.bosun(&["check", "--dry-run"]);
    let text = stdout(&out);
    assert!(out.status.success(), "a held-back check is not a failure: {text} {}", stderr(&out));
    let cancel = format!("{}/api/orders/42/cancel", server.url);
    assert!(text.contains("DRY  orders [http]") && text.contains("not judged"), "{text}");
    assert!(text.contains(&format!("not sent (dry run): http.request POST {cancel}")), "{text}");
    assert!(text.contains("PASS health [http]"), "a GET check still runs: {text}");
    let requests: Vec<String> = server.requests().iter().map(|r| format!("{} {}", r.method, r.uri)).collect();
    assert_eq!(requests, ["GET /health"], "the POST never reached the server");

    let out = project.bosun(&["--json", "check", "orders", "--dry-run"]);
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports[0]["planned"], json!([{"call": "http.request", "detail": format!("POST {cancel}")}]), "{reports}");
    assert_eq!(server.requests().len(), 1);

    // Without --dry-run the same check really posts: the server was reachable all along.
    let out = project.bosun(&["check", "orders"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(server.requests().last().map(|r| (r.method.clone(), r.uri.clone())), Some(("POST".into(), "/api/orders/42/cancel".into())));
}

// ------------------------------------------- H: backups from elsewhere

/// A project whose set `data` (dir-archive) backs up `<root>/data` into
/// `<root>/backups`, with one full backup taken and copied to
/// `<root>/elsewhere/<id>` (as if brought from another machine).
struct Foreign {
    project: Project,
    root: PathBuf,
    _dir: tempfile::TempDir,
    copy: PathBuf,
    original: BTreeMap<PathBuf, String>,
}

impl Foreign {
    fn new() -> Foreign {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let data = root.join("data");
        std::fs::create_dir_all(data.join("nested")).unwrap();
        std::fs::write(data.join("a.txt"), "alpha").unwrap();
        std::fs::write(data.join("nested/b.txt"), "beta").unwrap();
        std::fs::create_dir_all(root.join("outside")).unwrap();
        let project = Project::new(&Foreign::config(&root, true));
        let out = project.bosun(&["--json", "backup", "run", "data", "--full"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let taken: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = taken["backup"]["id"].as_str().unwrap();
        let copy = root.join("elsewhere").join(id);
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        assert!(std::process::Command::new("cp").arg("-a").arg(root.join("backups").join(id)).arg(&copy).status().unwrap().success());
        let original = snapshot(&data);
        std::fs::remove_dir_all(&data).unwrap();
        Foreign { project, root, _dir: dir, copy, original }
    }

    fn config(root: &Path, with_set: bool) -> String {
        let set = match with_set {
            true => format!(
                "[backups.data]\nstrategy = \"dir-archive\"\ndest = \"{root}/backups\"\npaths = [\"{root}/data\"]\n\n",
                root = root.display()
            ),
            false => String::new(),
        };
        format!("[project]\nname = \"t\"\nstate_dir = \"{root}/state\"\n\n{set}[plugins.dir-archive.grant]\nfs = [\"ro:{root}/data\"]\n", root = root.display())
    }

    fn restore(&self, extra: &[&str]) -> Output {
        self.project.bosun(&[&["backup", "restore", self.copy.to_str().unwrap()], extra].concat())
    }

    /// Points the copy's manifest at `paths` (its artifacts' hashes do not cover it).
    fn record_paths(&self, paths: &[PathBuf]) {
        let file = self.copy.join("replication_manifest.json");
        let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        manifest["strategy_config"]["paths"] = json!(paths);
        std::fs::write(file, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    }

    /// Nothing was restored anywhere under the root.
    fn assert_nothing_restored(&self) {
        assert!(!self.root.join("data").exists(), "nothing restored into data");
        assert_eq!(std::fs::read_dir(self.root.join("outside")).unwrap().count(), 0, "nothing restored outside");
    }
}

#[test]
fn a_foreign_backup_restored_in_place_needs_confirmation() {
    let fx = Foreign::new();
    let copy = fx.copy.display().to_string();
    assert_bad_input(&fx.restore(&[]), &[&format!("backup dir {copy} is not in the catalog"), "needs confirmation", "pass --yes", "--target DIR"]);
    assert_bad_input(&fx.project.bosun(&["--json", "backup", "restore", &copy]), &["pass --yes"]);
    fx.assert_nothing_restored();

    // A dry run asks nothing and writes nothing.
    let out = fx.restore(&["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    fx.assert_nothing_restored();

    let out = fx.restore(&["--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(snapshot(&fx.root.join("data")), fx.original);
}

#[test]
fn on_a_terminal_it_shows_the_strategy_and_paths_and_asks() {
    let fx = Foreign::new();
    let ask = |answer: &str| {
        let command = format!("{} backup restore {}", env!("CARGO_BIN_EXE_bosun"), fx.copy.display());
        let mut child = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(fx.project.path())
            .env_remove("BOSUN_CONFIG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(format!("{answer}\n").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = ask("n");
    let shown = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("is not in this machine's catalog") && shown.contains("uses strategy dir-archive"), "{shown}");
    assert!(shown.contains(&format!("writes {}", fx.root.join("data").display())) && shown.contains("restore it? [y/N]"), "{shown}");
    assert!(shown.contains("not confirmed; nothing restored"), "{shown}");
    fx.assert_nothing_restored();

    let out = ask("y");
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(snapshot(&fx.root.join("data")), fx.original);
}

#[test]
fn a_foreign_backup_may_not_restore_outside_its_sets_paths() {
    let fx = Foreign::new();
    let copy = fx.copy.display().to_string();
    let outside = fx.root.join("outside");
    std::fs::create_dir_all(fx.root.join("data")).unwrap();
    std::os::unix::fs::symlink(&outside, fx.root.join("data/link")).unwrap();
    let spellings = [outside.clone(), fx.root.join("data/../outside"), fx.root.join("data/link"), fx.root.join("data/link/deeper"), PathBuf::from("/")];
    for path in &spellings {
        fx.record_paths(&[fx.root.join("data"), path.clone()]);
        for flags in [&["--yes"][..], &["--yes", "--dry-run"]] {
            let out = fx.restore(flags);
            assert_bad_input(&out, &[&format!("backup dir {copy} is not in the catalog"), &path.display().to_string(), "outside the paths of [backups.data]", "--allow-paths"]);
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing written through {}", path.display());
    }
    assert_eq!(std::fs::read_dir(fx.root.join("data")).unwrap().map(|e| e.unwrap().file_name()).collect::<Vec<_>>(), ["link"]);
}

#[test]
fn a_foreign_backup_of_a_set_bosun_toml_lacks_needs_allow_paths_or_a_target() {
    let fx = Foreign::new();
    std::fs::write(fx.project.path().join("bosun.toml"), Foreign::config(&fx.root, false)).unwrap();
    let copy = fx.copy.display().to_string();
    let out = fx.restore(&["--yes"]);
    assert_bad_input(&out, &[&format!("backup dir {copy} is not in the catalog and its set data is not in bosun.toml"), "--allow-paths", "--target DIR"]);
    fx.assert_nothing_restored();

    // --target stays what it was: a restore under a directory of your choice.
    let target = fx.root.join("look");
    let out = fx.restore(&["--target", target.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(snapshot(&target.join(fx.root.join("data").strip_prefix("/").unwrap())), fx.original);
    fx.assert_nothing_restored();

    // And the operator may vouch for it.
    let out = fx.restore(&["--yes", "--allow-paths"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(snapshot(&fx.root.join("data")), fx.original);
}

#[test]
fn a_foreign_backup_naming_another_strategy_than_its_set_is_refused() {
    let fx = Foreign::new();
    let file = fx.copy.join("replication_manifest.json");
    let manifest = std::fs::read_to_string(&file).unwrap().replace("\"strategy\": \"dir-archive\"", "\"strategy\": \"db-dump\"");
    std::fs::write(&file, manifest).unwrap();
    for flags in [&["--yes"][..], &["--yes", "--allow-paths"]] {
        assert_bad_input(&fx.restore(flags), &["was taken with strategy db-dump, but [backups.data] uses dir-archive", "--target DIR"]);
    }
    fx.assert_nothing_restored();
}

#[test]
fn a_backup_in_the_catalog_restores_in_place_without_asking() {
    let fx = Foreign::new();
    let list = fx.project.bosun(&["--json", "backup", "list"]);
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let id = listed[0]["id"].as_str().unwrap();
    let out = fx.project.bosun(&["backup", "restore", id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(snapshot(&fx.root.join("data")), fx.original);
}

// ------------------------------------------ I: what bosun keeps to itself

/// `docker_host` says which engine a plugin's docker calls reach; bosun reads
/// it and the plugin never sees it, so nothing in a plugin's input names an
/// engine, and a plugin cannot learn or choose one through its config.
#[test]
fn a_plugins_config_never_holds_the_docker_host() {
    let project = Project::new(
        "[project]\nname = \"t\"\n\n[hosts.b]\ndocker = \"unix:///nonexistent/docker.sock\"\n\n\
         [checks.echo]\nplugin = \"hostile-check\"\nmode = \"config\"\ndocker_host = \"b\"\nurl = \"http://127.0.0.1:9/kept\"\n",
    );
    let installed = project.bosun(&["plugin", "install", &project.write("hostile.wasm", &test_plugin("hostile-check")), "--yes"]);
    assert!(installed.status.success(), "{}", stderr(&installed));
    let out = project.bosun(&["check", "echo", "--json"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let seen: serde_json::Value = serde_json::from_str(report[0]["summary"].as_str().unwrap()).unwrap();
    assert_eq!(seen, json!({"mode": "config", "url": "http://127.0.0.1:9/kept"}), "the plugin got its own keys and nothing of bosun's");
}
