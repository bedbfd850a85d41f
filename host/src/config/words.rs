//! serde's messages (`invalid type: string "five", expected usize`) said in
//! a bosun.toml writer's words (`expected a number, found the string "five"`).

/// One problem: the full dotted key and what is wrong with it.
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl Problem {
    /// `path` is where serde was (`services.web`), `message` what it said.
    pub fn read(path: &str, message: &str) -> Problem {
        let at = |name: &str| match path {
            "" | "." => name.to_string(),
            path => format!("{path}.{name}"),
        };
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
            // serde_path_to_error's path already ends with the unknown key.
            let key = if path == field || path.ends_with(&format!(".{field}")) { path.to_string() } else { at(field) };
            return Problem { key, message: unknown_key(field, &quoted(expected)) };
        }
        if let Some(rest) = message.strip_prefix("missing field `") {
            let field = rest.trim_end_matches('`');
            return Problem { key: at(field), message: missing_key(path, field) };
        }
        if let Some(rest) = message.strip_prefix("unknown variant `") {
            let (variant, expected) = rest.split_once('`').unwrap_or((rest, ""));
            let known = quoted(expected);
            let message = match closest(variant, &known) {
                Some(likely) => format!("`{variant}` is not one of {}; did you mean `{likely}`?", known.join(", ")),
                None => format!("`{variant}` is not one of {}", known.join(", ")),
            };
            return Problem { key: path.to_string(), message };
        }
        let message = ["invalid type: ", "invalid value: "]
            .iter()
            .find_map(|prefix| message.strip_prefix(prefix))
            .and_then(|rest| rest.rsplit_once(", expected "))
            .map(|(found, expected)| format!("expected {}, found {}", expected_words(expected), found_words(found)))
            .unwrap_or_else(|| message.to_string());
        Problem { key: path.to_string(), message }
    }
}

/// `field` is none of the `known` keys: the likely one, else all of them.
pub fn unknown_key(field: &str, known: &[&str]) -> String {
    match closest(field, known) {
        Some(likely) => format!("unknown key; did you mean `{likely}`?"),
        None if known.is_empty() => "unknown key; this table takes no keys".to_string(),
        None => format!("unknown key; known keys: {}", known.join(", ")),
    }
}

/// `field` is required in the table at `path` (the file's top level when empty).
pub fn missing_key(path: &str, field: &str) -> String {
    let table = if path.is_empty() || path == "." { "the file".to_string() } else { format!("[{path}]") };
    format!("missing; add `{field} = …` to {table}")
}

/// The names in "expected one of `a`, `b`" (or "expected `a`").
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The known name a typo most likely meant, if one is close enough.
pub fn closest<'a>(typo: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|name| (strsim::jaro_winkler(typo, name), *name))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// What a Rust type is called in TOML.
fn expected_words(expected: &str) -> String {
    let integer = ["u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize"];
    match expected {
        e if integer.contains(&e) || e == "f32" || e == "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list".into(),
        "a map" => "a table".into(),
        "a string" | "path string" | "a borrowed string" | "a character" => "a string".into(),
        e if e.starts_with("struct ") => "a table".into(),
        e if e.starts_with("a sequence of ") || e.starts_with("tuple") => "a list".into(),
        e => e.into(),
    }
}

/// serde's `Unexpected` in TOML's terms: `string "five"` → `the string "five"`.
fn found_words(found: &str) -> String {
    let literal = |rest: &str| rest.trim_matches('`').to_string();
    match found.split_once(' ') {
        Some(("string", rest)) => format!("the string {rest}"),
        Some(("integer" | "float", rest)) => format!("the number {}", literal(rest)),
        Some(("floating", rest)) => format!("the number {}", literal(rest.trim_start_matches("point "))),
        Some(("boolean", rest)) => literal(rest),
        _ => match found {
            "sequence" => "a list".into(),
            "map" => "a table".into(),
            other => other.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_in_toml_terms() {
        let p = Problem::read("services.web.retain", "invalid type: string \"five\", expected usize");
        assert_eq!((p.key.as_str(), p.message.as_str()), ("services.web.retain", "expected a number, found the string \"five\""));
        assert_eq!(Problem::read("a", "invalid type: floating point `1.5`, expected u32").message, "expected a number, found the number 1.5");
        assert_eq!(Problem::read("a", "invalid type: sequence, expected a string").message, "expected a string, found a list");
        assert_eq!(Problem::read("a", "invalid type: integer `3`, expected a boolean").message, "expected true or false, found the number 3");
    }

    #[test]
    fn unknown_variant_suggests() {
        let p = Problem::read("services.web.strategy", "unknown variant `compse`, expected `run` or `compose`");
        assert_eq!(p.message, "`compse` is not one of run, compose; did you mean `compose`?");
    }

    #[test]
    fn messages_of_our_own_pass_through() {
        assert_eq!(Problem::read("a.b", "`soon` is not a duration").message, "`soon` is not a duration");
    }
}
