use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::words;

/// What is wrong with a bosun.toml: one line per problem, each
/// `file:line:column: dotted.key: message`, in file order, as a compiler
/// reports them.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ConfigError(Vec<String>);

/// Problems found by validation, each `(dotted key, message)`; collected so
/// that one pass reports all of them.
#[derive(Debug, Default)]
pub struct Problems(Vec<(String, String)>);

impl Problems {
    pub fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push((key.into(), message.into()));
    }

    /// Adds `result`'s error, if any, under `key`.
    pub fn check<T>(&mut self, key: impl Into<String>, result: Result<T, String>) {
        if let Err(message) = result {
            self.add(key, message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `table.field` is none of the `known` keys (said as for serde's own
    /// unknown keys: the likely one, else the known ones).
    pub fn unknown_key(&mut self, table: &str, field: &str, known: &[&str]) {
        self.add(format!("{table}.{field}"), words::unknown_key(field, known));
    }

    /// `table` lacks the required key `field`.
    pub fn missing_key(&mut self, table: &str, field: &str) {
        self.add(format!("{table}.{field}"), words::missing_key(table, field));
    }
}

impl ConfigError {
    pub fn unreadable(path: &Path, error: &std::io::Error) -> ConfigError {
        ConfigError(vec![format!("{}: cannot read: {}; pass --config with the path of your bosun.toml", path.display(), crate::words::io_words(error))])
    }

    /// The file is not TOML.
    pub fn syntax(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
        let position = error.span().map(|span| position(text, span.start)).unwrap_or_default();
        let message = error.message().split_whitespace().collect::<Vec<_>>().join(" ");
        ConfigError(vec![format!("{}{position}: {message}", path.display())])
    }

    /// A value of the wrong type or an unknown key, in the user's words.
    pub fn shape(path: &Path, text: &str, document: &DeTable, error: &serde_path_to_error::Error<toml::de::Error>) -> ConfigError {
        let problem = words::Problem::read(&error.path().to_string(), error.inner().message());
        let span = error.inner().span().or_else(|| span_of(document, &problem.key));
        let position = span.map(|span| position(text, span.start)).unwrap_or_default();
        ConfigError(vec![format!("{}{position}: {}: {}", path.display(), problem.key, problem.message)])
    }

    /// Problems found after parsing, each placed at its key's value.
    pub fn problems(path: &Path, text: &str, document: &DeTable, problems: Problems) -> ConfigError {
        let mut placed: Vec<(Option<usize>, String)> = problems
            .0
            .into_iter()
            .map(|(key, message)| {
                let start = span_of(document, &key).map(|span| span.start);
                let position = start.map(|start| position(text, start)).unwrap_or_default();
                (start, format!("{}{position}: {key}: {message}", path.display()))
            })
            .collect();
        // File order; problems with no place in the file last.
        placed.sort_by_key(|(start, _)| start.unwrap_or(usize::MAX));
        ConfigError(placed.into_iter().map(|(_, line)| line).collect())
    }
}

/// `:line:column` of byte `offset`, both counted from 1 (columns in characters).
fn position(text: &str, offset: usize) -> String {
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..].chars().count() + 1;
    format!(":{line}:{column}")
}

/// Where the value of a dotted key (`services.web.ports[1]`) is written; the
/// nearest enclosing key's when the key itself is not written (a missing key).
fn span_of(document: &DeTable, key: &str) -> Option<Range<usize>> {
    let mut found: Option<&Spanned<DeValue>> = None;
    let mut table = Some(document);
    let mut items: Option<&[Spanned<DeValue>]> = None;
    for step in key_steps(key) {
        let next = match step {
            Step::Key(name) => table.and_then(|t| t.iter().find(|(k, _)| k.get_ref() == name).map(|(_, v)| v)),
            Step::Index(index) => items.and_then(|items| items.get(index)),
        };
        let Some(value) = next else { break };
        found = Some(value);
        (table, items) = match value.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(&a[..])),
            _ => (None, None),
        };
    }
    found.map(Spanned::span)
}

enum Step<'k> {
    Key(&'k str),
    Index(usize),
}

/// `a.b[2].c` as keys and indices.
fn key_steps(key: &str) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    for part in key.split('.') {
        let (name, indices) = part.split_once('[').map_or((part, ""), |(name, rest)| (name, rest));
        if !name.is_empty() {
            steps.push(Step::Key(name));
        }
        steps.extend(indices.split(['[', ']']).filter_map(|i| i.parse().ok()).map(Step::Index));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::path::Path;

    fn error(text: &str) -> String {
        Config::parse(text, Path::new("bosun.toml")).unwrap_err().to_string()
    }

    #[test]
    fn unknown_key_names_file_line_key_and_the_likely_one() {
        let err = error("[project]\nname = \"shop\"\nnmae = \"typo\"\n");
        assert_eq!(err, "bosun.toml:3:1: project.nmae: unknown key; did you mean `name`?");
    }

    #[test]
    fn unknown_key_without_a_likely_one_lists_the_known() {
        let err = error("[project]\nflavour = \"x\"\n");
        assert!(err.starts_with("bosun.toml:2:1: project.flavour: unknown key; known keys: name, env, state_dir, runs_url"), "{err}");
    }

    #[test]
    fn wrong_type_in_the_users_words() {
        let text = "[services.web]\nimage = \"shop-web\"\n\n\n\n\nretain = \"five\"\n";
        let err = error(text);
        assert_eq!(err, "bosun.toml:7:10: services.web.retain: expected a number, found the string \"five\"");
        let err = error("[plugins.http]\ntimeout_ms = true\n");
        assert_eq!(err, "bosun.toml:2:14: plugins.http.timeout_ms: expected a number, found true");
        let err = error("[services.web]\nimage = \"shop-web\"\nports = \"80:80\"\n");
        assert_eq!(err, "bosun.toml:3:9: services.web.ports: expected a list, found the string \"80:80\"");
    }

    #[test]
    fn typo_in_a_service_suggests_the_key() {
        let err = error("[services.web]\nimage = \"shop-web\"\nrestrat = \"always\"\n");
        assert_eq!(err, "bosun.toml:3:1: services.web.restrat: unknown key; did you mean `restart`?");
    }

    #[test]
    fn missing_key_points_at_its_table() {
        let err = error("[project]\nname = \"x\"\n\n[services.web]\nversion = \"1\"\n");
        assert_eq!(err, "bosun.toml:4:1: services.web.image: missing; add `image = …` to [services.web]");
    }

    #[test]
    fn every_problem_in_one_pass_in_file_order() {
        let text = "[services.web]\nimage = \"Shop/Web\"\nports = [\"80:80\", \"80:x\"]\nrestart = \"sometimes\"\n\n[suites]\nsmoke = [\"nope\"]\n";
        let err = error(text);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 4, "{err}");
        assert!(lines[0].starts_with("bosun.toml:2:9: services.web.image: "), "{err}");
        assert!(lines[1].starts_with("bosun.toml:3:19: services.web.ports[1]: "), "{err}");
        assert!(lines[2].starts_with("bosun.toml:4:11: services.web.restart: "), "{err}");
        assert!(lines[3].starts_with("bosun.toml:7:9: suites.smoke: no check called nope"), "{err}");
    }

    #[test]
    fn bad_grant_names_its_table() {
        let text = "[project]\nname = \"x\"\n\n[plugins.http.grant]\nhttp = [\"ftp://x\"]\n";
        let err = error(text);
        assert!(err.starts_with("bosun.toml:4:1: plugins.http.grant: "), "{err}");
        assert!(err.contains("not http or https"), "{err}");
    }

    #[test]
    fn not_toml_names_the_place() {
        let err = error("[project\nname = \"x\"\n");
        assert!(err.starts_with("bosun.toml:1:9: "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
