//! Running one smoke check from bosun.toml and reporting each condition with
//! its actual value; used by `bosun check` and by deploys waiting for health.

use serde::Serialize;

use crate::app::App;
use crate::plugin::bindings::check_types::CheckResult;

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub name: String,
    pub plugin: String,
    pub passed: bool,
    pub summary: String,
    pub conditions: Vec<String>,
    pub error: Option<String>,
    pub suggestion: Option<String>,
    pub elapsed_ms: u128,
}

/// Runs `[checks.<name>]`; a check bosun.toml lacks is a failed report.
pub async fn run_named(app: &App, name: &str, dry_run: bool) -> CheckReport {
    match app.config.checks.get(name) {
        Some(use_) => run_one(app, name, use_.plugin.as_deref().unwrap_or("http"), &use_.settings, dry_run).await,
        None => CheckReport::new(name, "?").failed(format!("no check called {name} in bosun.toml")),
    }
}

impl CheckReport {
    fn new(name: &str, plugin: &str) -> CheckReport {
        CheckReport {
            name: name.to_string(),
            plugin: plugin.to_string(),
            passed: false,
            summary: String::new(),
            conditions: vec![],
            error: None,
            suggestion: None,
            elapsed_ms: 0,
        }
    }

    fn failed(mut self, error: String) -> CheckReport {
        self.error = Some(error);
        self
    }
}

pub async fn run_one(app: &App, name: &str, plugin_name: &str, settings: &toml::Table, dry_run: bool) -> CheckReport {
    let mut report = CheckReport::new(name, plugin_name);
    let started = std::time::Instant::now();
    let result = async {
        let plugin = app.plugin(plugin_name)?;
        let setup = app.setup(&plugin, settings, dry_run)?;
        Ok::<CheckResult, anyhow::Error>(app.runtime()?.check(&plugin, setup).await?.value)
    }
    .await;
    report.elapsed_ms = started.elapsed().as_millis();
    match result {
        Ok(result) => {
            report.passed = result.passed;
            report.summary = result.summary;
            report.suggestion = result.suggestion;
            report.conditions = result
                .conditions
                .iter()
                .map(|c| {
                    let mark = if c.passed { "✓" } else { "✗" };
                    let note = c.message.as_deref().map(|m| format!(" — {m}")).unwrap_or_default();
                    format!("{mark} {} (actual: {}){note}", c.condition, one_line(&c.actual, 80))
                })
                .collect();
            report
        }
        Err(e) => report.failed(format!("{e:#}")),
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = if self.passed { "PASS" } else { "FAIL" };
        write!(f, "{status} {} [{}] {}ms", self.name, self.plugin, self.elapsed_ms)?;
        if !self.summary.is_empty() {
            write!(f, " — {}", self.summary)?;
        }
        for c in &self.conditions {
            write!(f, "\n    {c}")?;
        }
        if let Some(e) = &self.error {
            write!(f, "\n    error: {e}")?;
        }
        if let Some(s) = &self.suggestion {
            write!(f, "\n    try: {s}")?;
        }
        Ok(())
    }
}

/// A value as one report line: newlines escaped, long values cut with `…`.
fn one_line(value: &str, max_chars: usize) -> String {
    let escaped = value.trim().replace('\n', "\\n");
    match escaped.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}
