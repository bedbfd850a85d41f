//! Backups as users run them: the real `bosun` binary, the compiled
//! `dir-archive` plugin, a real SQLite catalog, generated trees on disk.

use crate::{common, support};

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::project::{Project, sha256_hex, stderr, stdout};
use common::tree::{self, Node};

/// A project whose set `data` backs up `<root>/data` into `<root>/backups`.
struct Fixture {
    project: Project,
    root: PathBuf,
    /// Set when this fixture owns `root` (and deletes it on drop).
    _owned: Option<tempfile::TempDir>,
}

impl Fixture {
    fn new(extra: &str) -> Fixture {
        let owned = tempfile::tempdir().unwrap();
        let root = owned.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        Fixture { _owned: Some(owned), ..Fixture::with_dest(root.clone(), &root.join("backups"), extra) }
    }

    /// A project with exactly `config` as its bosun.toml.
    fn with_config(root: PathBuf, config: &str) -> Fixture {
        Fixture { project: Project::new(config), root, _owned: None }
    }

    fn with_dest(root: PathBuf, dest: &Path, extra: &str) -> Fixture {
        let config = format!(
            "[project]\nname = \"{name}\"\nstate_dir = \"{root}/state\"\n\n[backups.data]\nstrategy = \"dir-archive\"\ndest = \"{dest}\"\npaths = [\"{root}/data\"]\n{extra}\n\n[plugins.dir-archive.grant]\nfs = [\"ro:{root}/data\"]\n",
            root = root.display(),
            dest = dest.display(),
            name = project_name(&root),
        );
        Fixture { project: Project::new(&config), root, _owned: None }
    }

    fn project_name(&self) -> String {
        project_name(&self.root)
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn bosun(&self, args: &[&str]) -> Output {
        self.project.bosun(args)
    }

    /// Runs a command that must succeed and returns its `--json` output.
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.bosun(&[&["--json"], args].concat());
        assert!(out.status.success(), "bosun {args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bosun {args:?}: {e}: {}", stdout(&out)))
    }

    fn backup(&self, kind: &str) -> serde_json::Value {
        let taken = self.json(&["backup", "run", "data", kind]);
        assert_eq!(taken["result"], "done", "{taken}");
        taken["backup"].clone()
    }

    fn listed(&self) -> Vec<String> {
        let list = self.json(&["backup", "list"]);
        list.as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_string()).collect()
    }

    fn catalog(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.root.join("state/state.db")).unwrap()
    }

    fn leftovers(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.root.join("backups")) else { return Vec::new() };
        entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".partial-") || n.starts_with(".removing-"))
            .collect()
    }
}

/// Incompressible bytes, so archives are as large as the data.
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Unique per fixture, so containers labelled for one test's project are not
/// stopped by another's backups.
fn project_name(root: &Path) -> String {
    format!("shop{}", root.file_name().unwrap().to_string_lossy())
}

/// Exit code 2 (bad input) with one line that contains `expected`.
fn assert_bad_input(out: &Output, expected: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(expected), "expected {expected:?} in {err}");
}

/// Many small files, a large one, nested and empty directories, symlinks
/// (relative, absolute, dangling) and unusual modes.
fn generate_tree(root: &Path) {
    for d in 0..20 {
        let dir = root.join(format!("dir{d:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..25 {
            std::fs::write(dir.join(format!("f{f}.txt")), format!("file {d}/{f}\n").repeat(f + 1)).unwrap();
        }
    }
    std::fs::write(root.join("large.bin"), noise(6_000_000)).unwrap();
    std::fs::create_dir_all(root.join("empty/nested")).unwrap();
    std::fs::write(root.join("secret.key"), "k").unwrap();
    std::fs::set_permissions(root.join("secret.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(root.join("dir03"), std::fs::Permissions::from_mode(0o750)).unwrap();
    symlink("dir01/f1.txt", root.join("relative-link")).unwrap();
    symlink(root.join("large.bin"), root.join("absolute-link")).unwrap();
    symlink("no-such-file", root.join("dangling-link")).unwrap();
}

/// Everything about a tree a restore must reproduce (see [`tree::walk`]).
fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    tree::walk(root)
}

#[test]
fn full_and_incremental_backups_restore_the_tree_exactly() {
    let fx = Fixture::new("");
    generate_tree(&fx.data());
    let full = fx.backup("--full");
    assert_eq!(full["kind"], "full");

    // Change, add, delete (a file and a directory), chmod, relink.
    std::fs::write(fx.data().join("dir00/f0.txt"), "changed\n").unwrap();
    std::fs::write(fx.data().join("dir05/new.txt"), "new\n").unwrap();
    std::fs::remove_file(fx.data().join("dir02/f3.txt")).unwrap();
    std::fs::remove_dir_all(fx.data().join("dir04")).unwrap();
    std::fs::set_permissions(fx.data().join("run.sh"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::remove_file(fx.data().join("relative-link")).unwrap();
    symlink("dir05/new.txt", fx.data().join("relative-link")).unwrap();
    let incremental = fx.backup("--incremental");
    assert_eq!(incremental["kind"], "incremental");
    assert_eq!(incremental["base"], full["id"]);
    assert!(incremental["bytes"].as_u64().unwrap() < full["bytes"].as_u64().unwrap() / 10, "only changes: {incremental}");

    // Listed in the catalog (a real SQLite file), oldest first.
    assert_eq!(fx.listed(), [full["id"].as_str().unwrap(), incremental["id"].as_str().unwrap()]);
    let rows: i64 = fx.catalog().query_row("SELECT COUNT(*) FROM backups WHERE set_name = 'data'", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 2);
    let outcome: String = fx.catalog().query_row("SELECT outcome FROM runs WHERE operation = 'backup' ORDER BY id DESC", [], |r| r.get(0)).unwrap();
    assert_eq!(outcome, "succeeded");

    let id = incremental["id"].as_str().unwrap();
    let verified = fx.json(&["backup", "verify", id, "--restore-test"]);
    assert!(verified["restore_test_entries"].as_u64().unwrap() > 500, "{verified}");

    let target = fx.root.join("restored");
    fx.json(&["backup", "restore", id, "--target", target.to_str().unwrap()]);
    let restored = target.join(fx.data().strip_prefix("/").unwrap());
    assert_eq!(snapshot(&restored), snapshot(&fx.data()), "restore reproduces the tree after the incremental");

    // The full backup alone gives back the tree as it was.
    let before_changes = fx.root.join("restored-full");
    fx.json(&["backup", "restore", full["id"].as_str().unwrap(), "--target", before_changes.to_str().unwrap()]);
    let old = snapshot(&before_changes.join(fx.data().strip_prefix("/").unwrap()));
    assert!(old.contains_key("dir04/f0.txt") && !old.contains_key("dir05/new.txt"));
}

/// The start of a packed file list (version 3 on), before its version.
const PACKED_MAGIC: &[u8] = b"bosun file list\n";

/// A backup's file list as `bosun backup files --json` shows it, by path.
fn listed_files(fx: &Fixture, id: &str) -> BTreeMap<String, serde_json::Value> {
    let files = fx.json(&["backup", "files", id]);
    files.as_array().unwrap().iter().map(|f| (f["path"].as_str().unwrap().to_string(), f.clone())).collect()
}

/// Replaces a backup's file list with the one bosun wrote before version 2:
/// JSON under its old name, each file's SHA-256 under `sha256` (the tree
/// must not have changed since the backup).
fn downgrade_file_list(fx: &Fixture, id: &str, backup_dir: &Path) {
    let entries: serde_json::Map<String, serde_json::Value> = listed_files(fx, id)
        .into_iter()
        .map(|(path, file)| {
            let mut entry = serde_json::json!({ "kind": file["kind"], "size": file["size"], "mtime_ms": file["mtime_ms"], "mode": file["mode"] });
            if file["kind"] == "file" {
                entry["sha256"] = sha256_hex(&std::fs::read(&path).unwrap()).into();
            }
            if let Some(target) = file.get("link_target") {
                entry["link_target"] = target.clone();
            }
            (path.trim_start_matches('/').to_string(), entry)
        })
        .collect();
    std::fs::remove_file(backup_dir.join("files.list.zst")).unwrap();
    let manifest_path = backup_dir.join("replication_manifest.json");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap().replace(r#""files.list.zst""#, r#""files.json.zst""#);
    std::fs::write(&manifest_path, manifest).unwrap();
    write_json_file_list(backup_dir, &serde_json::json!({ "version": 1, "entries": entries }));
}

/// Writes a JSON file list (`files.json.zst`, as bosun did before version 3), and the manifest to match.
fn write_json_file_list(backup_dir: &Path, list: &serde_json::Value) {
    std::fs::write(backup_dir.join("files.json.zst"), zstd::encode_all(&serde_json::to_vec(list).unwrap()[..], 1).unwrap()).unwrap();
    rehash_manifest(backup_dir, "files.json.zst");
}

/// Rewrites a backup's JSON file list with `edit`.
fn rewrite_json_file_list(backup_dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let compressed = std::fs::File::open(backup_dir.join("files.json.zst")).unwrap();
    let mut list = serde_json::from_slice(&zstd::decode_all(compressed).unwrap()).unwrap();
    edit(&mut list);
    write_json_file_list(backup_dir, &list);
}

/// The list key of `path`: absolute, without the leading `/`.
fn list_key(path: &Path) -> String {
    path.strip_prefix("/").unwrap().display().to_string()
}

#[test]
fn a_file_list_from_before_blake3_is_still_a_base_and_still_verifies() {
    let fx = Fixture::new("");
    generate_tree(&fx.data());
    let full = fx.backup("--full");
    let (full_id, full_dir) = (full["id"].as_str().unwrap(), PathBuf::from(full["dir"].as_str().unwrap()));
    downgrade_file_list(&fx, full_id, &full_dir);
    fx.json(&["backup", "verify", full_id, "--restore-test"]);

    // Untouched: the base's sha256 is kept. Touched with the same content,
    // or changed: archived and hashed anew, with BLAKE3 (a touched file left
    // out would come back with the base's mtime).
    let (touched, changed) = (fx.data().join("dir01/f1.txt"), fx.data().join("dir00/f0.txt"));
    std::fs::File::options().write(true).open(&touched).unwrap().set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000)).unwrap();
    std::fs::write(&changed, "changed\n").unwrap();
    let incremental = fx.backup("--incremental");
    let (incremental_id, incremental_dir) = (incremental["id"].as_str().unwrap(), PathBuf::from(incremental["dir"].as_str().unwrap()));
    let files = listed_files(&fx, incremental_id);
    let hash_of = |path: &Path| files[&path.display().to_string()]["hash"].as_str().unwrap().to_string();
    let untouched = fx.data().join("dir01/f2.txt");
    assert_eq!(hash_of(&untouched), format!("sha256:{}", sha256_hex(&std::fs::read(&untouched).unwrap())), "the base's hash is kept");
    assert_eq!(hash_of(&touched), format!("blake3:{}", blake3::hash(&std::fs::read(&touched).unwrap()).to_hex()));
    assert_eq!(hash_of(&changed), format!("blake3:{}", blake3::hash(b"changed\n").to_hex()));
    let archive = zstd::Decoder::new(std::fs::File::open(incremental_dir.join("data.tar.zst")).unwrap()).unwrap();
    let archived: Vec<String> = tar::Archive::new(archive).entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert!(archived.contains(&list_key(&changed)) && archived.contains(&list_key(&touched)) && !archived.contains(&list_key(&untouched)), "{archived:?}");
    fx.json(&["backup", "verify", incremental_id, "--restore-test"]);

    // A wrong sha256 in an old list is found, and the file named.
    let wrong = fx.data().join("dir02/f2.txt");
    rewrite_json_file_list(&full_dir, |list| list["entries"][list_key(&wrong)]["sha256"] = "0".repeat(64).into());
    let out = fx.bosun(&["backup", "verify", full_id, "--restore-test"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let expected = format!("/{}: content sha256:{}, expected sha256:{}", list_key(&wrong), sha256_hex(&std::fs::read(&wrong).unwrap()), "0".repeat(64));
    assert!(err.contains(&expected), "expected {expected:?} in {err}");
}

/// bosun writes packed lists (version 3); `backup files` shows one as `ls -l`
/// would, and a list from a newer bosun is refused in one line that says what to do.
#[test]
fn a_backup_lists_its_files_and_a_newer_file_list_is_refused() {
    let fx = Fixture::new("");
    generate_tree(&fx.data());
    let backup = fx.backup("--full");
    let (id, dir) = (backup["id"].as_str().unwrap(), PathBuf::from(backup["dir"].as_str().unwrap()));
    let list_path = dir.join("files.list.zst");
    let mut packed = zstd::decode_all(std::fs::File::open(&list_path).unwrap()).unwrap();
    assert_eq!((&packed[..16], &packed[16..20]), (PACKED_MAGIC, &4u32.to_le_bytes()[..]));

    let files = listed_files(&fx, id);
    let in_tree: Vec<String> = [fx.data()].into_iter().chain(snapshot(&fx.data()).into_keys().filter(|k| k != ".").map(|k| fx.data().join(k))).map(|p| p.display().to_string()).collect();
    assert_eq!(files.keys().cloned().collect::<Vec<_>>(), in_tree, "every entry of the tree, once");
    let text = stdout(&fx.bosun(&["backup", "files", id]));
    assert_eq!(text.lines().count(), files.len());
    let secret = fx.data().join("secret.key");
    let mtime = jiff::Timestamp::from_second(std::fs::metadata(&secret).unwrap().mtime()).unwrap().strftime("%Y-%m-%dT%H:%M:%SZ");
    let line = format!("-rw-------     0     0 {:>12} {mtime} {}", 1, secret.display());
    assert!(text.lines().any(|l| l == line), "expected {line:?} in\n{text}");
    assert!(text.lines().any(|l| l.starts_with('l') && l.contains(" -> ")), "symlinks show their target:\n{text}");

    packed[16..20].copy_from_slice(&5u32.to_le_bytes());
    std::fs::write(&list_path, zstd::encode_all(&packed[..], 1).unwrap()).unwrap();
    rehash_manifest(&dir, "files.list.zst");
    for command in [&["backup", "files", id][..], &["backup", "verify", id, "--restore-test"]] {
        let out = fx.bosun(command);
        let err = stderr(&out);
        assert_eq!((out.status.code(), err.trim_end().lines().count()), (Some(1), 1), "{command:?}: {err}");
        assert!(err.contains("file list version 5, this bosun reads up to 4); upgrade bosun"), "{err}");
    }
}

#[test]
fn in_place_restore_writes_back_to_the_original_paths_after_a_safety_backup() {
    let fx = Fixture::new("");
    generate_tree(&fx.data());
    let original = snapshot(&fx.data());
    let backup = fx.backup("--full");
    let id = backup["id"].as_str().unwrap();

    // The data is lost: restoring into the now-missing path needs no --force.
    std::fs::remove_dir_all(fx.data()).unwrap();
    let restored = fx.json(&["backup", "restore", id]);
    assert_eq!(restored["safety_backup"], serde_json::Value::Null);
    assert_eq!(snapshot(&fx.data()), original);

    // Damaged data: refused without --force, untouched.
    std::fs::write(fx.data().join("dir00/f0.txt"), "damaged").unwrap();
    let damaged = snapshot(&fx.data());
    assert_bad_input(&fx.bosun(&["backup", "restore", id]), "pass --force");
    assert_eq!(snapshot(&fx.data()), damaged, "a refused restore writes nothing");
    assert_eq!(fx.listed().len(), 1, "and takes no backup");

    // With --force: a safety backup of what is there, then the restore.
    let restored = fx.json(&["backup", "restore", id, "--force"]);
    let safety = restored["safety_backup"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(fx.data().join("dir00/f0.txt")).unwrap(), "file 0/0\n");
    assert_eq!(fx.listed(), [id, safety]);
    let undo = fx.root.join("undo");
    fx.json(&["backup", "restore", safety, "--target", undo.to_str().unwrap()]);
    assert_eq!(snapshot(&undo.join(fx.data().strip_prefix("/").unwrap())), damaged, "the safety backup holds what was overwritten");
}

/// Sets `path`'s mtime (a symlink's own) to `ns` nanoseconds since the epoch.
fn set_mtime_ns(path: &Path, ns: i64) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let time = libc::timespec { tv_sec: ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000 };
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c_path.as_ptr(), [time, time].as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    assert_eq!(rc, 0, "utimensat {}", path.display());
}

/// A tree as a database container leaves its data directory: owned by
/// 999:999 (the top too), with entries of other owners, setuid, setgid and
/// sticky modes, an empty directory, symlinks and a FIFO owned by 999, a
/// file larger than what is unpacked in memory, and every mtime with
/// nanoseconds (directories' set last).
fn generate_owned_tree(root: &Path) {
    std::fs::create_dir_all(root.join("base/16384")).unwrap();
    std::fs::create_dir_all(root.join("empty/nested")).unwrap();
    std::fs::write(root.join("base/16384/1259"), noise(70_000)).unwrap();
    std::fs::write(root.join("base/16384/large"), noise(600_000)).unwrap();
    std::fs::write(root.join("PG_VERSION"), "16\n").unwrap();
    std::fs::write(root.join("root-owned.conf"), "x").unwrap();
    std::fs::write(root.join("other-owner"), "y").unwrap();
    std::fs::write(root.join("setuid"), "#!/bin/sh\n").unwrap();
    symlink("PG_VERSION", root.join("version-link")).unwrap();
    symlink("/nowhere/at/all", root.join("dangling-link")).unwrap();
    let fifo = std::ffi::CString::new(root.join("pipe").as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o640) }, 0);
    let mut all = snapshot(root).into_keys().map(|k| root.join(k)).collect::<Vec<_>>();
    for path in &all {
        let (uid, gid) = match path.file_name().unwrap().to_str().unwrap() {
            "root-owned.conf" => (0, 0),
            "other-owner" => (1000, 50),
            _ => (999, 999),
        };
        std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    }
    for (name, mode) in [("setuid", 0o4755), ("base", 0o2700), ("base/16384", 0o700), ("base/16384/1259", 0o600), ("empty", 0o1777), ("pipe", 0o640)] {
        std::fs::set_permissions(root.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    // Deepest first, so that setting a directory's mtime is the last change in it.
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, path) in all.iter().enumerate() {
        set_mtime_ns(path, 1_700_000_000_000_000_000 + i as i64 * 1_000_000_007 + 123_456_789);
    }
}

#[test]
fn a_restore_gives_back_owners_nanosecond_mtimes_links_fifos_and_modes() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "this test makes files of other owners: run it as root");
    let fx = Fixture::new("");
    generate_owned_tree(&fx.data());
    let original = snapshot(&fx.data());
    let backup = fx.backup("--full");
    let id = backup["id"].as_str().unwrap();

    // The list shows owners, as `ls -n` does.
    let text = stdout(&fx.bosun(&["backup", "files", id]));
    let table = fx.data().join("base/16384/1259");
    assert!(text.lines().any(|l| l.starts_with("-rw-------   999   999        70000 ") && l.ends_with(&table.display().to_string())), "{text}");
    assert!(text.lines().any(|l| l.starts_with("-rw-r--r--  1000    50 ")), "{text}");
    let files = listed_files(&fx, id);
    assert_eq!((&files[&fx.data().display().to_string()]["uid"], &files[&fx.data().display().to_string()]["gid"]), (&999.into(), &999.into()));

    // GNU tar reads the archive's PAX mtimes and owners too.
    let by_tar = fx.root.join("by-tar");
    std::fs::create_dir_all(&by_tar).unwrap();
    let archive = PathBuf::from(backup["dir"].as_str().unwrap()).join("data.tar.zst");
    let out = Command::new("tar").args(["--zstd", "-xpf", archive.to_str().unwrap(), "-C", by_tar.to_str().unwrap(), "--numeric-owner"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    tree::assert_same(&snapshot(&by_tar.join(fx.data().strip_prefix("/").unwrap())), &original, "GNU tar's extraction");

    let target = fx.root.join("restored");
    let restored = fx.json(&["backup", "restore", id, "--target", target.to_str().unwrap()]);
    tree::assert_same(&snapshot(&target.join(fx.data().strip_prefix("/").unwrap())), &original, "restore into --target");
    assert_eq!(restored["removed"], serde_json::Value::Null, "an empty target has nothing to remove");

    let verified = fx.json(&["backup", "verify", id, "--restore-test"]);
    assert_eq!(verified["restore_test_entries"].as_u64().unwrap() as usize, original.len(), "{verified}");

    // --no-owners: the same tree, owned by whoever restores it.
    let unowned = fx.root.join("unowned");
    fx.json(&["backup", "restore", id, "--target", unowned.to_str().unwrap(), "--no-owners"]);
    let mut expected = original.clone();
    expected.values_mut().for_each(|node| (node.uid, node.gid) = (0, 0));
    // chown cleared nothing here: modes (setuid too) come back as they were.
    tree::assert_same(&snapshot(&unowned.join(fx.data().strip_prefix("/").unwrap())), &expected, "restore with --no-owners");
    let both = fx.bosun(&["backup", "restore", id, "--no-owners", "--same-owner"]);
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr(&both).contains("'--no-owners' cannot be used with '--same-owner'"), "{}", stderr(&both));

    // chown keeps the mtime: an incremental still takes the file, and its restore the new owner.
    std::os::unix::fs::lchown(fx.data().join("other-owner"), Some(999), Some(999)).unwrap();
    let incremental = fx.backup("--incremental");
    let later = fx.root.join("later");
    fx.json(&["backup", "restore", incremental["id"].as_str().unwrap(), "--target", later.to_str().unwrap()]);
    tree::assert_same(&snapshot(&later.join(fx.data().strip_prefix("/").unwrap())), &snapshot(&fx.data()), "restore of an incremental after a chown");
    fx.json(&["backup", "verify", incremental["id"].as_str().unwrap(), "--restore-test"]);
}

/// A set of two paths, restored in place while one is empty or missing: the
/// undo empties the empty one again, and names the missing one to remove.
#[test]
fn the_undo_of_an_in_place_restore_covers_empty_and_missing_targets() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (data, logs) = (root.join("data"), root.join("logs"));
    let config = format!(
        "[project]\nname = \"{name}\"\nstate_dir = \"{r}/state\"\n\n[backups.data]\nstrategy = \"dir-archive\"\ndest = \"{r}/backups\"\npaths = [\"{d}\", \"{l}\"]\n\n[plugins.dir-archive.grant]\nfs = [\"ro:{d}\", \"ro:{l}\"]\n",
        name = project_name(&root),
        r = root.display(),
        d = data.display(),
        l = logs.display(),
    );
    let fx = Fixture::with_config(root.clone(), &config);
    for (path, content) in [(&data, "kept"), (&logs, "log")] {
        std::fs::create_dir_all(path).unwrap();
        std::fs::write(path.join("file"), content).unwrap();
    }
    let id = fx.json(&["backup", "run", "data"])["backup"]["id"].as_str().unwrap().to_string();

    // logs empty, data edited: the undo gives back both exactly.
    std::fs::remove_file(logs.join("file")).unwrap();
    std::fs::write(data.join("file"), "edited").unwrap();
    let before = (snapshot(&data), snapshot(&logs));
    let out = fx.bosun(&["backup", "restore", &id, "--force"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(logs.join("file")).unwrap(), "log");
    let undo = text.split("undo, exactly as it was: ").nth(1).unwrap_or_else(|| panic!("{text}")).trim_end().trim_end_matches(')');
    let undo_args: Vec<&str> = undo.split(' ').skip(1).collect();
    assert!(fx.bosun(&undo_args).status.success());
    tree::assert_same(&snapshot(&data), &before.0, "data after the undo");
    tree::assert_same(&snapshot(&logs), &before.1, "the empty target is empty again");

    // logs missing: the undo says to remove it.
    std::fs::remove_dir(&logs).unwrap();
    std::fs::write(data.join("file"), "edited again").unwrap();
    let restored = fx.json(&["backup", "restore", &id, "--force"]);
    assert_eq!(restored["absent_before"], serde_json::json!([logs]), "{restored}");
    std::fs::remove_dir_all(&logs).unwrap();
    std::fs::write(data.join("file"), "edited").unwrap();
    let text = stdout(&fx.bosun(&["backup", "restore", &id, "--force"]));
    assert!(text.contains(&format!("--force, then remove {}, which did not exist before)", logs.display())), "{text}");
}

#[test]
fn restore_force_makes_the_tree_equal_to_the_backup_and_its_undo_gives_back_the_tree_exactly() {
    let fx = Fixture::new("excludes = [\"*.log\"]");
    generate_owned_tree(&fx.data());
    std::fs::write(fx.data().join("server.log"), "never backed up\n").unwrap();
    // Outside the target: what a hostile link added to the tree points to.
    let outside = fx.root.join("outside");
    std::fs::create_dir_all(outside.join("sub")).unwrap();
    std::fs::write(outside.join("keep-me"), "precious").unwrap();
    std::fs::write(outside.join("sub/also"), "precious").unwrap();
    let original = snapshot(&fx.data());
    let id = fx.backup("--full")["id"].as_str().unwrap().to_string();

    // Edit, add and delete; a file where a directory was and the other way
    // round; links to a directory outside, one added and one in place of a
    // backed-up directory.
    let data = fx.data();
    std::fs::write(data.join("PG_VERSION"), "17\n").unwrap();
    std::fs::write(data.join("base/new"), "added").unwrap();
    std::fs::create_dir_all(data.join("added/deep")).unwrap();
    std::fs::write(data.join("added/deep/file"), "added").unwrap();
    symlink(&outside, data.join("added/out")).unwrap();
    symlink(&outside, data.join("escape")).unwrap();
    std::fs::remove_file(data.join("base/16384/1259")).unwrap();
    std::fs::remove_file(data.join("other-owner")).unwrap();
    std::fs::create_dir_all(data.join("other-owner/inside")).unwrap();
    std::fs::remove_dir_all(data.join("empty")).unwrap();
    symlink(&outside, data.join("empty")).unwrap();
    std::fs::remove_file(data.join("pipe")).unwrap();
    std::fs::write(data.join("pipe"), "a file now").unwrap();
    let changed = snapshot(&data);
    let outside_before = snapshot(&outside);

    let dry = fx.json(&["backup", "restore", &id, "--force", "--dry-run"]);
    let removals: Vec<&str> = dry["planned"].as_array().unwrap().iter().filter(|c| c["call"] == "remove").map(|c| c["detail"].as_str().unwrap()).collect();
    let extra = ["added", "base/new", "escape", "other-owner"].map(|p| format!("{} (not in the backup)", data.join(p).display()));
    assert_eq!(removals.iter().copied().collect::<std::collections::BTreeSet<_>>(), extra.iter().map(String::as_str).collect(), "{dry}");
    tree::assert_same(&snapshot(&data), &changed, "a dry run changes nothing");

    let out = fx.bosun(&["backup", "restore", &id, "--force"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("denied"), "landing in a grant root whose parent is not granted is no denial: {}", stderr(&out));
    assert!(text.contains("removed 4 entries the backup does not hold, so the target equals it (--keep-extra keeps them)"), "{text}");
    tree::assert_same(&snapshot(&data), &original, "restore --force");
    tree::assert_same(&snapshot(&outside), &outside_before, "nothing outside the target is touched through a link");

    // The undo the message gives brings back the edited tree, extras and links included.
    let undo = text.split("undo, exactly as it was: ").nth(1).unwrap().trim_end().trim_end_matches(')');
    let undo_args: Vec<&str> = undo.split(' ').skip(1).collect();
    assert_eq!(undo_args[..2], ["backup", "restore"], "{undo}");
    let out = fx.bosun(&undo_args);
    assert!(out.status.success(), "{}", stderr(&out));
    tree::assert_same(&snapshot(&data), &changed, "the undo");
    tree::assert_same(&snapshot(&outside), &outside_before, "nothing outside is touched by the undo either");

    // --keep-extra: restored over, the extras left.
    let kept = fx.json(&["backup", "restore", &id, "--force", "--keep-extra"]);
    assert_eq!(kept["kept_extra"].as_array().unwrap().len(), 3, "{kept}");
    assert_eq!(kept["removed"], serde_json::json!([data.join("other-owner")]), "a directory where the backup has a file is in the way: {kept}");
    assert_eq!(std::fs::read_to_string(data.join("added/deep/file")).unwrap(), "added");
    assert_eq!(std::fs::read_to_string(data.join("PG_VERSION")).unwrap(), "16\n");
    assert_eq!(std::fs::read_to_string(data.join("server.log")).unwrap(), "never backed up\n", "an excluded file is never extra");
    tree::assert_same(&snapshot(&outside), &outside_before, "outside");
}

#[test]
fn a_non_empty_target_needs_force_and_is_backed_up_first() {
    let ops = common::recorder::Recorder::start(200, "ok");
    let fx = Fixture::new(&format!("\n[notify.ops]\nurl = \"generic+{}/restores\"\non = [\"restore.*\"]\n", ops.url));
    std::fs::write(fx.data().join("a.txt"), "alpha").unwrap();
    let id = fx.backup("--full")["id"].as_str().unwrap().to_string();
    let target = fx.root.join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("keep.txt"), "precious").unwrap();

    assert_bad_input(&fx.bosun(&["backup", "restore", &id, "--target", target.to_str().unwrap()]), "is not empty");
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 1);

    let dry = fx.json(&["backup", "restore", &id, "--target", target.to_str().unwrap(), "--force", "--dry-run"]);
    assert!(dry["planned"].as_array().unwrap().iter().any(|c| c["call"] == "fs.extract"), "{dry}");
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 1, "a dry run writes nothing");
    assert_eq!(fx.listed().len(), 1, "a dry run takes no safety backup");

    let restored = fx.json(&["backup", "restore", &id, "--target", target.to_str().unwrap(), "--force"]);
    let safety = restored["safety_backup"].as_str().unwrap();
    let shown = fx.json(&["backup", "show", safety]);
    assert_eq!(shown["manifest"]["strategy_config"]["paths"][0], target.to_str().unwrap(), "{shown}");
    assert_eq!(std::fs::read_to_string(target.join(fx.data().strip_prefix("/").unwrap()).join("a.txt")).unwrap(), "alpha");
    let notices: Vec<serde_json::Value> = ops.requests().iter().map(|r| r.json()).collect();
    let kinds: Vec<&str> = notices.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["restore.started", "restore.succeeded"], "refused and dry-run restores notify nothing");
    assert_eq!(notices[1]["facts"]["backup"], id.as_str());
}

#[test]
fn verify_and_restore_name_a_corrupted_or_truncated_artifact_and_touch_nothing() {
    let fx = Fixture::new("");
    generate_tree(&fx.data());
    let backup = fx.backup("--full");
    let id = backup["id"].as_str().unwrap();
    let archive = PathBuf::from(backup["dir"].as_str().unwrap()).join("data.tar.zst");

    let verified = fx.json(&["backup", "verify", id]);
    assert_eq!(verified["artifacts"], 2);

    let mut bytes = std::fs::read(&archive).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&archive, &bytes).unwrap();
    let out = fx.bosun(&["backup", "verify", id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("artifact data.tar.zst has sha256") && err.contains("corrupted"), "{err}");
    assert!(err.contains(&sha256_hex(&bytes)), "names the hash it found: {err}");
    let list = fx.json(&["backup", "list"]);
    assert!(list[0]["verify_error"].as_str().unwrap().contains("corrupted"), "the catalog records the failed verify: {list}");

    let target = fx.root.join("target");
    let out = fx.bosun(&["backup", "restore", id, "--target", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("corrupted"), "{}", stderr(&out));
    assert!(!target.exists(), "nothing restored from a corrupted backup");

    std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    let out = fx.bosun(&["backup", "verify", id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("is {} bytes, the manifest says {}", bytes.len() / 2, bytes.len())), "{}", stderr(&out));
    assert_eq!(fx.listed(), [id], "a failed verify deletes nothing");
}

/// Into a missing or empty target the artifacts are checked while the
/// restore writes. A damaged file list (read by neither the plugin nor tar)
/// lets the extraction finish; the check then takes everything out again.
#[test]
fn a_restore_into_a_fresh_target_that_fails_its_check_takes_out_what_it_wrote() {
    let fx = Fixture::new("");
    generate_tree(&fx.data());
    let backup = fx.backup("--full");
    let id = backup["id"].as_str().unwrap();
    let list = PathBuf::from(backup["dir"].as_str().unwrap()).join("files.list.zst");
    let mut bytes = std::fs::read(&list).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&list, &bytes).unwrap();

    let empty = fx.root.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let nested = fx.root.join("new/deeper/target");
    for (target, left) in [(&empty, Some(&empty)), (&nested, None)] {
        let out = fx.bosun(&["backup", "restore", id, "--target", target.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("artifact files.list.zst has sha256") && err.contains("what it restored was removed again"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        match left {
            Some(dir) => assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0, "the empty target is empty again"),
            None => assert!(!fx.root.join("new").exists(), "the directories made for the target are gone"),
        }
    }
    let runs = fx.catalog().query_row("SELECT count(*) FROM runs WHERE operation = 'restore' AND outcome = 'failed'", [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(runs, 2, "each failed restore is recorded");
}

#[test]
fn a_backup_killed_mid_way_is_never_listed_and_the_next_run_cleans_up() {
    let fx = Fixture::new("");
    // Incompressible, so archiving takes long enough to be interrupted.
    let noise = noise(64 << 20);
    for i in 0..6 {
        std::fs::write(fx.data().join(format!("noise{i}.bin")), &noise).unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .args(["backup", "run", "data"])
        .current_dir(fx.project.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the archive is being written.
    let deadline = Instant::now() + Duration::from_secs(120);
    let writing = || {
        fx.leftovers().iter().any(|partial| std::fs::read_dir(fx.root.join("backups").join(partial)).is_ok_and(|mut d| d.next().is_some()))
    };
    while !writing() {
        assert!(Instant::now() < deadline, "the backup never started writing");
        assert!(child.try_wait().unwrap().is_none(), "the backup finished before it could be killed; make the data larger");
        std::thread::sleep(Duration::from_millis(5));
    }

    // While it runs, a second backup of the set is refused as busy (exit 11).
    let busy = fx.bosun(&["backup", "run", "data"]);
    assert_eq!(busy.status.code(), Some(11), "{}", stderr(&busy));
    assert!(stderr(&busy).contains("busy") && stderr(&busy).contains("backup by"), "{}", stderr(&busy));

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(fx.listed().is_empty(), "a killed backup is not listed");
    assert_eq!(fx.leftovers().len(), 1, "its partial directory is still there: {:?}", fx.leftovers());
    let integrity: String = fx.catalog().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    let outcome: String = fx.catalog().query_row("SELECT outcome FROM runs ORDER BY id DESC", [], |r| r.get(0)).unwrap();
    assert_eq!(outcome, "interrupted", "the next bosun found the run's process gone");

    std::fs::remove_dir_all(fx.data()).unwrap();
    std::fs::create_dir_all(fx.data()).unwrap();
    std::fs::write(fx.data().join("small.txt"), "small").unwrap();
    let taken = fx.json(&["backup", "run", "data"]);
    assert_eq!(taken["cleaned"].as_array().unwrap().len(), 1, "{taken}");
    assert!(fx.leftovers().is_empty());
    assert_eq!(fx.listed().len(), 1);
}

/// A 1 MiB tmpfs as the destination, unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(path: PathBuf) -> SmallDisk {
        std::fs::create_dir_all(&path).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(&path).output().unwrap();
        assert!(out.status.success(), "mounting a small tmpfs for the disk-full test (needs root): {}", stderr(&out));
        SmallDisk(path)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_earlier_backups_stay_intact() {
    let owned = tempfile::tempdir().unwrap();
    let root = owned.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join("data")).unwrap();
    let disk = SmallDisk::mount(root.join("small-disk"));
    // Uncompressed, so that the disk fills while a source file is being copied.
    let fx = Fixture::with_dest(root.clone(), &disk.0, "compression = \"none\"");
    std::fs::write(fx.data().join("a.txt"), "fits").unwrap();
    let first = fx.backup("--full");

    std::fs::write(fx.data().join("big.bin"), noise(3 << 20)).unwrap();
    let out = fx.bosun(&["backup", "run", "data"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("no space left on the file system mounted at {}; free space there and retry", disk.0.display())), "{err}");
    assert!(err.contains(&disk.0.display().to_string()) && !err.contains("big.bin"), "names the destination, not the file being read: {err}");
    assert_eq!(fx.listed(), [first["id"].as_str().unwrap()]);
    let leftovers: Vec<_> = std::fs::read_dir(&disk.0).unwrap().map(|e| e.unwrap().file_name()).filter(|n| n.to_string_lossy().starts_with(".partial")).collect();
    assert!(leftovers.is_empty(), "the failed backup's directory is gone: {leftovers:?}");
    fx.json(&["backup", "verify", first["id"].as_str().unwrap()]);
    drop(disk);
}

#[test]
fn tagged_backups_are_kept_by_keep_tag_and_a_bad_tag_is_refused() {
    let fx = Fixture::new("\n[backups.data.retention]\nkeep-last = 1\nkeep-tag = [\"release,v1\", \"audit\"]\n");
    std::fs::write(fx.data().join("a.txt"), "a").unwrap();
    let released = fx.json(&["backup", "run", "data", "--tag", "v1", "--tag", "release"])["backup"]["id"].as_str().unwrap().to_string();
    let half_tagged = fx.json(&["backup", "run", "data", "--tag", "release"])["backup"]["id"].as_str().unwrap().to_string();
    let newest = fx.backup("--full")["id"].as_str().unwrap().to_string();
    let list = fx.json(&["backup", "list"]);
    assert_eq!(list[0]["tags"], serde_json::json!(["release", "v1"]), "sorted: {list}");
    assert!(stdout(&fx.bosun(&["backup", "list"])).contains("release,v1"), "the text list shows tags");

    let text = stdout(&fx.bosun(&["backup", "prune", "--dry-run"]));
    assert!(text.contains(&format!("keep   {released}  keep-tag release,v1")), "{text}");
    assert!(text.contains(&format!("keep   {newest}  keep-last")), "{text}");
    assert!(text.contains(&format!("remove {half_tagged}  not kept: outside keep-last 1; not tagged release,v1; not tagged audit")), "{text}");

    let out = fx.bosun(&["backup", "run", "data", "--tag", "a,b"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--tag \"a,b\" is not a tag") && stderr(&out).contains("nothing was backed up"), "{}", stderr(&out));
    assert_eq!(fx.listed().len(), 3);
}

#[test]
fn prune_keeps_what_the_policy_and_releases_need_and_says_why() {
    let fx = Fixture::new("\n[backups.data.retention]\nkeep-last = 1\n");
    std::fs::write(fx.data().join("a.txt"), "a").unwrap();
    let full_1 = fx.backup("--full")["id"].as_str().unwrap().to_string();
    let inc_1 = fx.backup("--incremental")["id"].as_str().unwrap().to_string();
    let full_2 = fx.backup("--full")["id"].as_str().unwrap().to_string();
    let inc_2 = fx.backup("--incremental")["id"].as_str().unwrap().to_string();
    let released = fx.backup("--full")["id"].as_str().unwrap().to_string();
    let newest = fx.backup("--full")["id"].as_str().unwrap().to_string();
    // A deploy recorded `released` as the backup taken before it.
    fx.catalog()
        .execute(
            "INSERT INTO releases (service, env, version, who, created_at, backup_id, outcome) VALUES ('web', 'prod', '1.4.2', 'ci', 1, ?1, 'succeeded')",
            [&released],
        )
        .unwrap();

    let out = fx.bosun(&["backup", "prune", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("keep   {newest}  keep-last")), "{text}");
    assert!(text.contains(&format!("keep   {inc_2}  keep-last")), "{text}");
    assert!(text.contains(&format!("keep   {full_2}  base of {inc_2}")), "{text}");
    assert!(text.contains(&format!("keep   {released}  used by release web 1.4.2")), "{text}");
    assert!(text.contains(&format!("remove {full_1}  not kept: outside keep-last 1")), "every removal says why: {text}");
    assert!(text.contains(&format!("remove {inc_1}  not kept: outside keep-last 1")), "{text}");
    assert_eq!(fx.listed().len(), 6, "a dry run removes nothing");

    let pruned = fx.json(&["backup", "prune", "data"]);
    let removed: Vec<&str> = pruned["removed"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(removed, [inc_1.as_str(), full_1.as_str()]);
    assert_eq!(fx.listed(), [full_2.clone(), inc_2.clone(), released, newest]);
    assert!(!fx.root.join("backups").join(&full_1).exists() && !fx.root.join("backups").join(&inc_1).exists());
    assert!(fx.leftovers().is_empty());
    fx.json(&["backup", "verify", &inc_2, "--restore-test"]);
}

#[test]
fn bad_input_is_one_line_and_changes_nothing() {
    let fx = Fixture::new("");
    std::fs::write(fx.data().join("a.txt"), "a").unwrap();
    assert_bad_input(&fx.bosun(&["backup", "run", "nope"]), "no backup set called nope; bosun.toml has: data");
    assert_bad_input(&fx.bosun(&["backup", "list", "nope"]), "no backup set called nope");
    assert_bad_input(&fx.bosun(&["backup", "show", "nope-20260101T000000Z"]), "no backup called nope-20260101T000000Z in the catalog");
    assert_bad_input(&fx.bosun(&["backup", "prune", "data"]), "backups.data has no retention policy");

    let id = fx.backup("--full")["id"].as_str().unwrap().to_string();
    let copy = fx.root.join("from-a-newer-bosun");
    let dir = fx.root.join("backups").join(&id);
    std::fs::create_dir_all(&copy).unwrap();
    let manifest = std::fs::read_to_string(dir.join("replication_manifest.json")).unwrap();
    std::fs::write(copy.join("replication_manifest.json"), manifest.replace("\"format\": 1", "\"format\": 2")).unwrap();
    assert_bad_input(&fx.bosun(&["backup", "restore", copy.to_str().unwrap(), "--target", "/tmp/x"]), "written by a newer bosun");

    let inside = Fixture::with_dest(fx.root.clone(), &fx.data().join("backups"), "");
    assert_bad_input(&inside.bosun(&["backup", "run", "data"]), "overlaps the source path");
    assert!(!fx.data().join("backups").exists());

    let empty_policy = Fixture::with_dest(fx.root.clone(), &fx.root.join("backups"), "[backups.data.retention]\n");
    assert_bad_input(&empty_policy.bosun(&["backup", "prune", "--dry-run"]), "keeps nothing");
    assert_eq!(fx.listed(), [id]);
}

/// A set's strategy keys are checked against the schema dir-archive's config
/// type gives, when bosun.toml is loaded: a typo is refused with its line and
/// the likely key, and nothing is backed up; bosun's own keys in the table
/// (`replicas`, `before`, `retention`, …) are not the plugin's.
#[test]
fn an_unknown_key_in_a_sets_strategy_table_is_refused_before_anything_is_backed_up() {
    let fx = Fixture::new("exclude = [\"*.log\"]\nreplica = []\ncompression = 3\n");
    std::fs::write(fx.data().join("a.txt"), "a").unwrap();
    let out = fx.bosun(&["backup", "run", "data"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "one line each: {err}");
    assert!(lines[0].ends_with("bosun.toml:9:11: backups.data.exclude: unknown key; did you mean `excludes`?"), "{err}");
    assert!(lines[1].ends_with("bosun.toml:10:11: backups.data.replica: unknown key; did you mean `replicas`?"), "{err}");
    assert!(lines[2].ends_with("bosun.toml:11:15: backups.data.compression: expected a string, found the number 3"), "{err}");
    assert!(!fx.root.join("backups").exists(), "nothing was backed up");
    assert!(!fx.root.join("state/state.db").exists(), "no run was recorded");

    let fixed = Fixture::with_dest(
        fx.root.clone(),
        &fx.root.join("backups"),
        "excludes = [\"*.log\"]\nreplicas = []\nbefore = \"true\"\ncompression = \"gzip\"\n\n[backups.data.retention]\nkeep-last = 2\n",
    );
    std::fs::write(fx.data().join("skipped.log"), "left out").unwrap();
    let id = fixed.backup("--full")["id"].as_str().unwrap().to_string();
    let listed = listed_files(&fixed, &id);
    assert!(listed.keys().any(|k| k.ends_with("a.txt")) && !listed.keys().any(|k| k.ends_with("skipped.log")), "{listed:?}");
}

#[test]
fn replicas_get_a_verified_copy_and_a_failed_replica_leaves_the_backup_valid() {
    let owned = tempfile::tempdir().unwrap();
    let root = owned.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("not-a-dir"), "a file where a replica directory should be").unwrap();
    let (good, bad) = (root.join("share/backups"), root.join("not-a-dir/backups"));
    let ops = common::recorder::Recorder::start(200, "ok");
    let extra = format!(
        "replicas = [\"{}\", \"{}\"]\n[backups.data.retention]\nkeep-last = 1\n\n[notify.ops]\nurl = \"generic+{}/backups\"\non = [\"backup.*\"]\n",
        good.display(),
        bad.display(),
        ops.url
    );
    let fx = Fixture::with_dest(root.clone(), &root.join("backups"), &extra);
    generate_tree(&fx.data());

    let out = fx.bosun(&["--json", "backup", "run", "data"]);
    assert_eq!(out.status.code(), Some(1), "a failed replica fails the command: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("is taken and valid, but replica") && err.contains("not-a-dir"), "{err}");
    let taken: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = taken["backup"]["id"].as_str().unwrap();
    assert_eq!(fx.listed(), [id], "the local backup is listed");
    assert!(taken["replicas"][0]["error"].is_null() && taken["replicas"][1]["error"].is_string(), "{taken}");
    fx.json(&["backup", "verify", id]);
    // The replica failure is notified; the backup counts as taken.
    let notices: Vec<serde_json::Value> = ops.requests().iter().map(|r| r.json()).collect();
    let kinds: Vec<&str> = notices.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["backup.started", "backup.succeeded"]);
    assert_eq!(notices[1]["severity"], "warning");
    assert!(notices[1]["body"].as_str().unwrap().contains("is taken and valid, but: replica"), "{}", notices[1]);
    assert_eq!(notices[1]["facts"]["backup"], id);

    // The copy is complete: it verifies and restores with only its directory.
    let copy = good.join(id);
    let verified = fx.json(&["backup", "verify", copy.to_str().unwrap(), "--restore-test"]);
    assert!(verified["restore_test_entries"].as_u64().unwrap() > 500, "{verified}");
    assert!(std::fs::read_dir(&good).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with(".partial")));

    // Pruning removes the replica's copy with the backup.
    std::fs::remove_file(root.join("not-a-dir")).unwrap();
    let newer = fx.backup("--full")["id"].as_str().unwrap().to_string();
    fx.json(&["backup", "prune"]);
    assert_eq!(fx.listed(), std::slice::from_ref(&newer));
    assert!(!copy.exists(), "the pruned backup's replica copy is gone");
    assert!(good.join(&newer).join("replication_manifest.json").is_file());
}

fn docker_events(name: &str, since: &str) -> Vec<String> {
    let until = format!("{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1);
    let out = support::docker(&["events", "--since", since, "--until", &until, "--filter", &format!("container={name}"), "--format", "{{.Action}}"]);
    String::from_utf8_lossy(&out.stdout).lines().filter(|a| ["stop", "start"].contains(a)).map(String::from).collect()
}

fn running(name: &str) -> bool {
    String::from_utf8_lossy(&support::docker(&["inspect", "-f", "{{.State.Running}}", name]).stdout).trim() == "true"
}

/// Now, as `docker events --since` takes it (to the nanosecond).
fn now_secs() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

#[test]
fn containers_are_stopped_for_the_copy_and_started_again_even_when_it_fails() {
    support::require_engine();
    let listed = support::run_test_container(&support::unique("bosun-backup-stop"), &[], &[]);
    let hook_out = "after-hook.txt";
    let extra = format!("stop = [\"{}\"]\nafter = \"echo $BOSUN_BACKUP_ID > {hook_out}\"\n", listed.name);
    let fx = Fixture::new(&extra);
    let project_label = format!("bosun.project={}", fx.project_name());
    let labelled = support::run_test_container(&support::unique("bosun-backup-label"), &["bosun.stop-during-backup=true", &project_label], &[]);
    std::fs::write(fx.data().join("a.txt"), "a").unwrap();

    let dry = fx.json(&["backup", "run", "data", "--dry-run"]);
    let calls: Vec<String> = dry["calls"].as_array().unwrap().iter().map(|c| format!("{} {}", c["call"].as_str().unwrap(), c["detail"].as_str().unwrap())).collect();
    assert_eq!(calls.first().unwrap(), &format!("docker.stop {}", listed.name), "{calls:?}");
    assert!(calls.contains(&format!("docker.stop {}", labelled.name)), "{calls:?}");
    assert!(calls.last().unwrap().starts_with("hook.after echo"), "{calls:?}");
    assert!(running(&listed.name) && running(&labelled.name), "a dry run stops nothing");

    let since = now_secs();
    let taken = fx.backup("--full");
    assert_eq!(taken["id"], fx.json(&["backup", "list"])[0]["id"]);
    for name in [&listed.name, &labelled.name] {
        assert_eq!(docker_events(name, &since), ["stop", "start"], "{name} was stopped for the copy and started again");
        assert!(running(name), "{name} runs again");
    }
    let hook_said = std::fs::read_to_string(fx.project.dir.path().join(hook_out)).unwrap();
    assert_eq!(hook_said.trim(), taken["id"].as_str().unwrap(), "the after hook sees the backup id");

    // The copy fails (the source is gone): the containers still start again.
    std::fs::remove_dir_all(fx.data()).unwrap();
    let since = now_secs();
    let out = fx.bosun(&["backup", "run", "data"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(docker_events(&listed.name, &since), ["stop", "start"]);
    assert!(running(&listed.name) && running(&labelled.name));
    assert_eq!(fx.listed().len(), 1, "the failed backup is not listed");
}

#[test]
fn a_before_hook_can_skip_or_fail_a_backup_before_anything_is_written() {
    let fx = Fixture::new("before = \"echo checking >&2; exit ${HOOK_EXIT:-0}\"\n");
    std::fs::write(fx.data().join("a.txt"), "a").unwrap();
    let run = |code: &str| {
        Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(["backup", "run", "data"])
            .current_dir(fx.project.dir.path())
            .env("HOOK_EXIT", code)
            .output()
            .unwrap()
    };
    let skipped = run("75");
    assert_eq!(skipped.status.code(), Some(75), "{}", stderr(&skipped));
    assert!(stderr(&skipped).contains("skipped: its before hook"), "{}", stderr(&skipped));
    let failed = run("3");
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert!(stderr(&failed).contains("backups.data.before") && stderr(&failed).contains("exited 3: checking"), "{}", stderr(&failed));
    assert!(fx.listed().is_empty() && fx.leftovers().is_empty());
    let outcomes: Vec<String> = fx.catalog().prepare("SELECT outcome FROM runs ORDER BY id").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(outcomes, ["skipped", "failed"]);
    assert!(run("0").status.success());
    assert_eq!(fx.listed().len(), 1);
}

#[test]
fn docker_image_saves_one_tarball_per_iso_week_and_restores_with_load() {
    support::require_engine();
    let owned = tempfile::tempdir().unwrap();
    let root = owned.path().canonicalize().unwrap();
    // A tag of its own, so removing it disturbs no other test.
    let tag = format!("bosun-backup-image-{}:v1", std::process::id());
    support::docker(&["tag", &support::test_image(), &tag]);
    let config = format!(
        "[project]\nname = \"shop\"\nstate_dir = \"{r}/state\"\n\n[backups.images]\nstrategy = \"docker-image\"\ndest = \"{r}/backups\"\nimages = [\"{tag}\"]\n\n[plugins.docker-image.grant]\ndocker = [\"inspect,save,load:bosun-backup-image-*\"]\n",
        r = root.display()
    );
    let fx = Fixture::with_config(root.clone(), &config);
    let taken = fx.json(&["backup", "run", "images"]);
    let artifact = taken["manifest"]["artifacts"][0]["path"].as_str().unwrap().to_string();
    let week = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).strftime("%G-W%V").to_string();
    assert_eq!(artifact, format!("images-{week}.tar"));
    assert_eq!(taken["manifest"]["facts"]["images"], tag.as_str());
    let id = taken["backup"]["id"].as_str().unwrap();
    fx.json(&["backup", "verify", id]);

    // The restore test unpacks the tarball and checks each layer against the
    // digests its image config names; it loads nothing into the engine.
    support::docker(&["rmi", &tag]);
    let tested = fx.json(&["backup", "verify", id, "--restore-test"]);
    assert!(tested["restore_test_entries"].as_u64().unwrap() >= 3, "manifest, config and a layer at least: {tested}");
    let absent = Command::new("docker").args(["image", "inspect", &tag]).output().unwrap();
    assert!(!absent.status.success(), "the restore test must not load {tag} into the engine");
    let tarball = root.join(format!("backups/{id}/{artifact}"));
    let damaged = root.join("damaged.tar");
    damage_first_layer(&tarball, &damaged);
    let damaged_fx = Fixture::with_config(root.clone(), &config);
    let copy = root.join("elsewhere").join(id);
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(root.join(format!("backups/{id}/replication_manifest.json")), copy.join("replication_manifest.json")).unwrap();
    std::fs::copy(&damaged, copy.join(&artifact)).unwrap();
    rehash_manifest(&copy, &artifact);
    let out = damaged_fx.bosun(&["backup", "verify", copy.to_str().unwrap(), "--restore-test"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("hashes to sha256:") && stderr(&out).contains("but the image config expects sha256:"), "{}", stderr(&out));
    support::docker(&["tag", &support::test_image(), &tag]);

    support::docker(&["rmi", &tag]);
    // Loading is its own docker action: without it the restore is denied, naming the grant.
    let no_load = Fixture::with_config(root.clone(), &config.replace("inspect,save,load:", "inspect,save:"));
    let denied = no_load.bosun(&["backup", "restore", id]);
    assert_eq!(denied.status.code(), Some(2), "{}", stderr(&denied));
    assert!(stderr(&denied).contains("docker.load-images") && stderr(&denied).contains("load:"), "{}", stderr(&denied));
    let restored = fx.json(&["backup", "restore", id]);
    assert_eq!(restored["targets"].as_array().unwrap().len(), 0, "{restored}");
    let inspected = support::docker(&["image", "inspect", "-f", "{{.Id}}", &tag]);
    let original = support::docker(&["image", "inspect", "-f", "{{.Id}}", &support::test_image()]);
    assert_eq!(inspected.stdout, original.stdout, "the loaded image is the one saved");
    support::docker(&["rmi", &tag]);
}

#[test]
fn a_docker_volume_is_backed_up_through_the_engine_and_restored_in_place_or_under_a_target() {
    support::require_engine();
    let owned = tempfile::tempdir().unwrap();
    let root = owned.path().canonicalize().unwrap();
    let volume = support::unique("bosun-backup-volume");
    let _ = Command::new("docker").args(["volume", "rm", "--force", &volume]).output();
    let container = support::run_test_container(&support::unique("bosun-volume-user"), &[], &["--volume", &format!("{volume}:/data")]);
    let seed = root.join("seed/data");
    generate_small_tree(&seed);
    support::docker(&["cp", &format!("{}/.", seed.display()), &format!("{}:/data", container.name)]);
    // What the volume holds: the seed plus what the image had at /data.
    let expected = root.join("expected");
    support::docker(&["cp", &format!("{}:/data", container.name), &expected.display().to_string()]);
    assert!(expected.join("dir0/f0.txt").is_file());

    let config = format!(
        "[project]\nname = \"shop\"\nstate_dir = \"{r}/state\"\n\n[backups.volume]\nstrategy = \"volume\"\ndest = \"{r}/backups\"\nvolume = \"{volume}\"\nstop = [\"{c}\"]\n\n[plugins.volume.grant]\ndocker = [\"inspect,copy:bosun-volume-user-*\"]\n",
        r = root.display(),
        c = container.name
    );
    let fx = Fixture::with_config(root.clone(), &config);
    let taken = fx.json(&["backup", "run", "volume"]);
    assert_eq!(taken["manifest"]["facts"]["path"], "/data", "{taken}");
    let id = taken["backup"]["id"].as_str().unwrap().to_string();

    let target = root.join("restored");
    fx.json(&["backup", "restore", &id, "--target", target.to_str().unwrap()]);
    assert_eq!(snapshot_contents(&target.join("data")), snapshot_contents(&expected));
    // With no file list, the restore test compares against the archive itself.
    let verified = fx.json(&["backup", "verify", &id, "--restore-test"]);
    assert!(verified["restore_test_entries"].as_u64().unwrap() >= 15, "{verified}");
    assert_bad_input(&fx.bosun(&["backup", "files", &id]), "strategy volume may not write one); `bosun backup show");

    // Damage a file in the volume, restore in place, read it back out.
    std::fs::write(root.join("damaged.txt"), "damaged").unwrap();
    support::docker(&["cp", &root.join("damaged.txt").display().to_string(), &format!("{}:/data/dir0/f0.txt", container.name)]);
    let since = now_secs();
    fx.json(&["backup", "restore", &id]);
    assert_eq!(docker_events(&container.name, &since), ["stop", "start"], "stopped around the in-place restore");
    assert!(running(&container.name));
    let back = root.join("back");
    support::docker(&["cp", &format!("{}:/data", container.name), &back.display().to_string()]);
    assert_eq!(std::fs::read_to_string(back.join("dir0/f0.txt")).unwrap(), std::fs::read_to_string(seed.join("dir0/f0.txt")).unwrap());

    // A damaged artifact is found before anything reaches the volume: a
    // restore into the engine has nothing it could take out again.
    let dir = PathBuf::from(taken["backup"]["dir"].as_str().unwrap());
    let artifact = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).find(|p| !p.ends_with("replication_manifest.json")).unwrap();
    let mut bytes = std::fs::read(&artifact).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&artifact, &bytes).unwrap();
    support::docker(&["cp", &root.join("damaged.txt").display().to_string(), &format!("{}:/data/dir0/f0.txt", container.name)]);
    let since = now_secs();
    let out = fx.bosun(&["backup", "restore", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("corrupted"), "{}", stderr(&out));
    assert!(docker_events(&container.name, &since).is_empty(), "the container was not stopped");
    let after = root.join("after");
    support::docker(&["cp", &format!("{}:/data", container.name), &after.display().to_string()]);
    assert_eq!(std::fs::read_to_string(after.join("dir0/f0.txt")).unwrap(), "damaged", "the volume was not touched");
    drop(container);
    let _ = Command::new("docker").args(["volume", "rm", "--force", &volume]).output();
}

/// A dump taken with `docker exec` inside the database's container, and put
/// back the same way: the host streams the file to the restore command's stdin.
#[test]
fn db_dump_restores_into_the_container_it_dumped_from() {
    support::require_engine();
    let owned = tempfile::tempdir().unwrap();
    let root = owned.path().canonicalize().unwrap();
    let container = support::run_test_container(&support::unique("bosun-db-container"), &[], &[]);
    let contents: String = (0..20_000).map(|i| format!("row {i}\n")).collect();
    std::fs::write(root.join("db"), &contents).unwrap();
    support::docker(&["cp", &root.join("db").display().to_string(), &format!("{}:/data/db", container.name)]);
    let config = format!(
        "[project]\nname = \"shop\"\nstate_dir = \"{r}/state\"\n\n[backups.db]\nstrategy = \"db-dump\"\ndest = \"{r}/backups\"\n\
         container = \"{c}\"\ncommand = [\"/testsrv\", \"cat\", \"/data/db\"]\nrestore_command = [\"/testsrv\", \"write\", \"/data/db\"]\n\n\
         [plugins.db-dump.grant]\ndocker = [\"exec:{c}\"]\n",
        r = root.display(),
        c = container.name
    );
    let fx = Fixture::with_config(root.clone(), &config);
    let taken = fx.json(&["backup", "run", "db"]);
    let id = taken["backup"]["id"].as_str().unwrap().to_string();
    assert_eq!(std::fs::read_to_string(root.join(format!("backups/{id}/dump"))).unwrap(), contents, "the dump is the container's file");

    support::docker(&["exec", &container.name, "/testsrv", "write", "/data/db"]);
    let emptied = support::docker(&["exec", &container.name, "/testsrv", "cat", "/data/db"]);
    assert!(emptied.stdout.is_empty());
    let planned = fx.json(&["backup", "restore", &id, "--dry-run"]);
    assert!(planned.to_string().contains("/testsrv write /data/db < "), "the dry run names the command and its input: {planned}");
    fx.json(&["backup", "restore", &id]);
    let back = support::docker(&["exec", &container.name, "/testsrv", "cat", "/data/db"]);
    assert_eq!(String::from_utf8(back.stdout).unwrap(), contents, "restored through the restore command's stdin");
    let out = fx.bosun(&["backup", "verify", &id, "--restore-test"]);
    assert!(!out.status.success() && stderr(&out).contains("a `command` dump has no restore test"), "{}", stderr(&out));

    // A restore command that fails is reported with what it printed.
    let broken = Fixture::with_config(root.clone(), &config.replace("\"write\", \"/data/db\"", "\"write\", \"/no/such/dir/db\""));
    let out = broken.bosun(&["backup", "restore", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("`/testsrv write /no/such/dir/db` exited 1: testsrv: /no/such/dir/db: "), "{}", stderr(&out));
}

/// `tarball` with one byte of its first image layer changed, written to `out`
/// (a valid tar still, so only the layer digest check can notice).
fn damage_first_layer(tarball: &Path, out: &Path) {
    let mut archive = tar::Archive::new(std::fs::File::open(tarball).unwrap());
    let mut builder = tar::Builder::new(std::fs::File::create(out).unwrap());
    let mut damaged = false;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        let is_layer = path.to_string_lossy().ends_with("layer.tar") || (path.starts_with("blobs") && data.len() > 10_000);
        if !damaged && header.entry_type().is_file() && is_layer {
            let last = data.len() - 2000;
            data[last] ^= 0xff;
            damaged = true;
        }
        builder.append_data(&mut header, &path, data.as_slice()).unwrap();
    }
    builder.finish().unwrap();
    assert!(damaged, "no layer found in {}", tarball.display());
}

/// Rewrites the manifest's size and sha256 of `artifact` to match the file,
/// as if the damage happened before the backup was taken.
fn rehash_manifest(dir: &Path, artifact: &str) {
    let path = dir.join("replication_manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join(artifact)).unwrap();
    for entry in manifest["artifacts"].as_array_mut().unwrap() {
        if entry["path"] == artifact {
            entry["size"] = bytes.len().into();
            entry["sha256"] = sha256_hex(&bytes).into();
        }
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

/// A few directories of small files.
fn generate_small_tree(root: &Path) {
    for d in 0..3 {
        let dir = root.join(format!("dir{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..5 {
            std::fs::write(dir.join(format!("f{f}.txt")), format!("volume file {d}/{f}\n")).unwrap();
        }
    }
}

/// Paths, file contents and link targets only: `docker cp` does not keep
/// modes, owners or times.
fn snapshot_contents(root: &Path) -> BTreeMap<String, String> {
    let content = |node: Node| node.sha256.or(node.link).unwrap_or_else(|| node.kind.to_string());
    snapshot(root).into_iter().filter(|(k, _)| k != ".").map(|(k, v)| (k, content(v))).collect()
}

/// Rows in `table` of the SQLite file `db` (with an integrity check first).
fn sqlite_rows(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok", "{}", db.display());
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap()
}

#[test]
fn db_dump_takes_a_consistent_sqlite_backup_while_the_app_writes_and_restores_it() {
    let owned = tempfile::tempdir().unwrap();
    let root = owned.path().canonicalize().unwrap();
    let db = root.join("app/app.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT NOT NULL);").unwrap();
    drop(conn);

    // The app: a writer inserting rows, in batches, until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut conn = rusqlite::Connection::open(&db).unwrap();
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let tx = conn.transaction().unwrap();
                for _ in 0..100 {
                    tx.execute("INSERT INTO events (body) VALUES (?1)", ["x".repeat(200)]).unwrap();
                }
                tx.commit().unwrap();
            }
        })
    };
    while sqlite_rows(&db) < 5_000 {
        std::thread::sleep(Duration::from_millis(20));
    }

    let config = format!(
        "[project]\nname = \"shop\"\nstate_dir = \"{r}/state\"\n\n[backups.db]\nstrategy = \"db-dump\"\ndest = \"{r}/backups\"\npreset = \"sqlite\"\ndatabase = \"{db}\"\n\n[plugins.db-dump.grant]\nprocess = [\"run:sqlite3 {db} \\\"VACUUM INTO '{{path:rw}}'\\\"\", \"run:sqlite3 {db} \\\".restore '{{path:ro}}'\\\"\"]\n",
        r = root.display(),
        db = db.display()
    );
    let fx = Fixture::with_config(root.clone(), &config);
    let taken = fx.json(&["backup", "run", "db"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let dump = PathBuf::from(taken["backup"]["dir"].as_str().unwrap()).join("app.db.sqlite3");
    let backed_up = sqlite_rows(&dump);
    assert!(backed_up >= 5_000 && backed_up % 100 == 0, "a consistent snapshot holds whole transactions: {backed_up} rows");
    let id = taken["backup"]["id"].as_str().unwrap();
    fx.json(&["backup", "verify", id]);

    // The restore test: bosun itself checks the dump, an SQLite file; no grant needed.
    let tested = fx.json(&["backup", "verify", id, "--restore-test"]);
    assert_eq!(tested["restore_test_entries"], 1, "{tested}");
    assert_eq!(tested["restore_test_summary"], "opened read-only: integrity_check ok, 1 table", "{tested}");

    // Lose data, then restore the dump into the database.
    rusqlite::Connection::open(&db).unwrap().execute("DELETE FROM events WHERE id > 10", []).unwrap();
    fx.json(&["backup", "restore", id]);
    assert_eq!(sqlite_rows(&db), backed_up);

    // A command outside the grant is denied, naming the line to add.
    let denied = Fixture::with_config(root.clone(), &config.replace(&format!("run:sqlite3 {} ", db.display()), "run:sqlite3 /srv/other.db "));
    let out = denied.bosun(&["backup", "run", "db"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("process = [\"run:sqlite3"), "{}", stderr(&out));
}

/// A PostgreSQL server of its own (Debian's `postgresql` package, installed
/// by scripts/setup), run as the `postgres` user on a unix socket in a temp
/// dir; stopped when dropped.
struct Postgres {
    dir: PathBuf,
    port: u16,
}

impl Postgres {
    fn bin(tool: &str) -> PathBuf {
        let versions = std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL is not installed; run scripts/setup");
        let mut bins: Vec<PathBuf> = versions.map(|v| v.unwrap().path().join("bin").join(tool)).filter(|p| p.is_file()).collect();
        bins.sort();
        bins.pop().unwrap_or_else(|| panic!("no {tool} under /usr/lib/postgresql; run scripts/setup"))
    }

    fn as_postgres(program: &Path, args: &[&str]) -> Output {
        let out = Command::new("runuser").args(["-u", "postgres", "--"]).arg(program).args(args).output().unwrap();
        assert!(out.status.success(), "{} {args:?}: {}", program.display(), stderr(&out));
        out
    }

    fn start(root: &Path) -> Postgres {
        let dir = root.join("pg");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status().unwrap().success());
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.join("data");
        Postgres::as_postgres(&Postgres::bin("initdb"), &["-D", data.to_str().unwrap(), "--auth=trust", "-U", "postgres"]);
        let port = 20000 + (std::process::id() % 20000) as u16;
        let options = format!("-p {port} -k {} -c listen_addresses=''", dir.display());
        let log = dir.join("log");
        Postgres::as_postgres(&Postgres::bin("pg_ctl"), &["-D", data.to_str().unwrap(), "-o", &options, "-l", log.to_str().unwrap(), "-w", "start"]);
        Postgres { dir, port }
    }

    fn sql(&self, db: &str, sql: &str) -> String {
        let port = self.port.to_string();
        let out = Command::new(Postgres::bin("psql"))
            .args(["-h", self.dir.to_str().unwrap(), "-p", &port, "-U", "postgres", "-d", db, "-tA", "-c", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql {sql}: {}", stderr(&out));
        stdout(&out).trim().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = Command::new("runuser").args(["-u", "postgres", "--"]).arg(Postgres::bin("pg_ctl")).args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"]).output();
    }
}

#[test]
fn db_dump_dumps_and_restores_a_real_postgresql_database() {
    let owned = tempfile::tempdir().unwrap();
    let root = owned.path().canonicalize().unwrap();
    let pg = Postgres::start(&root);
    pg.sql("postgres", "CREATE DATABASE shop");
    pg.sql("shop", "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL); INSERT INTO orders (item) SELECT 'item ' || n FROM generate_series(1, 1000) n");

    let config = format!(
        "[project]\nname = \"shop\"\nstate_dir = \"{r}/state\"\n\n[backups.db]\nstrategy = \"db-dump\"\ndest = \"{r}/backups\"\npreset = \"postgres\"\ndatabase = \"shop\"\nuser = \"postgres\"\nhost = \"{sock}\"\nport = {port}\n\n[plugins.db-dump.grant]\nprocess = [\"run:pg_dump -Fc -d shop\", \"run:pg_restore --clean --if-exists -d * {{path:ro}}\", \"run:pg_restore --list {{path:ro}}\", \"run:createdb {{scratch-db}}\", \"run:dropdb {{scratch-db}}\", \"env:PGHOST,PGPORT,PGUSER\"]\n",
        r = root.display(),
        sock = pg.dir.display(),
        port = pg.port
    );
    let fx = Fixture::with_config(root.clone(), &config);
    let taken = fx.json(&["backup", "run", "db"]);
    assert_eq!(taken["manifest"]["artifacts"][0]["path"], "shop.pgdump", "{taken}");
    let dump = PathBuf::from(taken["backup"]["dir"].as_str().unwrap()).join("shop.pgdump");
    assert_eq!(&std::fs::read(&dump).unwrap()[..5], b"PGDMP", "a pg_dump custom-format archive");
    let id = taken["backup"]["id"].as_str().unwrap();

    pg.sql("shop", "DELETE FROM orders WHERE id > 10; INSERT INTO orders (item) VALUES ('after the backup')");
    fx.json(&["backup", "restore", id]);
    assert_eq!(pg.sql("shop", "SELECT count(*) FROM orders"), "1000");
    assert_eq!(pg.sql("shop", "SELECT count(*) FROM orders WHERE item = 'after the backup'"), "0");

    // The restore test loads the dump into a scratch database and drops it after.
    let tested = fx.json(&["backup", "verify", id, "--restore-test"]);
    assert_eq!(tested["restore_test_entries"], 1, "{tested}");
    assert!(tested["restore_test_summary"].as_str().unwrap().ends_with("(dropped after): 1 table, as the dump lists"), "{tested}");
    assert_eq!(pg.sql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'bosun_restore_test_%'"), "0");
}

/// A MariaDB server of its own (Debian's `mariadb-server-core`, installed by
/// scripts/setup) on a loopback port, root without a password.
struct MariaDb {
    dir: PathBuf,
    port: u16,
    server: std::process::Child,
}

impl MariaDb {
    fn start(root: &Path) -> MariaDb {
        let dir = root.join("mariadb");
        let data = dir.join("data");
        let out = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"])
            .arg(format!("--datadir={}", data.display()))
            .output()
            .expect("mariadb-install-db is not installed; run scripts/setup");
        assert!(out.status.success(), "mariadb-install-db: {}", stderr(&out));
        let port = 40000 + (std::process::id() % 20000) as u16;
        let server = Command::new("mariadbd")
            .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", dir.join("sock").display()))
            .arg(format!("--port={port}"))
            .arg(format!("--log-error={}", dir.join("log").display()))
            .spawn()
            .expect("mariadbd is not installed; run scripts/setup");
        let db = MariaDb { dir, port, server };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !db.client("SELECT 1").status.success() {
            assert!(std::time::Instant::now() < deadline, "MariaDB did not start within 30 s: {}", std::fs::read_to_string(db.dir.join("log")).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(100));
        }
        db
    }

    fn client(&self, sql: &str) -> Output {
        Command::new("mysql").args(["--no-defaults", "-h", "127.0.0.1", "-P", &self.port.to_string(), "-u", "root", "-N", "-B", "-e", sql]).output().unwrap()
    }

    fn sql(&self, sql: &str) -> String {
        let out = self.client(sql);
        assert!(out.status.success(), "mysql {sql}: {}", stderr(&out));
        stdout(&out).trim().to_string()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[test]
fn db_dump_dumps_and_restores_a_real_mariadb_database() {
    let owned = tempfile::tempdir().unwrap();
    let root = owned.path().canonicalize().unwrap();
    let db = MariaDb::start(&root);
    db.sql("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, item TEXT NOT NULL) ENGINE=InnoDB");
    db.sql("INSERT INTO shop.orders (item) SELECT CONCAT('item ', seq) FROM shop.seq_1_to_1000");

    let config = format!(
        "[project]\nname = \"shop\"\nstate_dir = \"{r}/state\"\n\n[backups.db]\nstrategy = \"db-dump\"\ndest = \"{r}/backups\"\npreset = \"mysql\"\ndatabase = \"shop\"\nuser = \"root\"\nhost = \"127.0.0.1\"\nport = {port}\n\n[plugins.db-dump.grant]\nprocess = [{mysql}]\n",
        r = root.display(),
        port = db.port,
        mysql = [
            "mysqldump -h 127.0.0.1 -P {port} -u root --single-transaction --routines --triggers shop",
            "mysql -h 127.0.0.1 -P {port} -u root shop -e 'source {path:ro}'",
            "mysql -h 127.0.0.1 -P {port} -u root {scratch-db} -e 'source {path:ro}'",
            "mysql -h 127.0.0.1 -P {port} -u root --sandbox -N -B {scratch-db} -e 'SHOW FULL TABLES'",
            "mysqladmin -h 127.0.0.1 -P {port} -u root create {scratch-db}",
            "mysqladmin -h 127.0.0.1 -P {port} -u root --force drop {scratch-db}",
        ]
        .map(|line| format!("\"run:{}\"", line.replace("{port}", &db.port.to_string())))
        .join(", ")
    );
    let fx = Fixture::with_config(root.clone(), &config);
    let taken = fx.json(&["backup", "run", "db"]);
    assert_eq!(taken["manifest"]["artifacts"][0]["path"], "shop.sql", "{taken}");
    let dump = std::fs::read_to_string(PathBuf::from(taken["backup"]["dir"].as_str().unwrap()).join("shop.sql")).unwrap();
    assert!(dump.contains("CREATE TABLE `orders`") && dump.contains("'item 1000'"), "a mysqldump of the table and its rows");
    let id = taken["backup"]["id"].as_str().unwrap();

    db.sql("DELETE FROM shop.orders WHERE id > 10; INSERT INTO shop.orders (item) VALUES ('after the backup')");
    fx.json(&["backup", "restore", id]);
    assert_eq!(db.sql("SELECT COUNT(*) FROM shop.orders"), "1000");
    assert_eq!(db.sql("SELECT COUNT(*) FROM shop.orders WHERE item = 'after the backup'"), "0");

    // The restore test loads the dump into a scratch database and drops it after.
    let tested = fx.json(&["backup", "verify", id, "--restore-test"]);
    assert_eq!(tested["restore_test_entries"], 1, "{tested}");
    assert!(tested["restore_test_summary"].as_str().unwrap().ends_with("(dropped after): 1 table"), "{tested}");
    assert_eq!(db.sql("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE 'bosun_restore_test_%'"), "0");
}

#[test]
fn backup_fresh_checks_age_and_verification_from_the_catalog() {
    let fx = Fixture::new("\n[checks.fresh]\nplugin = \"backup-fresh\"\nbackup_set = \"data\"\nmax_age = \"1h\"\n\n[checks.stale]\nplugin = \"backup-fresh\"\nbackup_set = \"data\"\nmax_age = \"0m\"\nrequire_verified = false\n");
    let report = |name: &str| -> serde_json::Value {
        let out = fx.bosun(&["check", name, "--json"]);
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap_or_else(|_| panic!("{}", stderr(&out))).remove(0)
    };
    let none = report("fresh");
    assert_eq!(none["passed"], false);
    assert!(none["summary"].as_str().unwrap().contains("backup set data has no backup in the catalog"), "{none}");

    std::fs::write(fx.data().join("a.txt"), "alpha").unwrap();
    let id = fx.backup("--full")["id"].as_str().unwrap().to_string();
    let unverified = report("fresh");
    assert_eq!(unverified["passed"], false, "{unverified}");
    assert!(unverified["conditions"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().starts_with("✗ verified (actual: never verified)")), "{unverified}");
    fx.json(&["backup", "verify", &id]);
    let verified = report("fresh");
    assert_eq!(verified["passed"], true, "{verified}");
    assert!(verified["summary"].as_str().unwrap().contains(&id));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let stale = report("stale");
    assert_eq!(stale["passed"], false, "older than 0m: {stale}");
}
