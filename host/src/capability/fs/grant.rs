//! fs grants: `ro:/path` and `rw:/path` (`*` for any path, in manifests).
//! A path is allowed when, after resolving `..` and symlinks, it is the granted
//! directory or inside it.

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
    root: Option<PathBuf>,
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

    /// `resolved` must come from [`resolve`].
    pub fn allows(&self, resolved: &Path, access: Access) -> bool {
        self.rules.iter().any(|rule| {
            let access_ok = rule.writable || access == Access::Read;
            access_ok && rule.root.as_ref().is_none_or(|root| resolved.starts_with(resolve_lenient(root)))
        })
    }

    /// Read-only granted paths that do not exist (reported by `bosun doctor`);
    /// `rw` destinations are created when first written.
    pub fn missing_paths(&self) -> Vec<PathBuf> {
        self.rules.iter().filter(|r| !r.writable).filter_map(|r| r.root.clone()).filter(|p| !p.exists()).collect()
    }
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
    let root = PathBuf::from(path);
    if !root.is_absolute() {
        return Err(format!("{entry:?}: the path must be absolute"));
    }
    Ok(Rule { writable, root: Some(normalize(&root)) })
}

/// Lexically removes `.` and `..` (never above `/`).
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

/// The real location `path` refers to: symlinks in every existing ancestor are
/// resolved, so a link cannot smuggle a path out of its grant. The last
/// component is resolved too when it exists (reading through a link reads its
/// target).
pub fn resolve(path: &str) -> Result<PathBuf, String> {
    let path = Path::new(path);
    if !path.is_absolute() {
        return Err(format!("{} is not an absolute path", path.display()));
    }
    Ok(resolve_lenient(&normalize(path)))
}

fn resolve_lenient(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    // Resolve the longest existing ancestor, keep the rest as written.
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
    fn grants_cover_their_subtree_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("data")).unwrap();
        let g = Grant::parse(&[format!("ro:{}/data", root.display())]).unwrap();
        let inside = resolve(&format!("{}/data/x", root.display())).unwrap();
        assert!(g.allows(&inside, Access::Read));
        assert!(!g.allows(&inside, Access::Write));
        let escaped = resolve(&format!("{}/data/../secret", root.display())).unwrap();
        assert!(!g.allows(&escaped, Access::Read));
        let sibling = resolve(&format!("{}/database", root.display())).unwrap();
        assert!(!g.allows(&sibling, Access::Read), "prefix match must be per component");
    }

    #[test]
    fn symlinks_are_resolved_before_checking() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("data")).unwrap();
        std::fs::write(root.join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("secret"), root.join("data/link")).unwrap();
        let g = Grant::parse(&[format!("rw:{}/data", root.display())]).unwrap();
        let through_link = resolve(&format!("{}/data/link", root.display())).unwrap();
        assert!(!g.allows(&through_link, Access::Read));
    }

    #[test]
    fn bad_entries_say_what_is_expected() {
        assert!(Grant::parse(&["/srv".into()]).unwrap_err().contains("needs a mode"));
        assert!(Grant::parse(&["rx:/srv".into()]).unwrap_err().contains("use ro or rw"));
        assert!(Grant::parse(&["ro:srv".into()]).unwrap_err().contains("absolute"));
        assert!(resolve("relative/path").is_err());
    }
}
