//! The `bosun` binary as users run it: plugin lifecycle, bad input, checks.

use crate::common;

use common::project::{Project, stderr, stdout};

use std::path::Path;

/// A bad file: exit 2, one line naming the file and the fix, nothing installed.
fn assert_rejected(project: &Project, file: &str, expected: &str) {
    let before = project.lockfile();
    let out = project.bosun(&["plugin", "install", file]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{file}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(expected), "{file}: expected {expected:?} in {err}");
    assert!(err.contains("nothing installed"), "{err}");
    assert_eq!(project.lockfile(), before, "the store is untouched");
}

#[test]
fn bad_plugin_files_are_refused_and_nothing_is_touched() {
    let project = Project::new("[project]\nname = \"t\"\n");
    let good = common::test_plugin("hostile-check");
    let out = project.bosun(&["plugin", "install", &project.write("good.wasm", &good)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let installed = project.lockfile().unwrap();

    assert_rejected(&project, &project.write("notes.wasm", b"hello, not wasm"), "not a WebAssembly file");
    let core_module = wat_core_module();
    assert_rejected(&project, &project.write("core.wasm", &core_module), "core wasm module, not a component");
    assert_rejected(&project, &project.write("nomanifest.wasm", &common::test_plugin("no-manifest")), "no bosun:manifest section");
    assert_rejected(&project, &project.write("future.wasm", &common::test_plugin("future-api")), "plugin API 9.0.0");
    assert_rejected(&project, &project.write("truncated.wasm", &good[..good.len() / 2]), "truncated or corrupt");
    let out = project.bosun(&["plugin", "install", &project.write("pinned.wasm", &good), "--sha256", &"0".repeat(64)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("digest mismatch"), "{}", stderr(&out));
    assert_eq!(project.lockfile().unwrap(), installed, "the installed plugin is untouched");
}

/// `(module)` in binary form: a valid core module, not a component.
fn wat_core_module() -> Vec<u8> {
    vec![0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
}

#[test]
fn bad_config_is_one_line_with_file_line_and_key() {
    let project = Project::new("[project]\nname = \"t\"\n\n[plugins.http]\ntimeout_ms = \"soon\"\n");
    let out = project.bosun(&["plugin", "list"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bosun.toml:5:14: plugins.http.timeout_ms: expected a number, found the string \"soon\""), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// A check's keys are checked against the schema the http plugin's config
/// type gives, when bosun.toml is loaded: `condtions` (which the plugin used
/// to drop, judging `[STATUS] == 200` instead) stops `bosun check` with the
/// line, the key and the likely one, before any request; `bosun doctor` says
/// the same. Spelled right, the condition is the one judged.
#[test]
fn a_typo_in_a_checks_keys_is_refused_at_load_with_the_likely_key() {
    use common::recorder::Recorder;
    let site = Recorder::start(200, "fine");
    let config = |conditions_key: &str| {
        format!(
            "[project]\nname = \"t\"\n\n[checks.web]\nplugin = \"http\"\nurl = \"{u}/\"\n{conditions_key} = [\"[STATUS] == 503\"]\ntimeout_ms = \"5s\"\n\n[plugins.http.grant]\nhttp = [\"{u}\"]\n",
            u = site.url
        )
    };
    let project = Project::new(&config("condtions"));
    let out = project.bosun(&["check"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].ends_with("bosun.toml:7:13: checks.web.condtions: unknown key; did you mean `conditions`?"), "{err}");
    assert!(lines[1].ends_with("bosun.toml:8:14: checks.web.timeout_ms: expected a number, found the string \"5s\""), "{err}");
    assert!(site.requests().is_empty(), "nothing ran");

    let out = project.bosun(&["doctor"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL config") && text.contains("checks.web.condtions: unknown key; did you mean `conditions`?"), "{text}");

    let fixed = Project::new(&config("conditions").replace("timeout_ms = \"5s\"", "timeout_ms = 5000"));
    let out = fixed.bosun(&["check"]);
    assert_eq!(out.status.code(), Some(1), "the condition written is judged: {}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("FAIL web [http]") && stdout(&out).contains("[STATUS] == 503"), "{}", stdout(&out));
    assert_eq!(site.requests().len(), 1);
}

#[test]
fn every_config_problem_is_reported_at_once_one_line_each() {
    let config = "[services.web]\nimage = \"shop-web\"\nrestart = \"sometimes\"\nmemory = \"lots\"\n\n[suites]\nsmoke = [\"nope\"]\n";
    let project = Project::new(config);
    let out = project.bosun(&["releases"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains("bosun.toml:3:11: services.web.restart:"), "{err}");
    assert!(lines[1].contains("bosun.toml:4:10: services.web.memory:"), "{err}");
    assert!(lines[2].contains("bosun.toml:7:9: suites.smoke: no check called nope"), "{err}");
}

#[test]
fn upgrade_needs_the_flag_and_consent_for_more_capabilities() {
    let project = Project::new("[project]\nname = \"t\"\n");
    let v1 = project.write("v1.wasm", &common::test_plugin("hostile-backup"));
    assert!(project.bosun(&["plugin", "install", &v1]).status.success());
    let same = project.bosun(&["plugin", "install", &v1]);
    assert!(same.status.success() && stdout(&same).contains("already installed"), "{}", stdout(&same));

    // Same plugin name, a different build asking for more: hostile-backup's
    // manifest with an extra capability appended to the component.
    let v2 = project.write("v2.wasm", &with_extra_capability(&common::test_plugin("hostile-backup")));
    let before = project.lockfile();
    let out = project.bosun(&["plugin", "install", &v2]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--upgrade"), "{}", stderr(&out));
    let out = project.bosun(&["plugin", "install", &v2, "--upgrade"]);
    assert_eq!(out.status.code(), Some(2), "no TTY and no --yes: refused");
    assert!(stderr(&out).contains("+ process: run:tar **"), "the diff is shown: {}", stderr(&out));
    assert_eq!(project.lockfile(), before);
    let out = project.bosun(&["plugin", "install", &v2, "--upgrade", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(project.lockfile().unwrap().contains("run:tar **"));

    let out = project.bosun(&["plugin", "remove", "hostile-backup"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!project.lockfile().unwrap().contains("hostile-backup"));
    assert_eq!(std::fs::read_dir(project.path().join(".bosun/plugins")).unwrap().count(), 0, "the component file is gone");
}

/// Rewrites the top-level manifest section (the one bosun reads first) with one more capability.
fn with_extra_capability(component: &[u8]) -> Vec<u8> {
    let manifest = bosun_plugin_build::find_custom_section(component, bosun_plugin_build::MANIFEST_SECTION).unwrap();
    let text = String::from_utf8(manifest).unwrap().replace("[capabilities]\n", "[capabilities]\nprocess = [\"run:tar **\"]\n");
    let mut out = Vec::new();
    // New section first so it is found before the original.
    out.extend_from_slice(&component[..8]);
    let section = wasm_encoder::CustomSection { name: bosun_plugin_build::MANIFEST_SECTION.into(), data: text.as_bytes().into() };
    out.push(0);
    wasm_encoder::Encode::encode(&section, &mut out);
    out.extend_from_slice(&component[8..]);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn authoring_path_new_build_install_check() {
    let (url, _seen) = common::http_server(200, "all good").await;
    let work = tempfile::tempdir().unwrap();
    let config = format!(
        "[project]\nname = \"t\"\n\n[checks.home]\nplugin = \"disk-ok\"\nurl = \"{url}/\"\n\n[plugins.disk-ok.grant]\nhttp = [\"{url}\"]\n"
    );
    let project = Project::new(&config);
    let out = project.bosun(&["plugin", "new", "smoke-check", "disk-ok", "--dir", &work.path().display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let crate_dir = work.path().join("disk-ok");
    let out = project.bosun(&["plugin", "install", &crate_dir.display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = project.bosun(&["check"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("PASS home [disk-ok]"), "{}", stdout(&out));
    let out = project.bosun(&["plugin", "inspect", "disk-ok"]);
    assert!(stdout(&out).contains("smoke-check") && stdout(&out).contains("http: *"), "{}", stdout(&out));
    assert!(stdout(&out).contains("url (string, required): URL that must answer 200"), "the schema of its Config: {}", stdout(&out));
    assert!(Path::new(&crate_dir).join("target").exists());
}

/// The path the README shows a plugin author: `examples/custom-check` built
/// with `bosun plugin build`, the component installed, then run as a check.
#[test]
fn the_custom_check_example_builds_installs_and_runs() {
    use common::recorder::Recorder;
    let site = Recorder::start(200, "<h1>Welcome to the shop</h1>");
    let example = common::repo_root().join("examples/custom-check");
    let project = Project::new(&format!(
        "[checks.welcome]\nplugin = \"body-contains\"\nurl = \"{u}/\"\nword = \"Welcome\"\n\n\
         [checks.sold-out]\nplugin = \"body-contains\"\nurl = \"{u}/\"\nword = \"Sold out\"\n\n\
         [plugins.body-contains.grant]\nhttp = [\"{u}\"]\n",
        u = site.url
    ));
    let out = project.bosun(&["plugin", "build", &example.display().to_string(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let built: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let component = built["components"][0].as_str().expect("one component").to_string();
    assert!(component.ends_with("body_contains.component.wasm"), "{component}");

    let out = project.bosun(&["plugin", "install", &component]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = project.bosun(&["check", "welcome"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("PASS welcome [body-contains]"), "{}", stdout(&out));
    let out = project.bosun(&["check", "sold-out"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("does not contain \"Sold out\""), "{}", stdout(&out));
    assert_eq!(site.requests().len(), 2);
}

#[test]
fn doctor_checks_config_grants_docker_and_toolchain() {
    let project = Project::new("[project]\nname = \"t\"\n\n[plugins.dir-archive.grant]\nfs = [\"ro:/nonexistent/bosun-doctor\"]\n");
    let out = project.bosun(&["doctor"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL grants") && text.contains("/nonexistent/bosun-doctor does not exist"), "{text}");
    assert!(text.contains("ok   docker") && text.contains("engine"), "Docker must be reachable for the tests: {text}");
    assert!(text.contains("ok   toolchain"), "{text}");
    assert!(text.contains("ok   runtime"), "{text}");

    let healthy = Project::new("[project]\nname = \"t\"\n");
    let out = healthy.bosun(&["--json", "doctor"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(findings.as_array().unwrap().iter().all(|f| f["ok"] == true));
}

/// A call the grants refuse is reported once (not as a warning and again as
/// the error), and stderr into a pipe carries no colour codes.
#[test]
fn a_denied_call_is_reported_once_without_colour() {
    let mut sleeper = std::process::Command::new("sleep").arg("4243.5").spawn().unwrap();
    let project = Project::new("[checks.web]\nplugin = \"process\"\ncmdline = \"sleep 4243.5\"\n");
    let out = project.bosun(&["check", "web"]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let (out_text, err_text) = (stdout(&out), stderr(&out));
    let all = format!("{out_text}{err_text}");
    assert_eq!(all.matches("denied process.find").count(), 1, "stdout: {out_text}\nstderr: {err_text}");
    assert!(all.contains("[plugins.process.grant] process = [\"find:"), "the line to add: {all}");
    assert!(!err_text.contains('\x1b'), "no ANSI codes into a pipe: {err_text:?}");
}
