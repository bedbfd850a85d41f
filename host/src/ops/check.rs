//! Running one smoke check from bosun.toml and reporting each condition with
//! its actual value; used by `bosun check` and by deploys waiting for health.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::app::App;
use crate::capability::PlannedCall;
use crate::ops::notify::{self, Notice, Severity};
use crate::state::Outcome;
use crate::bindings::check_types::CheckResult;
use crate::plugin::{Called, PluginError};

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
    /// What the check measured (`rss-mib`, `days-left`, …), by name, as the
    /// plugin reported it; kept in the run's record.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, String>,
    /// In a dry run: the calls the check would have made that bosun held
    /// back (requests not sent). A check with any is not judged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<PlannedCall>,
}

/// How many checks run at once unless `--jobs` says otherwise.
pub const DEFAULT_JOBS: usize = 16;

/// The checks `wanted` names: each a check or a `[suites]` entry (expanded);
/// none means every check. Unknown names are one error listing what exists.
pub fn select<'a>(app: &'a App, wanted: &[String]) -> Result<Vec<&'a str>, String> {
    let checks = &app.config.checks;
    if wanted.is_empty() {
        return Ok(checks.keys().map(String::as_str).collect());
    }
    let mut selected: Vec<&str> = Vec::new();
    for name in wanted {
        let expanded: Vec<&str> = match (checks.get_key_value(name), app.config.suites.get(name)) {
            (Some((check, _)), _) => vec![check.as_str()],
            (None, Some(suite)) => suite.iter().map(String::as_str).collect(),
            (None, None) => {
                let checks: Vec<&str> = checks.keys().map(String::as_str).collect();
                let suites: Vec<&str> = app.config.suites.keys().map(String::as_str).collect();
                return Err(format!("no check or suite called {name}; checks: {}; suites: {}", or_none(&checks), or_none(&suites)));
            }
        };
        for check in expanded {
            if !selected.contains(&check) {
                selected.push(check);
            }
        }
    }
    Ok(selected)
}

fn or_none(names: &[&str]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// Runs the named checks, `jobs` at a time, records the run, and notifies
/// `check.started` (while they run), then `check.succeeded` / `check.failed`
/// (with the failed checks). Reports come back in the order of `names`.
pub async fn run_suite(app: &App, names: &[&str], jobs: usize, dry_run: bool) -> Vec<CheckReport> {
    use futures_util::StreamExt;
    let checks = |run| futures_util::stream::iter(names.iter().map(move |name| run_named(app, name, dry_run, run))).buffered(jobs.max(1)).collect::<Vec<_>>();
    if dry_run {
        return checks(None).await;
    }
    let run_id = match app.state().and_then(|state| state.start_run("check", &names.join(","))) {
        Ok(run_id) => run_id,
        Err(e) => {
            tracing::warn!("recording the check run: {e}");
            return checks(None).await;
        }
    };
    let started = Notice::new("check.started", Severity::Info, format!("Running {} check(s)", names.len()), names.join(", "));
    let started = started.fact("project", &app.config.project.name).fact("env", &app.config.project.env).fact("checks", names.join(", "));
    let (reports, _) = tokio::join!(checks(Some(run_id)), notify::tell(app, run_id, &started));
    let failed: Vec<&str> = reports.iter().filter(|r| !r.passed).map(|r| r.name.as_str()).collect();
    let text: Vec<String> = reports.iter().map(ToString::to_string).collect();
    let outcome = if failed.is_empty() { Outcome::Succeeded } else { Outcome::Failed };
    let summary = format!("{} of {} passed", reports.len() - failed.len(), reports.len());
    if let Err(e) = app.state().and_then(|state| state.finish_run(run_id, outcome, &summary, &text.join("\n"))) {
        tracing::warn!("recording the check run: {e}");
    }
    let notice = match failed.as_slice() {
        [] => Notice::new("check.succeeded", Severity::Success, format!("{} check(s) passed", reports.len()), String::new()),
        _ => Notice::new("check.failed", Severity::Failure, failed_title(&failed, reports.len()), failed_body(&reports)),
    };
    let notice = notice.fact("project", &app.config.project.name).fact("env", &app.config.project.env).fact("checks", failed.join(", "));
    notify::tell(app, run_id, &notice).await;
    reports
}

/// How many checks named in a `check.failed` title; the body lists them all.
const TITLE_NAMES: usize = 5;

/// `2 of 40 check(s) failed: home, api`, naming at most [`TITLE_NAMES`].
fn failed_title(failed: &[&str], total: usize) -> String {
    let named = failed[..failed.len().min(TITLE_NAMES)].join(", ");
    let more = match failed.len().saturating_sub(TITLE_NAMES) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    format!("{} of {total} check(s) failed: {named}{more}", failed.len())
}

/// The failed checks first, each with why it failed, then how many passed
/// (a count, not a list): a chat service that takes only so much text
/// cuts the end, never the failures.
fn failed_body(reports: &[CheckReport]) -> String {
    let passed = reports.iter().filter(|r| r.passed).count();
    let mut items = vec![format!("{} failed, {passed} passed", reports.len() - passed)];
    items.extend(reports.iter().filter(|r| !r.passed).map(ToString::to_string));
    items.join("\n\n")
}

/// Asks each named check's plugin to judge its configuration, without
/// running anything; every problem, each as `checks.<name>: …`, as a
/// compiler lists them. Commands call this before they start, so a typo
/// stops them before anything happened.
pub async fn validate(app: &App, names: &[&str]) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for name in names {
        let Some(use_) = app.config.checks.get(*name) else {
            problems.push(format!("no check called {name} in bosun.toml"));
            continue;
        };
        let judged = async {
            let plugin = app.plugin(plugin_of(use_))?;
            let (settings, host) = on_host(&use_.settings)?;
            let settings = prepared_settings(app, &settings)?;
            let setup = crate::ops::hosts::aim(&app.config, app.setup(&plugin, &settings, true)?, host.as_deref())?;
            let policy = setup.policy.clone();
            let reaches = app.runtime()?.validate(&plugin, setup).await?.value;
            reaches.iter().try_for_each(|place| policy.check_reach(place)).map_err(anyhow::Error::msg)
        };
        if let Err(e) = judged.await {
            problems.push(format!("checks.{name}: {e:#}"));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// The plugin a check names (`http` when it names none).
pub fn plugin_of(use_: &crate::config::PluginUse) -> &str {
    use_.plugin.as_deref().unwrap_or("http")
}

/// Runs `[checks.<name>]`, as part of run `run` when there is one; a check
/// bosun.toml lacks is a failed report.
pub async fn run_named(app: &App, name: &str, dry_run: bool, run: Option<i64>) -> CheckReport {
    let report = match app.config.checks.get(name) {
        Some(use_) => run_one(app, name, plugin_of(use_), &use_.settings, dry_run, run).await,
        None => return CheckReport::new(name, "?").failed(format!("no check called {name} in bosun.toml")),
    };
    if !dry_run {
        let kept = app.state().and_then(|state| state.record_check_result(name, run, report.passed, report.elapsed_ms, &serde_json::to_value(&report).unwrap_or_default()));
        if let Err(e) = kept {
            tracing::warn!("keeping check {name}'s result: {e}");
        }
    }
    report
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
            metrics: BTreeMap::new(),
            planned: vec![],
        }
    }

    /// Whether the check ran and failed; a dry-run check that held calls
    /// back has no verdict either way.
    pub fn failed_check(&self) -> bool {
        !self.passed && self.planned.is_empty()
    }

    /// A dry run held back calls the check depends on: its own verdict rests
    /// on answers it never got, so the report gives none.
    fn not_judged(mut self, planned: Vec<PlannedCall>) -> CheckReport {
        self.passed = false;
        self.summary = format!("not judged: bosun held back {} of its calls in this dry run", planned.len());
        self.conditions.clear();
        self.error = None;
        self.suggestion = None;
        self.planned = planned;
        self
    }

    fn failed(mut self, error: String) -> CheckReport {
        self.error = Some(error);
        self
    }
}

pub async fn run_one(app: &App, name: &str, plugin_name: &str, settings: &toml::Table, dry_run: bool, run: Option<i64>) -> CheckReport {
    let mut report = CheckReport::new(name, plugin_name);
    let started = std::time::Instant::now();
    let result = async {
        let plugin = app.plugin(plugin_name)?;
        let (settings, host) = on_host(settings)?;
        let settings = prepared_settings(app, &settings)?;
        let setup = crate::ops::hosts::aim(&app.config, app.setup(&plugin, &settings, dry_run)?, host.as_deref())?;
        let setup = match run {
            Some(run_id) => setup.for_run(run_id),
            None => setup,
        };
        let called = app.runtime()?.check(&plugin, setup).await?;
        notify::emitted(app, run, plugin_name, &called.events).await;
        Ok::<Called<CheckResult>, anyhow::Error>(called)
    }
    .await;
    report.elapsed_ms = started.elapsed().as_millis();
    let planned = match &result {
        Ok(called) => called.planned.clone(),
        Err(e) => match e.downcast_ref::<PluginError>() {
            Some(PluginError::FailedInDryRun { planned, .. }) => planned.clone(),
            _ => Vec::new(),
        },
    };
    if !planned.is_empty() {
        return report.not_judged(planned);
    }
    match result.map(|called| called.value) {
        Ok(result) => {
            report.passed = result.passed;
            report.summary = result.summary;
            report.suggestion = result.suggestion;
            report.metrics = result.metrics.into_iter().map(|kv| (kv.key, kv.value)).collect();
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

/// A report to paste into a chat or an issue: a table, then each failure's details.
pub fn markdown(reports: &[CheckReport]) -> String {
    let passed = reports.iter().filter(|r| r.passed).count();
    let mut text = format!("**{passed} of {} checks passed**\n\n| | check | plugin | time | result |\n|---|---|---|---|---|\n", reports.len());
    for r in reports {
        let mark = if r.passed { "✅" } else { "❌" };
        let result = r.error.as_deref().unwrap_or(&r.summary).replace('|', "\\|").replace('\n', " ");
        text.push_str(&format!("| {mark} | {} | {} | {} ms | {result} |\n", r.name, r.plugin, r.elapsed_ms));
    }
    for r in reports.iter().filter(|r| !r.passed) {
        text.push_str(&format!("\n### ❌ {}\n", r.name));
        // Why it failed: the request and its answer, or the login's.
        if !r.summary.is_empty() {
            text.push_str(&format!("- **why:** {}\n", r.summary));
        }
        for c in &r.conditions {
            text.push_str(&format!("- `{c}`\n"));
        }
        if let Some(e) = &r.error {
            text.push_str(&format!("- error: {e}\n"));
        }
        if let Some(s) = &r.suggestion {
            text.push_str(&format!("- **try:** {s}\n"));
        }
    }
    text
}

/// A check's settings without `docker_host`, which is bosun's (the plugin
/// never sees it), and that host.
fn on_host(settings: &toml::Table) -> anyhow::Result<(toml::Table, Option<String>)> {
    let mut settings = settings.clone();
    let host = match settings.remove("docker_host") {
        None => None,
        Some(toml::Value::String(host)) => Some(host),
        Some(_) => anyhow::bail!("docker_host is a host's name, e.g. docker_host = \"web1\""),
    };
    Ok((settings, host))
}

/// The config a check's plugin gets: `${VAR}` values filled from the
/// environment, and for a check naming `backup_set`, the catalog's newest
/// backup of that set as `backup` (id, created_at, age_secs, verified_at,
/// verify_error; none when there is no backup), since plugins cannot read
/// the catalog themselves.
fn prepared_settings(app: &App, settings: &toml::Table) -> anyhow::Result<toml::Table> {
    let mut settings = crate::config::expand_table(settings).map_err(anyhow::Error::msg)?;
    let Some(set) = settings.get("backup_set").and_then(|s| s.as_str()).map(str::to_string) else { return Ok(settings) };
    if !app.config.backups.contains_key(&set) {
        anyhow::bail!("backup_set {set}: no [backups.{set}] in bosun.toml");
    }
    let newest = app.state()?.latest_backup(&set)?;
    if let Some(b) = newest {
        let mut facts = toml::Table::new();
        facts.insert("id".into(), b.id.into());
        facts.insert("created_at".into(), b.created_at.into());
        facts.insert("age_secs".into(), (crate::state::now_unix() - b.created_at).into());
        if let Some(at) = b.verified_at {
            facts.insert("verified_at".into(), at.into());
        }
        if let Some(error) = b.verify_error {
            facts.insert("verify_error".into(), error.into());
        }
        settings.insert("backup".into(), facts.into());
    }
    Ok(settings)
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match (self.passed, self.planned.is_empty()) {
            (_, false) => "DRY ",
            (true, true) => "PASS",
            (false, true) => "FAIL",
        };
        write!(f, "{status} {} [{}] {}ms", self.name, self.plugin, self.elapsed_ms)?;
        if !self.summary.is_empty() {
            write!(f, " — {}", self.summary)?;
        }
        for c in &self.conditions {
            write!(f, "\n    {c}")?;
        }
        if !self.metrics.is_empty() {
            let metrics: Vec<String> = self.metrics.iter().map(|(k, v)| format!("{k}={v}")).collect();
            write!(f, "\n    metrics: {}", metrics.join(" "))?;
        }
        if let Some(e) = &self.error {
            write!(f, "\n    error: {e}")?;
        }
        if let Some(s) = &self.suggestion {
            write!(f, "\n    try: {s}")?;
        }
        for call in &self.planned {
            let what = if call.call == crate::capability::http::PLANNED_CALL { "not sent" } else { "not done" };
            write!(f, "\n    {what} (dry run): {} {}", call.call, call.detail)?;
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
