//! Class A of the hostile suite: a plugin with ordinary fs grants tries to
//! read and write outside them (symlinks planted at destinations and temp
//! names, directories swapped for links mid-call, `..` after a link, FIFOs
//! and devices, bosun's own state under a covering grant). Each test asserts
//! the typed error and that nothing outside changed.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bosun::capability::GrantSpec;
use bosun::plugin::{PluginError, Runtime};
use common::*;
use serde_json::{Value, json};

/// `granted/` (the grant) beside `outside/` holding `victim`, all real paths.
struct Tree {
    _dir: tempfile::TempDir,
    granted: PathBuf,
    outside: PathBuf,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (granted, outside) = (root.join("granted"), root.join("outside"));
    std::fs::create_dir_all(granted.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(granted.join("sub/f"), "inside").unwrap();
    std::fs::write(outside.join("victim"), "untouched").unwrap();
    std::fs::write(outside.join("f"), "SECRET").unwrap();
    Tree { _dir: dir, granted, outside }
}

/// Every file under `dir` with its content (links as `-> target`).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            out.extend(snapshot(&path));
        } else if meta.is_symlink() {
            out.insert(path.clone(), format!("-> {}", std::fs::read_link(&path).unwrap().display()));
        } else {
            out.insert(path.clone(), std::fs::read_to_string(&path).unwrap_or_else(|_| "<binary>".into()));
        }
    }
    out
}

fn rw(dir: &Path) -> GrantSpec {
    grant_fs(&[format!("rw:{}", dir.display())])
}

async fn run_ops(runtime: &Runtime, ops: Value, granted: GrantSpec) -> Result<String, PluginError> {
    let plugin = runtime.load(&test_plugin("hostile-fs"), "hostile-fs").unwrap();
    let called = runtime.check(&plugin, setup(&plugin, json!({ "ops": ops }), granted, limits(5_000, 64))).await?;
    Ok(called.value.summary)
}

fn denial_text(result: Result<String, PluginError>, what: &str) -> String {
    match result {
        Err(PluginError::CapabilityDenied(denial)) => denial.to_string(),
        other => panic!("{what}: expected CapabilityDenied, got {other:?}"),
    }
}

fn failure_text(result: Result<String, PluginError>, what: &str) -> String {
    match result {
        Err(e) => e.to_string(),
        Ok(summary) => panic!("{what}: expected an error, the plugin got {summary:?}"),
    }
}

#[tokio::test]
async fn a_symlink_at_the_destination_is_replaced_never_written_through() {
    let t = tree();
    let (runtime, _cache) = runtime();
    let out = t.granted.join("out");
    let src = t.granted.join("sub/f").display().to_string();
    let ops = [
        json!({"op": "write", "path": out, "text": "plugin"}),
        json!({"op": "copy", "path": src, "to": out}),
        json!({"op": "archive", "path": t.granted.join("sub"), "to": out}),
        json!({"op": "run", "argv": ["/bin/echo", "plugin"], "to": out}),
    ];
    for op in ops {
        let before = snapshot(&t.outside);
        let _ = std::fs::remove_file(&out);
        std::os::unix::fs::symlink(t.outside.join("victim"), &out).unwrap();
        let granted = GrantSpec { process: vec!["run:/bin/echo *".into()], ..rw(&t.granted) };
        run_ops(&runtime, json!([op.clone()]), granted).await.unwrap_or_else(|e| panic!("{op}: {e}"));
        assert_eq!(snapshot(&t.outside), before, "{op}: nothing outside changed");
        assert!(std::fs::symlink_metadata(&out).unwrap().is_file(), "{op}: the link was replaced by the file");
    }
}

#[tokio::test]
async fn temp_names_planted_by_an_archive_are_never_written_through() {
    // The reported attack: an archive of dangling links named like the
    // host's temp files (one per pid), extracted into the grant, then a write.
    let t = tree();
    let archive = t.granted.join("links.tar");
    let mut tar = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    for pid in 1..2000 {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        tar.append_link(&mut header, format!(".out.partial-{pid}"), t.outside.join("planted")).unwrap();
    }
    tar.finish().unwrap();
    let (runtime, _cache) = runtime();
    let out = t.granted.join("out");
    let ops = json!([
        {"op": "extract", "path": archive, "to": t.granted},
        {"op": "write", "path": out, "text": "plugin"},
        {"op": "copy", "path": t.granted.join("sub/f"), "to": out},
    ]);
    run_ops(&runtime, ops, rw(&t.granted)).await.unwrap();
    assert!(!t.outside.join("planted").exists(), "nothing was written through a planted link");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "inside");
}

#[tokio::test]
async fn an_archive_cannot_write_through_a_link_it_brings() {
    let t = tree();
    let archive = t.granted.join("evil.tar");
    let mut tar = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    tar.append_link(&mut link, "link", &t.outside).unwrap();
    let mut file = tar::Header::new_gnu();
    file.set_size(5);
    file.set_mode(0o644);
    tar.append_data(&mut file, "link/victim", &b"owned"[..]).unwrap();
    tar.finish().unwrap();
    let before = snapshot(&t.outside);
    let (runtime, _cache) = runtime();
    let text = failure_text(run_ops(&runtime, json!([{"op": "extract", "path": archive, "to": t.granted.join("x")}]), rw(&t.granted)).await, "extract");
    assert!(text.contains("link/victim would land outside"), "{text}");
    assert_eq!(snapshot(&t.outside), before);
}

#[tokio::test]
async fn a_directory_swapped_for_a_link_mid_call_never_leaks_what_is_outside() {
    let t = tree();
    let sub = t.granted.join("sub");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (sub, outside, stop) = (sub.clone(), t.outside.clone(), stop.clone());
        std::thread::spawn(move || {
            let (parked, link) = (sub.with_file_name("parked"), sub.with_file_name("link"));
            std::os::unix::fs::symlink(&outside, &link).unwrap();
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // rename(2) swaps atomically: `sub` is always either the directory or the link.
                std::fs::rename(&sub, &parked).unwrap();
                std::fs::rename(&link, &sub).unwrap();
                std::fs::rename(&sub, &link).unwrap();
                std::fs::rename(&parked, &sub).unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let (runtime, _cache) = runtime();
    run_ops(&runtime, json!([]), GrantSpec::default()).await.unwrap();
    let path = sub.join("f").display().to_string();
    let ops = json!([{"op": "read", "path": path, "repeat": 200}]);
    let started = Instant::now();
    let (mut reads, mut refused) = (0, 0);
    while started.elapsed() < Duration::from_secs(3) || reads + refused < 20 {
        match run_ops(&runtime, ops.clone(), grant_fs(&[format!("ro:{}", t.granted.display())])).await {
            Ok(summary) => {
                assert!(!summary.contains("SECRET"), "a read through the swapped-in link leaked the outside file");
                reads += 200;
            }
            Err(PluginError::CapabilityDenied(_) | PluginError::Failed { .. }) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 100 && reads + refused > 10, "the race ran: {swaps} swaps, {reads} reads, {refused} refused calls");
}

#[tokio::test]
async fn stat_through_a_link_then_dotdot_is_denied_quoting_where_it_leads() {
    let t = tree();
    std::fs::create_dir(t.outside.join("dir")).unwrap();
    std::os::unix::fs::symlink(t.outside.join("dir"), t.granted.join("link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", t.outside.join("x")).unwrap();
    let (runtime, _cache) = runtime();
    let spelled = t.granted.join("link/../x").display().to_string();
    let text = denial_text(run_ops(&runtime, json!([{"op": "stat", "path": spelled}]), rw(&t.granted)).await, "stat");
    assert!(text.contains(&format!("\"ro:{}\"", t.outside.join("x").display())), "the denial quotes the real location: {text}");
    assert!(!text.contains("/etc/passwd"), "the outside link's target is not revealed: {text}");
}

#[tokio::test]
async fn a_denial_quotes_the_real_location_so_its_advice_grants_nothing_unseen() {
    let t = tree();
    std::os::unix::fs::symlink(&t.outside, t.granted.join("current")).unwrap();
    let (runtime, _cache) = runtime();
    let spelled = t.granted.join("current/cron-job").display().to_string();
    let before = snapshot(&t.outside);
    let text = denial_text(run_ops(&runtime, json!([{"op": "write", "path": spelled, "text": "* * * * * root id"}]), rw(&t.granted)).await, "write");
    assert!(text.contains(&format!("fs = [\"rw:{}\"]", t.outside.join("cron-job").display())), "{text}");
    assert!(text.contains(&format!("(which is {})", t.outside.join("cron-job").display())), "{text}");
    assert_eq!(snapshot(&t.outside), before);
}

#[tokio::test]
async fn fifos_and_devices_are_refused_at_once_not_read() {
    let t = tree();
    let fifo = t.granted.join("pipe");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let (runtime, _cache) = runtime();
    let granted = grant_fs(&[format!("rw:{}", t.granted.display()), "ro:/dev".into()]);
    for op in [
        json!({"op": "read", "path": fifo}),
        json!({"op": "hash", "path": fifo}),
        json!({"op": "copy", "path": fifo, "to": t.granted.join("copy")}),
        json!({"op": "read", "path": "/dev/zero"}),
        json!({"op": "hash", "path": "/dev/urandom"}),
    ] {
        let started = Instant::now();
        let text = failure_text(run_ops(&runtime, json!([op.clone()]), granted.clone()).await, &op.to_string());
        assert!(text.contains("FIFO") || text.contains("character device"), "{op}: {text}");
        assert!(started.elapsed() < Duration::from_secs(2), "{op}: refused at once, not after the 5 s deadline: {:?}", started.elapsed());
    }
    assert!(!t.granted.join("copy").exists());
}

#[tokio::test]
async fn a_process_cannot_be_started_in_a_directory_a_link_leads_to() {
    let t = tree();
    std::os::unix::fs::symlink(&t.outside, t.granted.join("link")).unwrap();
    let (runtime, _cache) = runtime();
    let granted = GrantSpec { process: vec!["run:/bin/pwd".into()], ..grant_fs(&[format!("ro:{}", t.granted.display())]) };
    let text = denial_text(run_ops(&runtime, json!([{"op": "run", "argv": ["/bin/pwd"], "path": t.granted.join("link")}]), granted.clone()).await, "cwd");
    assert!(text.contains("process.run") && text.contains("not granted"), "{text}");
    let summary = run_ops(&runtime, json!([{"op": "run", "argv": ["/bin/pwd"], "path": t.granted.join("sub")}]), granted).await.unwrap();
    assert_eq!(summary, format!("exit 0 {}", t.granted.join("sub").display()));
}

#[tokio::test]
async fn bosun_state_is_out_of_reach_even_under_a_grant_that_covers_it() {
    let t = tree();
    let project = t.granted.clone();
    let state = project.join(".bosun");
    let runtime = Runtime::new(state.join("cache/compiled")).unwrap();
    bosun::capability::fs::protect(&state);
    std::fs::write(state.join("plugins.lock"), "# lock").unwrap();
    std::fs::write(state.join("cache/compiled/x.cwasm"), "native code").unwrap();
    // Loaded (and compiled into the cache) before the state is looked at.
    run_ops(&runtime, json!([]), rw(&project)).await.unwrap();
    let before = snapshot(&state);
    let s = |p: &str| state.join(p).display().to_string();
    for op in [
        json!({"op": "read", "path": s("plugins.lock")}),
        json!({"op": "write", "path": s("cache/compiled/x.cwasm"), "text": "evil"}),
        json!({"op": "copy", "path": project.join("sub/f"), "to": s("cache/compiled/x.cwasm")}),
        json!({"op": "remove", "path": s("")}),
        json!({"op": "rename", "path": s(""), "to": project.join("moved")}),
        json!({"op": "rename", "path": project.join("sub/f"), "to": s("plugins.lock")}),
        json!({"op": "list", "path": s("cache")}),
        json!({"op": "mkdir", "path": s("cache/new")}),
        json!({"op": "hash", "path": project.join("sub/../.bosun/plugins.lock")}),
    ] {
        let text = denial_text(run_ops(&runtime, json!([op.clone()]), rw(&project)).await, &op.to_string());
        assert!(text.contains("bosun's own state"), "{op}: {text}");
    }
    assert_eq!(snapshot(&state), before, "bosun's state is as it was");
    let listed = run_ops(&runtime, json!([{"op": "list", "path": project}]), rw(&project)).await.unwrap();
    assert!(!listed.contains("plugins.lock") && !listed.contains("x.cwasm"), "a listing does not enter bosun's state: {listed}");
    let archive = t.outside.join("project.tar");
    let granted = grant_fs(&[format!("ro:{}", project.display()), format!("rw:{}", t.outside.display())]);
    run_ops(&runtime, json!([{"op": "archive", "path": project, "to": archive}]), granted).await.unwrap();
    let names: Vec<String> = tar::Archive::new(std::fs::File::open(&archive).unwrap()).entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert!(names.iter().any(|n| n.ends_with("sub/f")), "{names:?}");
    assert!(!names.iter().any(|n| n.contains(".bosun/")), "an archive does not enter bosun's state: {names:?}");
}

#[tokio::test]
async fn an_in_place_restore_into_the_root_writes_only_beneath_rw_grants() {
    let t = tree();
    let strip = |p: &Path| p.strip_prefix("/").unwrap().to_path_buf();
    let archive = t.outside.join("inplace.tar");
    let build = |names: &[PathBuf]| {
        let mut tar = tar::Builder::new(std::fs::File::create(&archive).unwrap());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        tar.append_data(&mut dir, strip(&t.granted), std::io::empty()).unwrap();
        for name in names {
            let mut file = tar::Header::new_gnu();
            file.set_size(8);
            file.set_mode(0o644);
            tar.append_data(&mut file, name, &b"restored"[..]).unwrap();
        }
        tar.finish().unwrap();
    };
    let (runtime, _cache) = runtime();
    let granted = grant_fs(&[format!("rw:{}", t.granted.display()), format!("ro:{}", archive.display())]);
    build(&[strip(&t.granted.join("sub/f"))]);
    run_ops(&runtime, json!([{"op": "extract", "path": archive, "to": "/"}]), granted.clone()).await.unwrap();
    assert_eq!(std::fs::read_to_string(t.granted.join("sub/f")).unwrap(), "restored");

    build(&[strip(&t.outside.join("victim"))]);
    let before = snapshot(&t.outside);
    let text = denial_text(run_ops(&runtime, json!([{"op": "extract", "path": archive, "to": "/"}]), granted).await, "outside entry");
    assert!(text.contains("fs.extract"), "{text}");
    assert_eq!(snapshot(&t.outside), before, "the entry outside every rw grant was not written");
}

#[tokio::test]
async fn a_dry_run_makes_no_grant_root_it_would_write_into() {
    let t = tree();
    let (runtime, _cache) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-fs"), "hostile-fs").unwrap();
    let missing = t.granted.join("new/root");
    let ops = json!({"ops": [
        {"op": "mkdir", "path": missing.join("deeper")},
        {"op": "extract", "path": t.granted.join("sub/f"), "to": missing},
        {"op": "write", "path": t.granted.join("sub/g"), "text": "x"},
        {"op": "archive", "path": t.granted.join("sub"), "to": missing.join("not-yet/a.tar")},
    ]});
    let granted = grant_fs(&[format!("rw:{}", missing.display()), format!("rw:{}", t.granted.join("sub").display())]);
    let called = runtime.check(&plugin, setup_with(&plugin, ops, granted, limits(5_000, 64), true)).await.unwrap();
    let planned: Vec<String> = called.planned.iter().map(|p| p.call.clone()).collect();
    assert_eq!(planned, ["fs.create-dir", "fs.extract", "fs.write-small", "fs.archive"]);
    assert!(!t.granted.join("new").exists(), "nothing was made in a dry run");
    assert!(!t.granted.join("sub/g").exists());
}
