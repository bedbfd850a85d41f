//! Where a command is: the host decides, from bosun's own PATH, never the
//! child's environment, so a plugin cannot swap in a program of its own.

use std::path::{Path, PathBuf};

/// The absolute path `name` runs: an absolute path as it is, a bare name found
/// in bosun's PATH (its relative entries skipped: they would depend on the
/// working directory). Either way it must be an executable file.
pub fn locate(name: &str) -> Result<PathBuf, String> {
    if name.is_empty() {
        return Err("the command is empty".into());
    }
    if name.contains('/') {
        if !name.starts_with('/') {
            return Err(format!("{name}: name a command on bosun's PATH or give an absolute path"));
        }
        return is_executable_file(Path::new(name)).then(|| PathBuf::from(name)).ok_or_else(|| format!("{name} is not an executable file"));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let absolute: Vec<PathBuf> = std::env::split_paths(&path).filter(|dir| dir.is_absolute()).collect();
    let search = std::env::join_paths(&absolute).map_err(|e| e.to_string())?;
    which::which_in_all(name, Some(search), "/")
        .ok()
        .and_then(|mut found| found.find(|p| is_executable_file(p)))
        .ok_or_else(|| format!("{name} is not on bosun's PATH; install it or name it by absolute path"))
}

/// A regular file (after links) with an execute bit: root may run no other.
fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_absolute_paths_are_found_relative_ones_refused() {
        let sh = locate("sh").unwrap();
        assert!(sh.is_absolute(), "{}", sh.display());
        assert_eq!(locate("/bin/sh").unwrap(), PathBuf::from("/bin/sh"));
        assert!(locate("./sh").unwrap_err().contains("absolute path"));
        assert!(locate("bosun-no-such-command").unwrap_err().contains("not on bosun's PATH"));
        let data = tempfile::NamedTempFile::new().unwrap();
        assert!(locate(data.path().to_str().unwrap()).unwrap_err().contains("not an executable"));
    }
}
