//! `bosun check`: run smoke checks from bosun.toml and report each condition.

use clap::Args;
use serde::Serialize;

use crate::app::App;
use super::output::Output;
use crate::failure::{FAILED, Failure};
use crate::plugin::bindings::check_types::CheckResult;

#[derive(Args)]
pub struct CheckArgs {
    /// Checks to run (default: all in bosun.toml).
    names: Vec<String>,
    /// Record what host calls would change instead of making them.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Serialize)]
struct Report {
    name: String,
    plugin: String,
    passed: bool,
    summary: String,
    conditions: Vec<String>,
    error: Option<String>,
    suggestion: Option<String>,
    elapsed_ms: u128,
}

pub async fn run(args: CheckArgs, app: &App, out: Output) -> Result<(), Failure> {
    let checks = &app.config.checks;
    if checks.is_empty() {
        return Err(Failure::bad_input("no checks in bosun.toml: add a [checks.<name>] table, e.g. plugin = \"http\" and url = \"http://127.0.0.1:8080/\""));
    }
    for name in &args.names {
        if !checks.contains_key(name) {
            let known: Vec<_> = checks.keys().cloned().collect();
            return Err(Failure::bad_input(format!("no check called {name}; bosun.toml has: {}", known.join(", "))));
        }
    }
    let selected: Vec<_> = checks.iter().filter(|(name, _)| args.names.is_empty() || args.names.contains(name)).collect();
    let runs = selected.iter().map(|(name, use_)| run_one(app, name, use_.plugin.as_deref().unwrap_or("http"), &use_.settings, args.dry_run));
    let reports = futures_util::future::join_all(runs).await;
    let all_passed = reports.iter().all(|r| r.passed);
    out.print(&reports, || reports.iter().map(render).collect::<Vec<_>>().join("\n"));
    if all_passed { Ok(()) } else { Err(Failure::silent(FAILED)) }
}

async fn run_one(app: &App, name: &str, plugin_name: &str, settings: &toml::Table, dry_run: bool) -> Report {
    let mut report = Report {
        name: name.to_string(),
        plugin: plugin_name.to_string(),
        passed: false,
        summary: String::new(),
        conditions: vec![],
        error: None,
        suggestion: None,
        elapsed_ms: 0,
    };
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
        }
        Err(e) => report.error = Some(format!("{e:#}")),
    }
    report
}

fn render(r: &Report) -> String {
    let status = if r.passed { "PASS" } else { "FAIL" };
    let mut text = format!("{status} {} [{}] {}ms", r.name, r.plugin, r.elapsed_ms);
    if !r.summary.is_empty() {
        text.push_str(&format!(" — {}", r.summary));
    }
    for c in &r.conditions {
        text.push_str(&format!("\n    {c}"));
    }
    if let Some(e) = &r.error {
        text.push_str(&format!("\n    error: {e}"));
    }
    if let Some(s) = &r.suggestion {
        text.push_str(&format!("\n    try: {s}"));
    }
    text
}

/// A value as one report line: newlines escaped, long values cut with `…`.
fn one_line(value: &str, max_chars: usize) -> String {
    let escaped = value.trim().replace('\n', "\\n");
    match escaped.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}
