//! A full walk of a tree on disk: everything a restore must reproduce about
//! each entry, to compare a restored tree with the one backed up.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// One entry as lstat and its content show it. A directory's size is left
/// out: file systems grow directories and do not shrink them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub link: Option<String>,
    /// Nanoseconds since the epoch.
    pub mtime_ns: i128,
}

/// Every entry under `root`, and `root` itself as `.`, by path relative to it;
/// symlinks are described, never followed.
pub fn walk(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    out.insert(".".to_string(), node(root));
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let found = node(&path);
            if found.kind == "dir" {
                pending.push(path.clone());
            }
            out.insert(path.strip_prefix(root).unwrap().display().to_string(), found);
        }
    }
    out
}

fn node(path: &Path) -> Node {
    let meta = path.symlink_metadata().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let kind = match meta.file_type() {
        t if t.is_dir() => "dir",
        t if t.is_symlink() => "symlink",
        t if t.is_file() => "file",
        t if t.is_fifo() => "fifo",
        _ => "other",
    };
    Node {
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        size: (kind != "dir").then_some(meta.size()),
        sha256: (kind == "file").then(|| super::project::sha256_hex(&std::fs::read(path).unwrap())),
        link: (kind == "symlink").then(|| std::fs::read_link(path).unwrap().display().to_string()),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    }
}

/// Asserts two walks are equal, naming each entry that differs and how.
pub fn assert_same(got: &BTreeMap<String, Node>, want: &BTreeMap<String, Node>, what: &str) {
    let mut differences = Vec::new();
    for (path, expected) in want {
        match got.get(path) {
            None => differences.push(format!("{path}: missing")),
            Some(found) if found != expected => differences.push(format!("{path}: {found:?}, expected {expected:?}")),
            Some(_) => {}
        }
    }
    differences.extend(got.keys().filter(|path| !want.contains_key(*path)).map(|path| format!("{path}: not expected")));
    assert!(differences.is_empty(), "{what}: {} entries differ:\n{}", differences.len(), differences.join("\n"));
}
