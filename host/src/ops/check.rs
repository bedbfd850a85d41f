//! Running one smoke check from bosun.toml and reporting each condition with
//! its actual value; used by `bosun check` and by deploys waiting for health.

use serde::Serialize;

use crate::app::App;
use crate::ops::notify::{self, Notice, Severity};
use crate::state::Outcome;
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

/// Runs the named checks at once, records the run, and notifies
/// `check.succeeded` / `check.failed` (with the failed checks).
pub async fn run_suite(app: &App, names: &[&str], dry_run: bool) -> Vec<CheckReport> {
    let reports = futures_util::future::join_all(names.iter().map(|name| run_named(app, name, dry_run))).await;
    if dry_run {
        return reports;
    }
    let failed: Vec<&str> = reports.iter().filter(|r| !r.passed).map(|r| r.name.as_str()).collect();
    let text: Vec<String> = reports.iter().map(ToString::to_string).collect();
    let recorded = app.state().and_then(|state| {
        let run_id = state.start_run("check", &names.join(","))?;
        let outcome = if failed.is_empty() { Outcome::Succeeded } else { Outcome::Failed };
        state.finish_run(run_id, outcome, &format!("{} of {} passed", reports.len() - failed.len(), reports.len()), &text.join("\n"))?;
        Ok(run_id)
    });
    let run_id = match recorded {
        Ok(run_id) => run_id,
        Err(e) => {
            tracing::warn!("recording the check run: {e}");
            return reports;
        }
    };
    let notice = match failed.as_slice() {
        [] => Notice::new("check.succeeded", Severity::Success, format!("{} check(s) passed", reports.len()), String::new()),
        _ => Notice::new("check.failed", Severity::Failure, format!("{} of {} check(s) failed: {}", failed.len(), reports.len(), failed.join(", ")), text.join("\n\n")),
    };
    let notice = notice.fact("project", &app.config.project.name).fact("env", &app.config.project.env).fact("checks", failed.join(", "));
    notify::tell(app, run_id, &notice).await;
    reports
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
