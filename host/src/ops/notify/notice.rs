//! What bosun tells people: an event kind (`deploy.failed`), a default title
//! and body, and the run's facts, which channel templates (`{{service}}`)
//! can use.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::notify_template::render_with;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Success,
    Warning,
    Failure,
}

#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// `<subject>.<started|succeeded|failed>`, e.g. `deploy.failed`.
    pub kind: String,
    pub severity: Severity,
    pub title: String,
    pub body: String,
    /// service, version, env, duration, error, … (what the operation knows).
    pub facts: BTreeMap<String, String>,
}

impl Notice {
    pub fn new(kind: impl Into<String>, severity: Severity, title: impl Into<String>, body: impl Into<String>) -> Notice {
        Notice { kind: kind.into(), severity, title: title.into(), body: body.into(), facts: BTreeMap::new() }
    }

    pub fn fact(mut self, key: &str, value: impl ToString) -> Notice {
        self.facts.insert(key.to_string(), value.to_string());
        self
    }

    /// This notice with every registered secret masked in its text and facts.
    pub fn masked(&self) -> Notice {
        let mask = |text: &String| crate::secrets::mask(text).into_owned();
        Notice {
            kind: self.kind.clone(),
            severity: self.severity,
            title: mask(&self.title),
            body: mask(&self.body),
            facts: self.facts.iter().map(|(key, value)| (key.clone(), mask(value))).collect(),
        }
    }

    /// The value of `placeholder` for this notice; empty when unknown here.
    fn value(&self, placeholder: &str) -> String {
        match placeholder {
            "kind" => self.kind.clone(),
            "severity" => format!("{:?}", self.severity).to_lowercase(),
            "title" => self.title.clone(),
            "body" => self.body.clone(),
            other => self.facts.get(other).cloned().unwrap_or_default(),
        }
    }
}

/// `template` with each `{{name}}` replaced by the notice's value.
pub fn render(template: &str, notice: &Notice) -> String {
    render_with(template, |name| Some(notice.value(name))).unwrap_or_else(|_| template.to_string())
}

/// A JSON body template with every string rendered for `notice`.
pub fn render_json(table: &toml::Table, notice: &Notice) -> serde_json::Value {
    fn walk(value: &toml::Value, notice: &Notice) -> serde_json::Value {
        match value {
            toml::Value::String(text) => serde_json::Value::String(render(text, notice)),
            toml::Value::Table(table) => table.iter().map(|(key, v)| (key.clone(), walk(v, notice))).collect::<serde_json::Map<_, _>>().into(),
            toml::Value::Array(items) => items.iter().map(|v| walk(v, notice)).collect(),
            other => serde_json::to_value(other).expect("TOML values are JSON-representable"),
        }
    }
    walk(&toml::Value::Table(table.clone()), notice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::notify_template::{check_json_template, check_template};

    #[test]
    fn templates_use_facts_and_refuse_unknown_placeholders() {
        let notice = Notice::new("deploy.failed", Severity::Failure, "web 2.0 failed", "unhealthy").fact("service", "web").fact("version", "2.0");
        assert_eq!(render("[{{kind}}] {{ service }} {{version}}: {{body}}{{env}}", &notice), "[deploy.failed] web 2.0: unhealthy");
        assert!(check_template("{{service}} on {{env}}").is_ok());
        assert!(check_template("{{servce}}").unwrap_err().starts_with("unknown placeholder {{servce}}; known: kind"));
        assert!(check_template("oops {{service").unwrap_err().contains("not closed"));
    }

    #[test]
    fn json_templates_render_every_string_and_name_the_bad_one() {
        let notice = Notice::new("backup.failed", Severity::Failure, "data failed", "disk full").fact("set", "data");
        let table: toml::Table = toml::from_str("text = '{{title}}: {{body}}'\nretries = 2\n[labels]\nset = '{{set}}'\ntags = ['bosun', '{{kind}}']").unwrap();
        let rendered = render_json(&table, &notice);
        assert_eq!(rendered, serde_json::json!({"text": "data failed: disk full", "retries": 2, "labels": {"set": "data", "tags": ["bosun", "backup.failed"]}}));
        let bad: toml::Table = toml::from_str("[labels]\ntags = ['ok', '{{sett}}']").unwrap();
        let (path, why) = check_json_template(&bad).unwrap_err();
        assert_eq!(path, ".labels.tags[1]");
        assert!(why.starts_with("unknown placeholder {{sett}}"), "{why}");
    }
}
