//! Process grants hold against a hostile plugin (hostile-process): a program
//! it planted never runs, whatever PATH, path or working directory it names;
//! loader and interpreter variables are refused; `*` is one plain argument;
//! `{path:…}` stays inside the fs grants; the README's grants give no shell.
//! Each refusal is the typed denial naming the plugin and the line to add (or
//! why none can), and nothing ran: the marker a planted or granted program
//! would leave is absent.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bosun::capability::{GrantSpec, Grants, Policy};
use bosun::plugin::PluginError;
use common::project::{Project, stdout};
use common::*;
use serde_json::{Value, json};

/// A temp root with `rw/` (the plugin's fs grant) and where a marker would go.
struct Scene {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("rw")).unwrap();
        Scene { _dir: dir, root }
    }

    fn rw(&self) -> PathBuf {
        self.root.join("rw")
    }

    fn marker(&self) -> PathBuf {
        self.root.join("marker")
    }

    fn grant(&self, process: &[&str]) -> GrantSpec {
        GrantSpec { process: process.iter().map(|e| e.to_string()).collect(), fs: vec![format!("rw:{}", self.rw().display())], ..Default::default() }
    }

    /// An archive holding an executable `bin/<name>` that leaves the marker,
    /// for the plugin to extract (modes kept) into its rw directory.
    fn planted_program(&self, name: &str) -> String {
        let script = format!("#!/bin/sh\ntouch {}\necho planted\n", self.marker().display());
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(script.len() as u64);
        header.set_mode(0o755);
        header.set_cksum();
        builder.append_data(&mut header, format!("bin/{name}"), script.as_bytes()).unwrap();
        let archive = self.rw().join("plant.tar");
        std::fs::write(&archive, builder.into_inner().unwrap()).unwrap();
        archive.display().to_string()
    }

    fn assert_nothing_ran(&self, what: &str) {
        assert!(!self.marker().exists(), "{what}: the program ran and left {}", self.marker().display());
    }
}

async fn run(granted: GrantSpec, config: Value) -> Result<bosun::bindings::check_types::CheckResult, PluginError> {
    let (runtime, _dir) = runtime();
    let plugin = runtime.load(&test_plugin("hostile-process"), "hostile-process").unwrap();
    runtime.check(&plugin, setup(&plugin, config, granted, limits(10_000, 64))).await.map(|called| called.value)
}

/// The typed denial, naming the plugin; returns its text.
fn denied(result: Result<impl std::fmt::Debug, PluginError>, what: &str) -> String {
    match result {
        Err(PluginError::CapabilityDenied(denial)) => {
            let text = denial.to_string();
            assert!(text.starts_with("plugin hostile-process denied process.run"), "{what}: {text}");
            text
        }
        other => panic!("{what}: expected CapabilityDenied, got {other:?}"),
    }
}

#[tokio::test]
async fn a_planted_program_never_runs_whatever_path_the_plugin_names() {
    let scene = Scene::new();
    let archive = scene.planted_program("pg_dump");
    let bin = scene.rw().join("bin");
    let granted = scene.grant(&["run:pg_dump --version", "env:PGHOST"]);
    let plant = json!([archive, scene.rw().display().to_string()]);

    // The trick: PATH pointing at the plugin's own directory.
    let text = denied(run(granted.clone(), json!({"plant": plant, "argv": ["pg_dump", "--version"], "env": {"PATH": bin.display().to_string()}})).await, "PATH");
    assert!(text.contains("it sets PATH") && text.contains("no grant can allow it"), "{text}");
    assert!(bin.join("pg_dump").metadata().unwrap().permissions().mode() & 0o111 != 0, "the plugin did plant an executable");
    scene.assert_nothing_ran("PATH in env");

    // Naming the planted program by its path: another program than the grant's.
    let planted = bin.join("pg_dump").display().to_string();
    let text = denied(run(granted.clone(), json!({"argv": [planted, "--version"]})).await, "absolute path");
    assert!(text.contains(&format!("process = [\"run:{planted} --version\"]")), "{text}");
    scene.assert_nothing_ran("absolute path");

    // A relative path, or the bare name run from the plugin's directory.
    let result = run(granted.clone(), json!({"argv": ["./pg_dump", "--version"], "cwd": bin.display().to_string()})).await;
    assert!(matches!(result, Err(PluginError::CapabilityDenied(_))), "{result:?}");
    let ran = run(granted.clone(), json!({"argv": ["pg_dump", "--version"], "cwd": bin.display().to_string()})).await.expect("the granted pg_dump runs");
    assert!(ran.passed && ran.summary.contains("PostgreSQL"), "bosun's pg_dump ran, not the planted one: {ran:?}");
    scene.assert_nothing_ran("cwd");

    // A grant naming a program where the plugin may write: it could be the plugin's own.
    let text = denied(run(scene.grant(&[&format!("run:{planted} --version")]), json!({"argv": [planted, "--version"]})).await, "writable program");
    assert!(text.contains("lies where the plugin may write") && text.ends_with("no grant can allow it"), "{text}");
    scene.assert_nothing_ran("writable program");

    // A granted variable is passed; the program is still bosun's.
    let ran = run(granted, json!({"argv": ["pg_dump", "--version"], "env": {"PGHOST": bin.display().to_string()}})).await.unwrap();
    assert!(ran.passed && ran.summary.contains("PostgreSQL"), "{ran:?}");
    scene.assert_nothing_ran("granted env");
}

#[tokio::test]
async fn loader_and_interpreter_variables_are_refused_even_when_any_variable_is_granted() {
    let scene = Scene::new();
    let target = scene.marker().display().to_string();
    let granted = scene.grant(&[&format!("run:touch {target}"), "env:*"]);
    for name in ["LD_PRELOAD", "LD_LIBRARY_PATH", "ld_audit", "PATH", "GCONV_PATH", "PYTHONPATH", "PERL5LIB", "BASH_ENV", "ENV", "IFS", "HOME", "PSQLRC"] {
        let evil = scene.rw().join("evil.so").display().to_string();
        let text = denied(run(granted.clone(), json!({"argv": ["touch", target], "env": {name: evil}})).await, name);
        assert!(text.contains(&format!("it sets {name}, and it ")) && text.ends_with("no grant can allow it"), "{name}: {text}");
        scene.assert_nothing_ran(name);
    }

    // Naming one in a grant is refused when the grant is read, in one line.
    for name in ["LD_PRELOAD", "PATH", "PYTHONSTARTUP"] {
        let err = Policy::new("hostile-process", &GrantSpec { process: vec!["run:**".into(), "env:*".into()], ..Default::default() }, &scene.grant(&[&format!("env:PGHOST,{name}")]))
            .unwrap_err();
        assert!(err.contains(&format!("{name} can never be granted: it ")) && !err.contains('\n'), "{err}");
    }

    // A harmless variable not granted is denied with the line that grants it.
    let text = denied(run(scene.grant(&[&format!("run:touch {target}")]), json!({"argv": ["touch", target], "env": {"PGPASSWORD": "x"}})).await, "PGPASSWORD");
    assert!(text.contains("[plugins.hostile-process.grant] process = [\"env:PGPASSWORD\"]"), "{text}");
    scene.assert_nothing_ran("PGPASSWORD");
}

#[tokio::test]
async fn one_argument_is_neither_a_path_nor_an_option() {
    let scene = Scene::new();
    let root = scene.root.display();
    std::fs::create_dir(scene.root.join("scratch-a")).unwrap();
    // The pattern: a path under a scratch directory, `*` for its name.
    let granted = scene.grant(&["run:touch *", &format!("run:touch {root}/scratch-*/marker")]);
    for argv in [
        vec!["touch".to_string(), format!("{root}/marker")],
        vec!["touch".into(), format!("/tmp/x/../..{root}/marker")],
        vec!["touch".into(), format!("{root}/scratch-a/../marker")],
        vec!["touch".into(), "-c".into()],
        vec!["touch".into(), "--".into()],
        vec!["touch".into(), "..".into()],
    ] {
        let text = denied(run(granted.clone(), json!({"argv": argv})).await, &argv[1]);
        assert!(text.contains("[plugins.hostile-process.grant] process = [\"run:touch "), "{text}");
        scene.assert_nothing_ran(&argv[1]);
    }
    let ran = run(granted, json!({"argv": ["touch", format!("{root}/scratch-a/marker")]})).await.unwrap();
    assert!(ran.passed && scene.root.join("scratch-a/marker").exists(), "{ran:?}");
}

#[tokio::test]
async fn path_arguments_stay_inside_the_fs_grants() {
    let scene = Scene::new();
    std::os::unix::fs::symlink(&scene.root, scene.rw().join("out")).unwrap();
    let granted = scene.grant(&["run:touch {path:rw}"]);
    let rw = scene.rw().display().to_string();
    let text = denied(run(granted.clone(), json!({"argv": ["touch", format!("{rw}/../marker")]})).await, "`..`");
    assert!(text.contains("process = [\"run:touch "), "{text}");
    scene.assert_nothing_ran("`..`");
    // Through a symlink the path is outside: the fs grant says no.
    match run(granted.clone(), json!({"argv": ["touch", format!("{rw}/out/marker")]})).await {
        Err(PluginError::CapabilityDenied(denial)) => {
            let text = denial.to_string();
            assert!(text.contains("denied process.run") && text.contains("[plugins.hostile-process.grant] fs = [\"rw:"), "{text}");
        }
        other => panic!("expected CapabilityDenied, got {other:?}"),
    }
    scene.assert_nothing_ran("symlink");
    let ran = run(granted, json!({"argv": ["touch", format!("{rw}/./inside")]})).await.unwrap();
    assert!(ran.passed && scene.rw().join("inside").exists(), "{ran:?}");
}

/// The README's grants for db-dump's sqlite preset.
fn readme_sqlite_grants(db: &Path) -> Vec<String> {
    let db = db.display();
    vec![format!("run:sqlite3 {db} \"VACUUM INTO '{{path:rw}}'\""), format!("run:sqlite3 {db} \".restore '{{path:ro}}'\"")]
}

#[tokio::test]
async fn the_sqlite_shell_trick_is_impossible_with_the_readme_grants() {
    let scene = Scene::new();
    let db = scene.root.join("app.db");
    rusqlite::Connection::open(&db).unwrap().execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
    let entries = readme_sqlite_grants(&db);
    let granted = GrantSpec { process: entries.clone(), fs: vec![format!("rw:{}", scene.rw().display())], ..Default::default() };
    let (db_arg, rw, marker) = (db.display().to_string(), scene.rw().display().to_string(), scene.marker().display().to_string());
    for argv in [
        vec!["sqlite3".to_string(), db_arg.clone(), format!(".shell touch {marker}")],
        vec!["sqlite3".into(), db_arg.clone(), format!("VACUUM INTO '{rw}/x'; .shell touch {marker}")],
        vec!["sqlite3".into(), db_arg.clone(), format!(".restore '{rw}/x'\n.shell touch {marker}")],
        vec!["sqlite3".into(), db_arg.clone(), format!("VACUUM INTO '{rw}/x'"), format!(".shell touch {marker}")],
        vec!["sqlite3".into(), "-cmd".into(), format!(".shell touch {marker}"), db_arg.clone(), format!("VACUUM INTO '{rw}/x'")],
        vec!["sqlite3".into(), db_arg.clone(), format!("VACUUM INTO '{rw}/x' || load_extension('{rw}/evil')")],
    ] {
        denied(run(granted.clone(), json!({"argv": argv})).await, &argv.join(" "));
        scene.assert_nothing_ran(&argv.join(" "));
    }
    // VACUUM INTO a place outside the fs grants: the fs line is what is missing.
    match run(granted.clone(), json!({"argv": ["sqlite3", db_arg, format!("VACUUM INTO '{}/copy.db'", scene.root.display())]})).await {
        Err(PluginError::CapabilityDenied(denial)) => assert!(denial.to_string().contains("fs = [\"rw:"), "{denial}"),
        other => panic!("expected CapabilityDenied, got {other:?}"),
    }
    assert!(!scene.root.join("copy.db").exists());
    let ran = run(granted, json!({"argv": ["sqlite3", db_arg, format!("VACUUM INTO '{rw}/copy.db'")]})).await.unwrap();
    assert!(ran.passed && scene.rw().join("copy.db").exists(), "the granted backup works: {ran:?}");

    let grants = Grants::parse(&GrantSpec { process: entries, ..Default::default() }).unwrap();
    assert_eq!(grants.process.warnings(), Vec::<String>::new(), "the README's grants are not a shell");
}

#[test]
fn doctor_warns_where_free_arguments_reach_an_interpreter() {
    let project = Project::new(
        "[project]\nname = \"t\"\n\n[plugins.db-dump.grant]\nprocess = [\"run:sqlite3 /srv/app.db *\", \"run:psql **\", \"run:pg_dump -Fc -d shop\", \"run:createdb {scratch-db}\"]\n",
    );
    let out = project.bosun(&["doctor"]);
    let text = stdout(&out);
    let warned: Vec<&str> = text.lines().filter(|l| l.starts_with("WARN grants")).collect();
    assert_eq!(warned.len(), 2, "{text}");
    assert!(warned[0].contains("\"run:sqlite3 /srv/app.db *\"") && warned[0].contains("a shell in effect"), "{text}");
    assert!(warned[1].contains("\"run:psql **\""), "{text}");

    let missing = Project::new("[project]\nname = \"t\"\n\n[plugins.db-dump.grant]\nprocess = [\"run:bosun-no-such-tool **\"]\n");
    let out = missing.bosun(&["doctor"]);
    assert!(stdout(&out).contains("bosun-no-such-tool is not on bosun's PATH"), "{}", stdout(&out));
}
