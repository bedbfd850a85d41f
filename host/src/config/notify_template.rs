//! Channel templates: a `[notify.<name>]` channel's `title`, `body` and
//! `json` strings, whose `{{name}}` placeholders are filled from a notice
//! (`ops::notify`). Checked at config load, so a typo stops bosun before
//! anything runs.

/// Placeholders a channel's `title`/`body` template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "kind", "severity", "title", "body", "project", "env", "service", "version", "duration", "container", "error", "set", "backup", "size", "image",
    "checks", "who", "channel", "run", "link",
];

/// Checks a template: every `{{name}}` closed and known.
pub fn check_template(template: &str) -> Result<(), String> {
    render_with(template, |name| PLACEHOLDERS.contains(&name).then(String::new)).map(drop)
}

/// Checks every string in a JSON body template (see [`check_template`]);
/// the error names the key path (`.labels.env`).
pub fn check_json_template(table: &toml::Table) -> Result<(), (String, String)> {
    fn walk(value: &toml::Value, path: String) -> Result<(), (String, String)> {
        match value {
            toml::Value::String(text) => check_template(text).map_err(|e| (path, e)),
            toml::Value::Table(table) => table.iter().try_for_each(|(key, v)| walk(v, format!("{path}.{key}"))),
            toml::Value::Array(items) => items.iter().enumerate().try_for_each(|(i, v)| walk(v, format!("{path}[{i}]"))),
            _ => Ok(()),
        }
    }
    table.iter().try_for_each(|(key, value)| walk(value, format!(".{key}")))
}

/// `template` with each `{{name}}` replaced by `value(name)`; the error
/// names an unclosed `{{` or an unknown placeholder (`value` gave none).
pub fn render_with(template: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| format!("`{{{{` at byte {} is not closed by `}}}}`", template.len() - rest.len() + start))?;
        let name = after[..end].trim();
        let filled = value(name).ok_or_else(|| format!("unknown placeholder {{{{{name}}}}}; known: {}", PLACEHOLDERS.join(", ")))?;
        out.push_str(&filled);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}
