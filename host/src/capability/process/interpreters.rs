//! Programs that run commands of their own when their arguments say so: a
//! grant letting free arguments reach one is a shell in effect.

use std::path::Path;

const NAMES: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "busybox", "psql", "sqlite3", "mysql", "mariadb", "awk", "gawk",
    "mawk", "nawk", "sed", "env", "xargs", "find", "sudo", "su", "doas", "runuser", "setsid", "nohup", "nice", "ionice", "timeout", "stdbuf",
    "chroot", "unshare", "nsenter", "flock", "watch", "script", "time", "taskset", "chrt", "systemd-run", "ssh", "docker", "git", "tar",
    "rsync", "zip", "make", "gdb", "strace", "vi", "vim", "nvim", "ex", "ed", "emacs", "less", "more", "man", "expect", "parallel", "at",
    "crontab", "osascript", "Rscript", "R",
];

const FAMILIES: &[&str] = &["python", "pypy", "perl", "ruby", "lua", "luajit", "php", "node", "nodejs", "tclsh", "wish", "jshell", "pwsh"];

/// Whether the program at `path` (by its name, or the name its symlinks lead
/// to: /usr/bin/sh is dash, /usr/bin/python3 is python3.11) runs commands.
pub fn runs_code(path: &Path) -> bool {
    let real = std::fs::canonicalize(path).ok();
    [Some(path), real.as_deref()].into_iter().flatten().filter_map(|p| p.file_name()?.to_str()).any(|name| {
        NAMES.contains(&name) || FAMILIES.iter().any(|family| name.strip_prefix(family).is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells_and_interpreters_are_told_from_plain_tools() {
        for path in ["/bin/sh", "/usr/bin/psql", "/usr/bin/python3", "/usr/bin/python3.11", "/usr/local/bin/perl5.36", "/usr/bin/mysql"] {
            assert!(runs_code(Path::new(path)), "{path}");
        }
        for path in ["/usr/bin/pg_dump", "/usr/bin/sleep", "/usr/bin/createdb", "/usr/bin/pythonista"] {
            assert!(!runs_code(Path::new(path)), "{path}");
        }
    }
}
