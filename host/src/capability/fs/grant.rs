//! fs grants: `ro:/path` and `rw:/path` (`*` for any path, in manifests).
//! A grant names a root directory; a plugin's path is matched to the root
//! that is its longest prefix (component by component, as spelled), and what
//! follows is resolved beneath that root's handle by the kernel (see
//! [`super::beneath`]), never by comparing path strings.

use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn prefix(self) -> &'static str {
        match self {
            Access::Read => "ro",
            Access::Write => "rw",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    writable: bool,
    /// None = any path (`*`).
    root: Option<Root>,
}

/// A granted directory as the operator wrote it (normalised) and where it
/// really was when the grant was parsed: symlinks in the operator's own path
/// are followed once, here, and the root is later opened by that real path
/// with no symlinks allowed, so a link planted since cannot move it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Root {
    written: PathBuf,
    real: PathBuf,
}

/// The grant root covering a path, and the path's part below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    /// Where the root really is (open it with no symlinks allowed).
    pub root: PathBuf,
    /// The rest of the path, resolved beneath the root; may hold `..` and
    /// symlinks, which the kernel keeps inside it.
    pub rest: PathBuf,
    /// The grant entry, as written, for messages.
    pub entry: String,
}

#[derive(Debug, Clone, Default)]
pub struct Grant {
    rules: Vec<Rule>,
}

impl Grant {
    pub fn parse(entries: &[String]) -> Result<Grant, String> {
        let rules = entries.iter().map(|e| parse_rule(e)).collect::<Result<_, _>>()?;
        Ok(Grant { rules })
    }

    /// Adds rules (`ro:`/`rw:` entries) to this grant.
    pub fn extend(&mut self, entries: &[String]) -> Result<(), String> {
        for entry in entries {
            self.rules.push(parse_rule(entry)?);
        }
        Ok(())
    }

    /// The root allowing `access` whose path is the longest prefix of `path`
    /// (absolute, as the plugin spelled it), matched against the root as
    /// written and as resolved.
    pub fn cover(&self, path: &Path, access: Access) -> Option<Cover> {
        let mut best: Option<(usize, Cover)> = None;
        for rule in self.rules.iter().filter(|r| r.writable || access == Access::Read) {
            let candidates: Vec<(&Path, &Path)> = match &rule.root {
                None => vec![(Path::new("/"), Path::new("/"))],
                Some(root) => vec![(&root.written, &root.real), (&root.real, &root.real)],
            };
            for (prefix, real) in candidates {
                let Some(rest) = below(path, prefix) else { continue };
                let depth = prefix.components().count();
                if best.as_ref().is_none_or(|(d, _)| depth > *d) {
                    let entry = format!("{}:{}", if rule.writable { "rw" } else { "ro" }, rule.root.as_ref().map_or("*".into(), |r| r.written.display().to_string()));
                    best = Some((depth, Cover { root: real.to_path_buf(), rest, entry }));
                }
            }
        }
        best.map(|(_, cover)| cover)
    }

    /// Read-only granted paths that do not exist (reported by `bosun doctor`);
    /// `rw` destinations are created when first written.
    pub fn missing_paths(&self) -> Vec<PathBuf> {
        self.rules.iter().filter(|r| !r.writable).filter_map(|r| r.root.as_ref()).map(|r| r.written.clone()).filter(|p| !p.exists()).collect()
    }
}

/// `path`'s components after `prefix`'s, when `prefix` is a leading run of
/// them; `.` and repeated `/` are ignored, `..` is never matched.
fn below(path: &Path, prefix: &Path) -> Option<PathBuf> {
    let mut parts = path.components().filter(|c| !matches!(c, Component::CurDir));
    for expected in prefix.components() {
        match expected {
            Component::RootDir => {
                if parts.next() != Some(Component::RootDir) {
                    return None;
                }
            }
            Component::Normal(name) => {
                if parts.next() != Some(Component::Normal(name)) {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(parts.collect())
}

fn parse_rule(entry: &str) -> Result<Rule, String> {
    let (mode, path) = entry
        .split_once(':')
        .ok_or_else(|| format!("{entry:?} needs a mode: \"ro:/path\" or \"rw:/path\""))?;
    let writable = match mode {
        "ro" => false,
        "rw" => true,
        _ => return Err(format!("{entry:?} has mode {mode:?}; use ro or rw")),
    };
    if path == "*" {
        return Ok(Rule { writable, root: None });
    }
    let written = PathBuf::from(path);
    if !written.is_absolute() {
        return Err(format!("{entry:?}: the path must be absolute"));
    }
    let written = normalize(&written);
    let real = real_location(&written);
    Ok(Rule { writable, root: Some(Root { written, real }) })
}

/// Lexically removes `.` and `..` (never above `/`): for the operator's own
/// grant paths only.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Where `path` really is: symlinks in its longest existing ancestor are
/// resolved, the missing rest kept as written. For grant roots when parsed,
/// and for the location a denial quotes; never to decide an access.
pub fn real_location(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let mut missing = Vec::new();
    let mut current = path.to_path_buf();
    while let Some(name) = current.file_name().map(|n| n.to_os_string()) {
        missing.push(name);
        current.pop();
        if let Ok(real) = std::fs::canonicalize(&current) {
            let mut out = real;
            out.extend(missing.iter().rev());
            return out;
        }
    }
    path.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_root_covers_and_the_rest_is_left_to_the_kernel() {
        let g = Grant::parse(&["ro:/srv".into(), "rw:/srv/data/out".into()]).unwrap();
        let cover = g.cover(Path::new("/srv/data/out/x"), Access::Write).unwrap();
        assert_eq!((cover.root.as_path(), cover.rest.as_path(), cover.entry.as_str()), (Path::new("/srv/data/out"), Path::new("x"), "rw:/srv/data/out"));
        let cover = g.cover(Path::new("/srv/data/out/x"), Access::Read).unwrap();
        assert_eq!(cover.rest, Path::new("x"), "the deeper root wins for reads too");
        assert_eq!(g.cover(Path::new("/srv/./data//y"), Access::Read).unwrap().rest, Path::new("data/y"));
        // `..` is not matched lexically: it stays in the rest, where resolving beneath the root refuses to climb out.
        assert_eq!(g.cover(Path::new("/srv/data/out/../../etc"), Access::Read).unwrap().rest, Path::new("../../etc"));
        assert!(g.cover(Path::new("/srv/data/out/../x"), Access::Write).unwrap().rest.starts_with(".."));
        assert!(g.cover(Path::new("/srvx/y"), Access::Read).is_none(), "prefixes match per component");
        assert!(g.cover(Path::new("/srv/x"), Access::Write).is_none());
    }

    #[test]
    fn a_root_is_matched_as_written_and_as_it_really_is() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::create_dir(real.join("data")).unwrap();
        std::os::unix::fs::symlink(real.join("data"), real.join("alias")).unwrap();
        let g = Grant::parse(&[format!("ro:{}/alias", real.display())]).unwrap();
        for spelled in [real.join("alias/f"), real.join("data/f")] {
            let cover = g.cover(&spelled, Access::Read).unwrap();
            assert_eq!((cover.root.clone(), cover.rest.as_path()), (real.join("data"), Path::new("f")), "{}", spelled.display());
        }
    }

    #[test]
    fn bad_entries_say_what_is_expected() {
        assert!(Grant::parse(&["/srv".into()]).unwrap_err().contains("needs a mode"));
        assert!(Grant::parse(&["rx:/srv".into()]).unwrap_err().contains("use ro or rw"));
        assert!(Grant::parse(&["ro:srv".into()]).unwrap_err().contains("absolute"));
    }
}
