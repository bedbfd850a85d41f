//! process grants: `run:<argv pattern>` where `*` matches one argument and `**`
//! the rest (`run:pg_dump **`), and `find:<name glob>` for looking at running
//! processes (`find:nginx`, `find:*`).

use globset::{Glob, GlobMatcher};

#[derive(Debug, Clone)]
enum Token {
    One,
    Rest,
    Exact(String),
    Glob(GlobMatcher),
}

#[derive(Debug, Clone, Default)]
pub struct Grant {
    run: Vec<Vec<Token>>,
    find: Vec<GlobMatcher>,
}

impl Grant {
    pub fn parse(entries: &[String]) -> Result<Grant, String> {
        let mut grant = Grant::default();
        for entry in entries {
            let glob = |text: &str| Glob::new(text).map(|g| g.compile_matcher()).map_err(|e| format!("{entry:?}: {e}"));
            match entry.split_once(':') {
                Some(("run", pattern)) => {
                    let tokens: Vec<Token> = pattern
                        .split_whitespace()
                        .map(|t| match t {
                            "*" => Ok(Token::One),
                            "**" => Ok(Token::Rest),
                            t if t.contains(['*', '?', '[']) => glob(t).map(Token::Glob),
                            t => Ok(Token::Exact(t.to_string())),
                        })
                        .collect::<Result<_, _>>()?;
                    if tokens.is_empty() {
                        return Err(format!("{entry:?} has no command"));
                    }
                    grant.run.push(tokens);
                }
                Some(("find", name)) => grant.find.push(glob(name)?),
                _ => {
                    return Err(format!(
                        "{entry:?} is not a process grant; use \"run:<command> <args>\" (`*` one argument, `**` the rest) or \"find:<name glob>\""
                    ));
                }
            }
        }
        Ok(grant)
    }

    pub fn allows_run(&self, argv: &[String]) -> bool {
        self.run.iter().any(|pattern| matches(pattern, argv))
    }

    pub fn allows_find(&self, name: &str) -> bool {
        self.find.iter().any(|g| g.is_match(name))
    }
}

fn matches(pattern: &[Token], argv: &[String]) -> bool {
    match (pattern.split_first(), argv.split_first()) {
        (Some((Token::Rest, _)), _) => true,
        (None, None) => true,
        (Some((token, rest)), Some((arg, args))) => {
            let ok = match token {
                Token::One => true,
                Token::Exact(text) => text == arg,
                Token::Glob(glob) => glob.is_match(arg),
                Token::Rest => unreachable!("handled above"),
            };
            ok && matches(rest, args)
        }
        _ => false,
    }
}

/// The grant entry that would allow exactly `argv` (quoted in denials).
pub fn entry_for(argv: &[String]) -> String {
    format!("run:{}", argv.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn argv_patterns() {
        let g = Grant::parse(&["run:pg_dump **".into(), "run:systemctl is-active *".into(), "run:echo --x=*".into()]).unwrap();
        assert!(g.allows_run(&argv("pg_dump -Fc shop")));
        assert!(g.allows_run(&argv("pg_dump")));
        assert!(g.allows_run(&argv("systemctl is-active nginx")));
        assert!(!g.allows_run(&argv("systemctl is-active nginx extra")));
        assert!(!g.allows_run(&argv("systemctl stop nginx")));
        assert!(g.allows_run(&argv("echo --x=1")));
        assert!(!g.allows_run(&argv("sh -c pg_dump")));
    }

    #[test]
    fn find_and_errors() {
        let g = Grant::parse(&["find:nginx*".into()]).unwrap();
        assert!(g.allows_find("nginx-worker"));
        assert!(!g.allows_find("postgres"));
        assert!(!g.allows_run(&argv("nginx")));
        assert!(Grant::parse(&["pg_dump".into()]).unwrap_err().contains("run:"));
    }
}
