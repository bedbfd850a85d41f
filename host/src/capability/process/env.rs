//! Environment variables no grant can hand a plugin: each makes a program
//! load or run code other than its own (a library, a startup file, a module, a
//! pager), or changes where commands are found.

/// Why `name` may never be set by a plugin, or None when a grant may allow it.
pub fn forbidden(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    let name = upper.as_str();
    let exact: &[(&[&str], &'static str)] = &[
        (&["PATH"], "it decides which program a name runs"),
        (
            &["IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "CDPATH", "GLOBIGNORE", "SHELL"],
            "it changes what a shell runs",
        ),
        (
            &["HOME", "ZDOTDIR", "XDG_CONFIG_HOME", "PSQLRC", "MYSQL_HOME", "MYSQL_TEST_LOGIN_FILE", "SQLITE_HISTORY", "INPUTRC", "EDITRC"],
            "it points a program at startup files it would run",
        ),
        (&["LIBMYSQL_PLUGIN_DIR", "LIBMYSQL_PLUGINS", "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES"], "it makes a library load modules"),
        (
            &["GCONV_PATH", "LOCPATH", "NLSPATH", "GLIBC_TUNABLES", "HOSTALIASES", "RESOLV_HOST_CONF", "TMPDIR", "TZDIR"],
            "it changes what the C library loads",
        ),
        (
            &[
                "PERL5LIB", "PERLLIB", "PERL5OPT", "PERL5DB", "RUBYLIB", "RUBYOPT", "NODE_OPTIONS", "NODE_PATH", "LUA_INIT", "LUA_PATH", "LUA_CPATH",
                "TCLLIBPATH", "CLASSPATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "AWKPATH",
            ],
            "it makes an interpreter load code",
        ),
        (&["PAGER", "EDITOR", "VISUAL", "LESSOPEN", "LESSCLOSE", "BROWSER", "SSH_ASKPASS", "SUDO_ASKPASS"], "it names a program to run"),
        (&["SSLKEYLOGFILE"], "it makes TLS libraries write secrets to a file"),
    ];
    let prefixes: &[(&str, &'static str)] = &[
        ("LD_", "it makes the dynamic loader load code"),
        ("DYLD_", "it makes the dynamic loader load code"),
        ("MALLOC_", "it changes how the C library manages memory"),
        ("PYTHON", "it makes Python load code"),
        ("BASH_FUNC_", "it defines shell functions"),
        ("GIT_", "it makes git run programs"),
    ];
    let suffixes: &[(&str, &'static str)] = &[("_PAGER", "it names a program to run"), ("_EDITOR", "it names a program to run")];
    exact
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map(|(_, why)| *why)
        .or_else(|| prefixes.iter().find(|(p, _)| name.starts_with(p)).map(|(_, why)| *why))
        .or_else(|| suffixes.iter().find(|(s, _)| name.ends_with(s)).map(|(_, why)| *why))
}

/// A variable name as the shell writes them: letters, digits and `_`, not
/// starting with a digit.
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic()) && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_and_interpreter_variables_are_forbidden_others_not() {
        for name in ["PATH", "LD_PRELOAD", "ld_library_path", "LD_AUDIT", "GCONV_PATH", "PYTHONPATH", "PYTHONSTARTUP", "PERL5LIB", "BASH_ENV", "ENV", "IFS"] {
            assert!(forbidden(name).is_some(), "{name}");
        }
        for name in ["PSQLRC", "HOME", "PSQL_PAGER", "BASH_FUNC_ls%%", "NODE_OPTIONS", "GLIBC_TUNABLES", "OPENSSL_CONF"] {
            assert!(forbidden(name).is_some(), "{name}");
        }
        for name in ["PGPASSWORD", "PGHOST", "PGPORT", "PGUSER", "MYSQL_PWD", "LANG", "TZ"] {
            assert_eq!(forbidden(name), None, "{name}");
        }
    }

    #[test]
    fn names_are_shell_names() {
        assert!(is_name("PGHOST") && is_name("_X1"));
        assert!(!is_name("") && !is_name("1X") && !is_name("A=B") && !is_name("A B"));
    }
}
