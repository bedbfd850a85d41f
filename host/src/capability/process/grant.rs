//! process grants:
//! - `run:<command> <argument patterns>`: the command is a name on bosun's
//!   PATH or an absolute path; in an operator's grant it is pinned to its
//!   absolute path when parsed. Argument patterns (split like a shell's words,
//!   so `'VACUUM INTO {path:rw}'` is one): `*` one argument with no `/` that
//!   does not start with `-` (nor is `.` or `..`); `**` the rest (last only); `{path:ro}` /
//!   `{path:rw}` a path inside the plugin's fs grants, maybe with literal text
//!   around it; `{scratch-db}` the name of the restore test's scratch
//!   database; a glob (`--format=*`, whose `*` and `?` stop at `/`); anything
//!   else literally. `run:**` alone allows any command (manifests ask so).
//! - `env:NAME[,NAME…]`: the variables a plugin may set for its commands
//!   (`env:*` any); loader and interpreter variables never.
//! - `find:<name glob>`: running processes a plugin may look at.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use super::{command, env, interpreters};
use crate::capability::fs::Access;

/// Whose entries are parsed: a manifest's requests name their commands; an
/// operator's grant pins each to where bosun's PATH finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Request,
    Grant,
}

#[derive(Debug, Clone)]
enum Command {
    /// `run:**`: any command, any arguments.
    Any,
    /// A request's command, by the name written.
    Named(String),
    /// A grant's command: where it is.
    At(PathBuf),
}

#[derive(Debug, Clone)]
enum Token {
    One,
    Rest,
    Exact(String),
    Glob { starts_with_dash: bool, matcher: GlobMatcher },
    Path { prefix: String, suffix: String, access: Access },
    ScratchDb,
}

#[derive(Debug, Clone)]
struct Run {
    /// The entry as written, quoted by `bosun doctor`.
    entry: String,
    command: Command,
    args: Vec<Token>,
}

#[derive(Debug, Clone, Default)]
pub struct Grant {
    run: Vec<Run>,
    env: Vec<String>,
    any_env: bool,
    find: Vec<GlobMatcher>,
    /// What `{scratch-db}` stands for in this call (a restore test's).
    scratch_db: Option<String>,
}

/// An argument that a `{path:…}` pattern matched: `arg[prefix..len - suffix]`
/// is the path, to be checked against the fs grants and passed normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathArg {
    pub index: usize,
    pub prefix: usize,
    pub suffix: usize,
    pub access: Access,
}

impl Grant {
    /// An operator's grant (bosun.toml): commands are located now.
    pub fn parse(entries: &[String]) -> Result<Grant, String> {
        parse(entries, Source::Grant)
    }

    /// A manifest's requests: commands are names, located only when granted.
    pub fn parse_requests(entries: &[String]) -> Result<Grant, String> {
        parse(entries, Source::Request)
    }

    /// `{scratch-db}` matches `name` from now on (this call is a restore test).
    pub fn set_scratch_db(&mut self, name: &str) {
        self.scratch_db = Some(name.to_string());
    }

    /// For each `run:` entry that allows `argv` (whose first element runs
    /// `program`, where bosun found it), in order: the arguments it says are paths.
    pub fn run_matches(&self, program: Option<&Path>, argv: &[String]) -> Vec<Vec<PathArg>> {
        let Some((name, args)) = argv.split_first() else { return Vec::new() };
        self.run
            .iter()
            .filter_map(|run| {
                let command = match &run.command {
                    Command::Any => return Some(Vec::new()),
                    Command::Named(wanted) => name == wanted || Path::new(name).file_name().is_some_and(|n| n == wanted.as_str()),
                    Command::At(path) => program == Some(path.as_path()),
                };
                let mut paths = Vec::new();
                (command && self.matches(&run.args, args, 1, &mut paths)).then_some(paths)
            })
            .collect()
    }

    pub fn allows_run(&self, program: Option<&Path>, argv: &[String]) -> bool {
        !self.run_matches(program, argv).is_empty()
    }

    pub fn allows_env(&self, name: &str) -> bool {
        env::forbidden(name).is_none() && (self.any_env || self.env.iter().any(|n| n == name))
    }

    pub fn allows_find(&self, name: &str) -> bool {
        self.find.iter().any(|g| g.is_match(name))
    }

    /// Entries that hand the plugin more than they seem to (`bosun doctor`):
    /// free arguments reaching a program that runs commands of its own, any
    /// command, or any option.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for run in &self.run {
            let free = run.args.iter().any(|t| matches!(t, Token::One | Token::Rest));
            match &run.command {
                Command::Any => out.push(format!("{:?} lets the plugin run any command with any arguments, as bosun's user", run.entry)),
                Command::At(path) if free && interpreters::runs_code(path) => out.push(format!(
                    "{:?}: {} runs commands of its own, and `*` / `**` let the plugin choose them (a shell in effect); list its arguments exactly, with {{path:ro}} or {{scratch-db}} where they vary",
                    run.entry,
                    path.display()
                )),
                Command::At(_) if run.args.iter().any(|t| matches!(t, Token::Rest)) => out.push(format!(
                    "{:?}: `**` lets the plugin pass any option, such as one that writes a file or connects elsewhere; list the arguments",
                    run.entry
                )),
                _ => {}
            }
        }
        out
    }

    fn matches(&self, pattern: &[Token], args: &[String], index: usize, paths: &mut Vec<PathArg>) -> bool {
        let (token, rest) = match pattern.split_first() {
            Some((Token::Rest, _)) => return true,
            Some(split) => split,
            None => return args.is_empty(),
        };
        let Some((arg, others)) = args.split_first() else { return false };
        let ok = match token {
            Token::One => !arg.is_empty() && !arg.contains('/') && !arg.starts_with('-') && arg != "." && arg != "..",
            Token::Exact(text) => text == arg,
            Token::Glob { starts_with_dash, matcher } => (*starts_with_dash || !arg.starts_with('-')) && !has_dotdot(arg) && matcher.is_match(arg),
            Token::ScratchDb => self.scratch_db.as_deref() == Some(arg.as_str()),
            Token::Path { prefix, suffix, access } => {
                let path = arg.strip_prefix(prefix.as_str()).and_then(|a| a.strip_suffix(suffix.as_str()));
                if !path.is_some_and(is_plain_path) {
                    return false;
                }
                paths.push(PathArg { index, prefix: prefix.len(), suffix: suffix.len(), access: *access });
                true
            }
            Token::Rest => unreachable!("handled above"),
        };
        ok && self.matches(rest, others, index + 1, paths)
    }
}

fn parse(entries: &[String], source: Source) -> Result<Grant, String> {
    let mut grant = Grant::default();
    for entry in entries {
        match entry.split_once(':') {
            Some(("run", pattern)) => grant.run.push(parse_run(entry, pattern, source)?),
            Some(("env", names)) => {
                for name in names.split(',').map(str::trim) {
                    match name {
                        "*" => grant.any_env = true,
                        name if !env::is_name(name) => return Err(format!("{entry:?}: {name:?} is not a variable name")),
                        name => match env::forbidden(name) {
                            Some(why) => return Err(format!("{entry:?}: {name} can never be granted: {why}")),
                            None => grant.env.push(name.to_string()),
                        },
                    }
                }
            }
            Some(("find", name)) => {
                grant.find.push(GlobBuilder::new(name).build().map_err(|e| format!("{entry:?}: {e}"))?.compile_matcher());
            }
            _ => {
                return Err(format!(
                    "{entry:?} is not a process grant; use \"run:<command> <args>\" (`*` one argument, `**` the rest, {{path:ro}} a path), \"env:NAME,…\" or \"find:<name glob>\""
                ));
            }
        }
    }
    Ok(grant)
}

fn parse_run(entry: &str, pattern: &str, source: Source) -> Result<Run, String> {
    let words = shlex::split(pattern).ok_or_else(|| format!("{entry:?}: a quote is not closed"))?;
    let (first, rest) = words.split_first().ok_or_else(|| format!("{entry:?} has no command"))?;
    let command = match first.as_str() {
        "**" if rest.is_empty() => Command::Any,
        "**" => return Err(format!("{entry:?}: `run:**` already allows every command and argument; nothing may follow it")),
        name if name.contains(['*', '?', '[', '{']) => {
            return Err(format!("{entry:?}: name the command (a name on bosun's PATH or an absolute path); patterns are for its arguments"));
        }
        name => match source {
            Source::Request => Command::Named(name.to_string()),
            Source::Grant => Command::At(command::locate(name).map_err(|e| format!("{entry:?}: {e}"))?),
        },
    };
    let args: Vec<Token> = rest.iter().map(|word| parse_token(word).map_err(|e| format!("{entry:?}: {e}"))).collect::<Result<_, _>>()?;
    if args.iter().rev().skip(1).any(|t| matches!(t, Token::Rest)) {
        return Err(format!("{entry:?}: `**` (the rest of the arguments) can only come last"));
    }
    Ok(Run { entry: entry.to_string(), command, args })
}

fn parse_token(word: &str) -> Result<Token, String> {
    Ok(match word {
        "*" => Token::One,
        "**" => Token::Rest,
        "{scratch-db}" => Token::ScratchDb,
        _ if word.contains("{scratch-db}") => return Err("{scratch-db} stands for a whole argument".into()),
        _ if word.contains("{path") => parse_path(word)?,
        _ if word.contains(['*', '?', '[']) => {
            let glob = GlobBuilder::new(word).literal_separator(true).build().map_err(|e| e.to_string())?;
            Token::Glob { starts_with_dash: word.starts_with('-'), matcher: glob.compile_matcher() }
        }
        _ => Token::Exact(word.to_string()),
    })
}

fn parse_path(word: &str) -> Result<Token, String> {
    for (marker, access) in [("{path:ro}", Access::Read), ("{path:rw}", Access::Write)] {
        if let Some((prefix, suffix)) = word.split_once(marker) {
            if prefix.contains("{path") || suffix.contains("{path") {
                return Err(format!("{word:?}: one {{path:…}} per argument"));
            }
            return Ok(Token::Path { prefix: prefix.into(), suffix: suffix.into(), access });
        }
    }
    Err(format!("{word:?}: write {{path:ro}} or {{path:rw}}"))
}

/// An absolute path without `..`, control characters, quotes or backslashes,
/// so it can neither climb out of a grant nor end the text it is quoted in.
fn is_plain_path(path: &str) -> bool {
    path.starts_with('/') && !has_dotdot(path) && !path.chars().any(|c| c.is_control() || matches!(c, '\'' | '"' | '\\' | '`'))
}

fn has_dotdot(arg: &str) -> bool {
    arg.split('/').any(|part| part == "..")
}

impl Grant {
    /// The grant entry that would allow `argv` (quoted in denials): the
    /// scratch database as `{scratch-db}`, an absolute path as `{path:ro}`
    /// (still bounded by the fs grants), other arguments literally with glob
    /// characters escaped; quoted where needed.
    pub fn entry_for(&self, argv: &[String]) -> String {
        let words: Vec<String> = argv
            .iter()
            .enumerate()
            .map(|(i, arg)| match arg {
                _ if i == 0 => arg.clone(),
                _ if self.scratch_db.as_ref() == Some(arg) => "{scratch-db}".into(),
                _ if is_plain_path(arg) => "{path:ro}".into(),
                _ if arg.contains(['*', '?', '[', '{']) => globset::escape(arg),
                _ => arg.clone(),
            })
            .collect();
        let quoted: Vec<String> = words
            .iter()
            .map(|w| match w.as_str() {
                "{scratch-db}" | "{path:ro}" => w.clone(),
                _ => shlex::try_quote(w).map_or_else(|_| w.clone(), |q| q.into_owned()),
            })
            .collect();
        format!("run:{}", quoted.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(text: &str) -> Vec<String> {
        shlex::split(text).unwrap()
    }

    fn at(name: &str) -> PathBuf {
        command::locate(name).unwrap()
    }

    fn allows(g: &Grant, text: &str) -> bool {
        let argv = argv(text);
        g.allows_run(command::locate(&argv[0]).ok().as_deref(), &argv)
    }

    #[test]
    fn argv_patterns() {
        let g = Grant::parse(&["run:sh **".into(), "run:sleep *".into(), "run:echo --x=*".into()]).unwrap();
        assert!(allows(&g, "sh -c true"));
        assert!(allows(&g, "sh"));
        assert!(allows(&g, "sleep 1"));
        assert!(!allows(&g, "sleep 1 2"));
        assert!(!allows(&g, "true 1"));
        assert!(allows(&g, "echo --x=1"));
        assert!(!allows(&g, "echo --x=a/b"), "a glob's * stops at /");
    }

    #[test]
    fn one_argument_has_no_slash_and_is_no_option() {
        let g = Grant::parse(&["run:sleep *".into()]).unwrap();
        for bad in ["sleep /tmp/x/../../etc/passwd", "sleep -c", "sleep --help", "sleep a/b", "sleep ''", "sleep ..", "sleep ."] {
            assert!(!allows(&g, bad), "{bad}");
        }
        assert!(allows(&g, "sleep 1.5"));
    }

    #[test]
    fn commands_are_pinned_to_where_bosun_finds_them() {
        let g = Grant::parse(&["run:sleep *".into()]).unwrap();
        let sleep = at("sleep");
        assert!(g.allows_run(Some(&sleep), &argv("sleep 1")));
        assert!(g.allows_run(Some(&sleep), &argv(&format!("{} 1", sleep.display()))));
        assert!(!g.allows_run(Some(Path::new("/tmp/planted/sleep")), &argv("sleep 1")), "same name, another program");
        assert!(!g.allows_run(None, &argv("sleep 1")));
        let err = Grant::parse(&["run:bosun-no-such-command **".into()]).unwrap_err();
        assert!(err.contains("\"run:bosun-no-such-command **\"") && err.contains("not on bosun's PATH"), "{err}");
        // A manifest may ask for a command this machine does not have.
        let requested = Grant::parse_requests(&["run:bosun-no-such-command **".into()]).unwrap();
        assert!(requested.allows_run(None, &argv("bosun-no-such-command x")));
    }

    #[test]
    fn paths_are_marked_for_the_fs_check_and_must_be_plain() {
        let g = Grant::parse(&["run:sleep {path:ro}".into(), "run:echo \"VACUUM INTO '{path:rw}'\"".into()]).unwrap();
        let echo = at("echo");
        let vacuum = argv("echo \"VACUUM INTO '/b/x.sqlite3'\"");
        assert_eq!(g.run_matches(Some(&echo), &vacuum), vec![vec![PathArg { index: 1, prefix: 13, suffix: 1, access: Access::Write }]]);
        for bad in ["echo \"VACUUM INTO '/b/x'; ATTACH '/etc/x'\"", "echo \"VACUUM INTO 'rel'\"", "echo \"VACUUM INTO '/b/../../etc/x'\""] {
            assert!(g.run_matches(Some(&echo), &argv(bad)).is_empty(), "{bad}");
        }
        assert!(allows(&g, "sleep /srv/data/x"));
        assert!(!allows(&g, "sleep /srv/data/../../etc/passwd"));
        assert!(!allows(&g, "sleep -x"));
        assert!(!allows(&g, "sleep /srv/a\n/x"));
        assert!(Grant::parse(&["run:sleep {path}".into()]).unwrap_err().contains("{path:ro} or {path:rw}"));
        assert!(Grant::parse(&["run:sleep {path:ro}{path:rw}".into()]).unwrap_err().contains("one {path:…} per argument"));
    }

    #[test]
    fn the_scratch_database_is_only_the_running_restore_tests() {
        let mut g = Grant::parse(&["run:sleep {scratch-db}".into()]).unwrap();
        assert!(!allows(&g, "sleep bosun_restore_test_abc"), "no restore test running");
        g.set_scratch_db("bosun_restore_test_abc");
        assert!(allows(&g, "sleep bosun_restore_test_abc"));
        assert!(!allows(&g, "sleep shop"));
        assert!(Grant::parse(&["run:sleep x{scratch-db}".into()]).unwrap_err().contains("whole argument"));
    }

    #[test]
    fn env_names_are_granted_by_name_and_never_loader_variables() {
        let g = Grant::parse(&["env:PGHOST, PGPORT".into()]).unwrap();
        assert!(g.allows_env("PGHOST") && g.allows_env("PGPORT") && !g.allows_env("PGUSER"));
        let any = Grant::parse_requests(&["env:*".into()]).unwrap();
        assert!(any.allows_env("PGUSER") && !any.allows_env("LD_PRELOAD") && !any.allows_env("PATH"));
        for name in ["PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONPATH", "BASH_ENV"] {
            let err = Grant::parse(&[format!("env:{name}")]).unwrap_err();
            assert!(err.contains(&format!("{name} can never be granted: ")) && !err.contains('\n'), "{err}");
        }
        assert!(Grant::parse(&["env:A=B".into()]).unwrap_err().contains("not a variable name"));
    }

    #[test]
    fn run_star_star_alone_is_any_command() {
        let g = Grant::parse_requests(&["run:**".into()]).unwrap();
        assert!(g.allows_run(None, &argv("anything at all -c x")) && g.allows_run(None, &argv("x")));
    }

    #[test]
    fn find_and_errors() {
        let g = Grant::parse(&["find:nginx*".into()]).unwrap();
        assert!(g.allows_find("nginx-worker"));
        assert!(!g.allows_find("postgres"));
        assert!(!allows(&g, "nginx"));
        assert!(Grant::parse(&["pg_dump".into()]).unwrap_err().contains("run:"));
        assert!(Grant::parse(&["run:sh ** -c".into()]).unwrap_err().contains("can only come last"));
        assert!(Grant::parse(&["run:** -c".into()]).unwrap_err().contains("nothing may follow"));
        assert!(Grant::parse(&["run:*sh **".into()]).unwrap_err().contains("name the command"));
        assert!(Grant::parse(&["run:./sh".into()]).unwrap_err().contains("absolute path"));
        assert!(Grant::parse(&["run:sh 'x".into()]).unwrap_err().contains("quote"));
    }

    #[test]
    fn doctor_warns_where_free_arguments_reach_an_interpreter() {
        let warned = |entry: &str| Grant::parse(&[entry.to_string()]).unwrap().warnings();
        for entry in ["run:sh **", "run:sh -c *", "run:sqlite3 /srv/app.db *", "run:psql **", "run:perl *", "run:env **", "run:find **", "run:**"] {
            assert_eq!(warned(entry).len(), 1, "{entry}");
        }
        assert!(warned("run:sleep **")[0].contains("any option"));
        for entry in ["run:sqlite3 /srv/app.db \"VACUUM INTO '{path:rw}'\"", "run:sleep *", "run:createdb {scratch-db}"] {
            assert!(warned(entry).is_empty(), "{entry}");
        }
    }

    #[test]
    fn the_suggested_entry_allows_the_call_and_no_more() {
        let mut restore_test = Grant::default();
        restore_test.set_scratch_db("bosun_restore_test_ab1");
        assert_eq!(restore_test.entry_for(&argv("createdb bosun_restore_test_ab1")), "run:createdb {scratch-db}");
        assert_eq!(restore_test.entry_for(&argv("pg_restore --list /b/x.pgdump")), "run:pg_restore --list {path:ro}");
        assert_eq!(restore_test.entry_for(&argv("/bin/echo hi")), "run:/bin/echo hi");
        for call in [vec!["sleep", "1"], vec!["echo", "*", "a b", "{path:ro}", "-c", "a/../b"], vec!["echo", "it's"]] {
            let call: Vec<String> = call.into_iter().map(String::from).collect();
            let entry = Grant::default().entry_for(&call);
            let g = Grant::parse(std::slice::from_ref(&entry)).unwrap_or_else(|e| panic!("{entry}: {e}"));
            assert!(g.allows_run(command::locate(&call[0]).ok().as_deref(), &call), "{entry}");
            assert!(g.run_matches(command::locate(&call[0]).ok().as_deref(), &call).iter().all(Vec::is_empty), "{entry}");
        }
    }
}
