//! The dashboard's pages: overview, runs and one run (with its live log),
//! releases, backups, checks, schedules. Each reads what the API reads;
//! the buttons post to `actions`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};

use super::{Signed, failure, page};
use crate::serve::api::{Api, Problem, off_thread_async};
use crate::state::{RunFilter, now_unix};

pub fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/", get(overview))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/releases", get(releases))
        .route("/backups", get(backups))
        .route("/checks", get(checks))
        .route("/schedules", get(schedules))
}

type Shared = State<Arc<Api>>;

/// A page, or the failure page for what went wrong reading it.
fn shown(signed: &Signed, here: &str, title: &str, body: Result<Markup, Problem>) -> Response {
    match body {
        Ok(body) => page(signed, here, title, body).into_response(),
        Err(problem) => failure(signed, problem),
    }
}

/// `unix` as `3m ago` (or `in 3m`), with the time itself on hover.
fn when(unix: i64) -> Markup {
    let delta = now_unix() - unix;
    let span = crate::time::elapsed(std::time::Duration::from_secs(delta.unsigned_abs()));
    let text = match delta {
        0 => "just now".to_string(),
        1.. => format!("{span} ago"),
        _ => format!("in {span}"),
    };
    html! { span title=(crate::time::rfc3339(unix.max(0) as u64)) { (text) } }
}

fn badge(word: &str) -> Markup {
    html! { span class=(format!("badge {word}")) { (word) } }
}

/// A red, amber or green light.
fn light_of(light: crate::ops::status::Light) -> Markup {
    self::light(&format!("{light:?}").to_lowercase())
}

/// Why a row is not green, a line each.
fn reasons(why: &[String]) -> Markup {
    html! { @for line in why { div { (line) } } }
}

fn light(word: &str) -> Markup {
    html! { span class=(format!("light {word}")) title=(word) {} }
}

/// A button that posts to `action` with the session's CSRF token and `fields`.
pub fn button(signed: &Signed, action: &str, label: &str, fields: &[(&str, &str)]) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(signed.csrf);
            @for (name, value) in fields { input type="hidden" name=(name) value=(value); }
            button.act type="submit" { (label) }
        }
    }
}

async fn overview(signed: Signed, State(api): Shared) -> Response {
    let named = !api.app.config.hosts.is_empty();
    let app = api.app.clone();
    let overview = off_thread_async(move || async move { crate::ops::status::overview(&app, &[]).await }).await.and_then(|o| o.map_err(Problem::from));
    let firing = api.app.state().map_err(Problem::from).and_then(|state| Ok(state.firing_alerts()?));
    let body = overview.and_then(|o| Ok((o, firing?))).map(|(o, firing)| {
        html! {
            p { (light(&format!("{:?}", o.light).to_lowercase())) "All in all: " strong { (format!("{:?}", o.light).to_lowercase()) } }
            @if !firing.is_empty() {
                h2 { "Alerts firing" }
                div.scroll { table {
                    tr { th { "rule" } th { "target" } th { "what" } th.wide { "since" } th { "told" } }
                    @for a in &firing {
                        tr {
                            td { (badge(&a.severity)) " " strong { (a.rule) } }
                            td { (a.target) @if named { " " span.muted { "on " (a.host) } } }
                            td { (a.summary) }
                            td.wide { (when(a.since)) }
                            td { @if let Some(at) = a.notified_at { (when(at)) } @else { "silenced" } }
                        }
                    }
                } }
            }
            h2 { "Services" }
            div.scroll { table {
                tr { th { "" } th { "service" } th { "release" } th { "container" } th.wide { "cpu · memory" } th.wide { "last deploy" } th { "checks" } th { "why" } }
                @for s in &o.services {
                    tr {
                        td { (light_of(s.light)) }
                        td { strong { (s.name) } @if named { " " span.muted { "on " (s.host) } } }
                        td { @if let Some(r) = &s.current { (r.version) " " span.muted { "#" (r.id) } } @else { "—" } }
                        td { @if let Some(c) = &s.container { (c.state) @if let Some(h) = &c.health { " (" (h) ")" } } @else { "—" } }
                        td.wide { (measured(s.sample.as_ref())) }
                        td.wide { @if let Some(r) = &s.last_deploy { (r.kind.as_str()) " " (r.version) " " (badge(r.outcome.as_str())) " " (when(r.created_at)) } @else { "never" } }
                        td { @for c in &s.checks { (badge(if c.passed { "passed" } else { "failed" })) " " (c.check) " " } }
                        td { (reasons(&s.why)) }
                    }
                }
            } }
            @if !o.processes.is_empty() {
                h2 { "Processes" }
                div.scroll { table {
                    tr { th { "" } th { "process" } th { "state" } th.wide { "cpu · memory" } th { "why" } }
                    @for p in &o.processes {
                        tr {
                            td { (light_of(p.light)) }
                            td { strong { (p.name) } }
                            td { @if let Some(s) = &p.sample { (s.state) } @else { "—" } }
                            td.wide { (measured(p.sample.as_ref())) }
                            td { (reasons(&p.why)) }
                        }
                    }
                } }
            }
            h2 { "Backups" }
            div.scroll { table {
                tr { th { "" } th { "set" } th { "last backup" } th.wide { "size" } th { "why" } }
                @for b in &o.backups {
                    tr {
                        td { (light_of(b.light)) }
                        td { strong { (b.name) } }
                        td { @if let Some(last) = &b.last { (when(last.created_at)) } @else { "never" } }
                        td.wide { @if let Some(last) = &b.last { (indicatif::HumanBytes(last.bytes)) } }
                        td { (reasons(&b.why)) }
                    }
                }
            } }
        }
    });
    shown(&signed, "/", "Overview", body)
}

/// `0.4% · 12.0 MiB` from a watch sample; `—` without one.
fn measured(sample: Option<&crate::state::Sample>) -> String {
    let cpu = sample.and_then(|s| s.cpu_percent).map(|c| format!("{c:.1}%"));
    let memory = sample.and_then(|s| s.memory_bytes).map(|m| indicatif::HumanBytes(m.max(0) as u64).to_string());
    match (cpu, memory) {
        (None, None) => "—".to_string(),
        (cpu, memory) => format!("{} · {}", cpu.as_deref().unwrap_or("—"), memory.as_deref().unwrap_or("—")),
    }
}

async fn runs(signed: Signed, State(api): Shared) -> Response {
    let body = (|| {
        let runs = api.app.state()?.runs(&RunFilter { limit: 50, ..RunFilter::default() })?;
        Ok(html! {
            h2 { "Pipelines" }
            div.scroll { table {
                tr { th { "pipeline" } th.wide { "description" } th { "inputs" } th { "" } }
                @for (name, p) in &api.app.config.pipelines {
                    tr {
                        td { strong { (name) } }
                        td.wide { (p.description) }
                        td colspan="2" {
                            form method="post" action=(format!("/ui/pipelines/{name}/run")) {
                                input type="hidden" name="csrf" value=(signed.csrf);
                                @for (input, spec) in &p.inputs {
                                    label { (input) " " input type="text" name=(format!("input.{input}")) value=(spec.default.as_ref().map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_string)).unwrap_or_default()); }
                                    " "
                                }
                                button.act type="submit" { "Run " (name) }
                            }
                        }
                    }
                }
            } }
            h2 { "Recent runs" }
            div.scroll { table {
                tr { th { "run" } th { "what" } th { "outcome" } th.wide { "who" } th { "started" } th.wide { "summary" } }
                @for r in &runs {
                    tr {
                        td { a href=(format!("/runs/{}", r.id)) { "#" (r.id) } }
                        td { (r.operation) " " (r.target) }
                        td { (badge(r.outcome.as_str())) }
                        td.wide { (r.who) }
                        td { (when(r.started_at)) }
                        td.wide { (r.summary) }
                    }
                }
            } }
        })
    })();
    shown(&signed, "/runs", "Runs", body)
}

async fn run(signed: Signed, State(api): Shared, Path(id): Path<String>) -> Response {
    let body = (|| {
        let not_found = || Problem::not_found(format!("no run {id}; the runs page lists the recent ones"));
        let id: i64 = id.parse().map_err(|_| not_found())?;
        let state = api.app.state()?;
        let record = state.run(id)?.ok_or_else(not_found)?;
        let steps = state.pipeline_steps(id)?;
        Ok(html! {
            p { (record.operation) " " strong { (record.target) } " · " span #outcome class=(format!("badge {}", record.outcome.as_str())) { (record.outcome.as_str()) } " · by " (record.who) " · " (when(record.started_at)) }
            @if !steps.is_empty() {
                div.scroll { table {
                    tr { th { "step" } th { "state" } th.wide { "summary" } }
                    @for s in &steps {
                        tr { td { (s.step) } td data-step=(s.step) { (s.state.as_str()) } td.wide data-summary=(s.step) { (s.summary) } }
                    }
                } }
            }
            h2 { "Log" }
            div #log data-run=(id) {}
            @if !record.log.is_empty() { h2 { "Record" } pre { (record.log) } }
        })
    })();
    shown(&signed, "/runs", "Run", body)
}

async fn releases(signed: Signed, State(api): Shared) -> Response {
    let body = (|| {
        let app = &api.app;
        let all = app.state()?.releases(None, &app.config.project.env)?;
        Ok(html! {
            @for service in app.config.services.keys() {
                @let mine: Vec<_> = all.iter().filter(|r| &r.service == service).rev().collect();
                @let current = mine.iter().find(|r| r.outcome == crate::state::ReleaseOutcome::Succeeded).map(|r| r.id);
                h2 { (service) }
                p {
                    (button(&signed, &format!("/ui/services/{service}/rollback"), "Roll back to the previous release", &[]))
                }
                div.scroll { table {
                    tr { th { "release" } th { "version" } th { "kind" } th { "outcome" } th.wide { "who" } th { "when" } th.wide { "note" } th { "" } }
                    @for r in &mine {
                        tr {
                            td { "#" (r.id) @if Some(r.id) == current { " " (badge("current")) } }
                            td { (r.version) }
                            td { (r.kind.as_str()) }
                            td { (badge(r.outcome.as_str())) }
                            td.wide { (r.who) }
                            td { (when(r.created_at)) }
                            td.wide { (r.note) }
                            td {
                                @if Some(r.id) != current && r.outcome == crate::state::ReleaseOutcome::Succeeded {
                                    (button(&signed, &format!("/ui/services/{service}/rollback"), &format!("Roll back to {}", r.version), &[("to", r.version.as_str())]))
                                }
                            }
                        }
                    }
                } }
            }
            @if app.config.services.is_empty() { p.muted { "No services in bosun.toml." } }
        })
    })();
    shown(&signed, "/releases", "Releases", body)
}

async fn backups(signed: Signed, State(api): Shared) -> Response {
    let body = (|| {
        let all = api.app.state()?.backups(None)?;
        Ok(html! {
            @for set in api.app.config.backups.keys() {
                h2 { (set) }
                p { (button(&signed, "/ui/backups", "Back up now", &[("set", set.as_str())])) }
                div.scroll { table {
                    tr { th { "backup" } th { "taken" } th.wide { "kind" } th { "size" } th { "verified" } th { "" } }
                    @for b in all.iter().filter(|b| &b.set == set).rev() {
                        tr {
                            td { code { (b.id) } }
                            td { (when(b.created_at)) }
                            td.wide { (b.kind.as_str()) }
                            td { (indicatif::HumanBytes(b.bytes)) }
                            td {
                                @match (&b.verify_error, b.verified_at) {
                                    (Some(error), _) => { (badge("failed")) " " (error) },
                                    (None, Some(at)) => { (badge("passed")) " " (when(at)) },
                                    (None, None) => { "never" },
                                }
                            }
                            td { (button(&signed, &format!("/ui/backups/{}/verify", b.id), "Verify", &[])) }
                        }
                    }
                } }
            }
            @if api.app.config.backups.is_empty() { p.muted { "No backup sets in bosun.toml." } }
        })
    })();
    shown(&signed, "/backups", "Backups", body)
}

/// The last check results as a Markdown table, to paste into a ticket or chat.
fn markdown(results: &[crate::state::CheckResult]) -> String {
    let mut text = String::from("| check | result | when | took | summary |\n|---|---|---|---|---|\n");
    for r in results {
        let summary = r.report["summary"].as_str().unwrap_or_default().replace('|', "\\|");
        text.push_str(&format!("| {} | {} | {} | {} ms | {} |\n", r.check, if r.passed { "passed" } else { "FAILED" }, crate::time::rfc3339(r.at.max(0) as u64), r.elapsed_ms, summary));
    }
    text
}

async fn checks(signed: Signed, State(api): Shared) -> Response {
    let body = (|| {
        let results = api.app.state()?.check_results()?;
        Ok(html! {
            p { (button(&signed, "/ui/checks/run", "Run all checks now", &[])) }
            div.scroll { table {
                tr { th { "check" } th { "result" } th { "when" } th.wide { "took" } th { "summary" } }
                @for name in api.app.config.checks.keys() {
                    @let last = results.iter().find(|r| &r.check == name);
                    tr {
                        td { strong { (name) } }
                        @if let Some(r) = last {
                            td { (badge(if r.passed { "passed" } else { "failed" })) }
                            td { (when(r.at)) }
                            td.wide { (r.elapsed_ms) " ms" }
                            td { (r.report["summary"].as_str().unwrap_or_default()) @if let Some(e) = r.report["error"].as_str() { div.muted { (e) } } }
                        } @else {
                            td colspan="4" { "not run yet" }
                        }
                    }
                }
            } }
            h2 { "As Markdown" }
            textarea #markdown readonly { (markdown(&results)) }
            p { button type="button" data-copy="markdown" { "copy" } }
        })
    })();
    shown(&signed, "/checks", "Checks", body)
}

async fn schedules(signed: Signed, State(api): Shared) -> Response {
    let body = crate::serve::scheduler::rows(&api.app).map_err(Problem::from).map(|rows| {
        html! {
            @if rows.is_empty() { p.muted { "No pipeline has a schedule; add " code { "schedule = \"0 3 * * *\"" } " to a [pipelines.<name>] table." } }
            div.scroll { table {
                tr { th { "pipeline" } th { "schedule" } th.wide { "time zone" } th { "next" } th.wide { "last due" } }
                @for r in &rows {
                    tr {
                        td { strong { (r.pipeline) } }
                        td { code { (r.schedule.as_deref().unwrap_or("-")) } }
                        td.wide { (r.timezone) }
                        td { (r.next) }
                        td.wide { (r.last_due.as_deref().unwrap_or("never")) }
                    }
                }
            } }
        }
    });
    shown(&signed, "/schedules", "Schedules", body)
}
