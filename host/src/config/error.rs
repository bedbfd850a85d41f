use std::path::Path;

/// A bosun.toml problem, always one line: `file:line:column: key: message`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    pub fn unreadable(path: &Path, error: &std::io::Error) -> ConfigError {
        ConfigError(format!("{}: cannot read: {error}; pass --config with the path of your bosun.toml", path.display()))
    }

    pub fn from_toml(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
        let position = error.span().map(|span| line_col(text, span.start)).map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default();
        let message = error.message().split_whitespace().collect::<Vec<_>>().join(" ");
        ConfigError(format!("{}{position}: {message}", path.display()))
    }

    /// An error about `key` (dotted path) found by validation after parsing.
    pub fn at_key(path: &Path, text: &str, key: &str, message: &str) -> ConfigError {
        let position = find_key(text, key).map(|line| format!(":{line}")).unwrap_or_default();
        ConfigError(format!("{}{position}: {key}: {message}", path.display()))
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// Best-effort line of a dotted key: its table header, then the key's last part.
fn find_key(text: &str, key: &str) -> Option<usize> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut best = None;
    for prefix_len in (1..=parts.len()).rev() {
        let header = format!("[{}]", parts[..prefix_len].join("."));
        if let Some(start) = text.lines().position(|l| l.trim() == header) {
            let rest = &parts[prefix_len..];
            let found = rest.first().and_then(|first| {
                text.lines().enumerate().skip(start + 1).take_while(|(_, l)| !l.trim_start().starts_with('[')).find(|(_, l)| {
                    let l = l.trim_start();
                    l.starts_with(first) && l[first.len()..].trim_start().starts_with(['=', '.'])
                })
            });
            best = Some(found.map_or(start + 1, |(i, _)| i + 1));
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::path::Path;

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "[project]\nname = \"shop\"\nnmae = \"typo\"\n";
        let err = Config::parse(text, Path::new("bosun.toml")).unwrap_err().to_string();
        assert!(err.starts_with("bosun.toml:3:"), "{err}");
        assert!(err.contains("nmae"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn wrong_type_names_file_line_and_key() {
        let text = "[plugins.http]\ntimeout_ms = \"soon\"\n";
        let err = Config::parse(text, Path::new("/etc/bosun.toml")).unwrap_err().to_string();
        assert!(err.starts_with("/etc/bosun.toml:2:"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn bad_grant_names_its_table() {
        let text = "[project]\nname = \"x\"\n\n[plugins.http.grant]\nhttp = [\"ftp://x\"]\n";
        let err = Config::parse(text, Path::new("bosun.toml")).unwrap_err().to_string();
        assert!(err.starts_with("bosun.toml:4:"), "{err}");
        assert!(err.contains("plugins.http.grant") && err.contains("not http or https"), "{err}");
    }
}
