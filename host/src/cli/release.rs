//! `bosun deploy`, `bosun rollback`, `bosun releases`.

use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};

use clap::Args;
use indicatif::ProgressBar;
use serde::Serialize;

use super::output::{Failure, Output, spinner};
use crate::app::App;
use crate::ops::deploy::{self, ReleaseOptions, Released, Rollout, Step, StepSink};
use crate::state::ReleaseRecord;

#[derive(Args)]
pub struct DeployArgs {
    service: String,
    /// The version (image tag) to deploy; default: services.<name>.version.
    version: Option<String>,
    /// Why: recorded with the release and shown by `bosun releases`.
    #[arg(short = 'm', long = "message", default_value = "")]
    message: String,
    /// Print the plan (containers to create, stop, remove) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Recreate the container even when this version already runs with the same image and config.
    #[arg(long)]
    force: bool,
    /// Only these of the service's hosts (`web1,web2`).
    #[arg(long, value_delimiter = ',')]
    hosts: Vec<String>,
    /// Only the hosts whose current release is this version; the others are listed with why.
    #[arg(long, value_name = "VERSION")]
    from: Option<String>,
}

#[derive(Args)]
pub struct RollbackArgs {
    service: String,
    /// Roll back to the newest successful release of this version
    /// (default: the successful release before the current one).
    #[arg(long)]
    to: Option<String>,
    #[arg(short = 'm', long = "message", default_value = "")]
    message: String,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Only these of the service's hosts (`web1,web2`).
    #[arg(long, value_delimiter = ',')]
    hosts: Vec<String>,
}

#[derive(Args)]
pub struct ReleasesArgs {
    /// Only this service.
    service: Option<String>,
    /// Each host's current version, by service: where a rollout has got to.
    #[arg(long)]
    matrix: bool,
}

pub async fn deploy(args: DeployArgs, app: &App, out: Output) -> Result<(), Failure> {
    let (on_step, bar) = show_steps(out);
    let options = ReleaseOptions { note: args.message, dry_run: args.dry_run, force: args.force, on_step, hosts: args.hosts, from: args.from, ..ReleaseOptions::default() };
    let released = deploy::deploy(app, &args.service, args.version.as_deref(), &options).await;
    bar.inspect(ProgressBar::finish_and_clear);
    report(app, &released?, out)
}

pub async fn rollback(args: RollbackArgs, app: &App, out: Output) -> Result<(), Failure> {
    let (on_step, bar) = show_steps(out);
    let options = ReleaseOptions { note: args.message, dry_run: args.dry_run, on_step, hosts: args.hosts, ..ReleaseOptions::default() };
    let released = deploy::rollback(app, &args.service, args.to.as_deref(), &options).await;
    bar.inspect(ProgressBar::finish_and_clear);
    report(app, &released?, out)
}

/// A release's steps on stderr: on a terminal a spinner showing the current
/// one (and the time left while waiting), otherwise one plain line as each
/// step begins, for logs. Nothing with `--json`.
fn show_steps(out: Output) -> (StepSink, Option<ProgressBar>) {
    if out.json {
        return (Box::new(|_| {}), None);
    }
    if std::io::stderr().is_terminal() {
        let bar = spinner("planning".to_string());
        let shown = bar.clone();
        return (Box::new(move |step: &Step| shown.set_message(step.to_string())), Some(bar));
    }
    let last = Mutex::new(String::new());
    let on_step = move |step: &Step| {
        let mut last = last.lock().unwrap_or_else(PoisonError::into_inner);
        if *last != step.what {
            eprintln!("{step}");
            last.clone_from(&step.what);
        }
    };
    (Box::new(on_step), None)
}

/// Each host's outcome; named by host when bosun.toml has hosts.
fn report(app: &App, rollout: &Rollout, out: Output) -> Result<(), Failure> {
    let named = !app.config.hosts.is_empty();
    out.print(rollout, || {
        let mut lines: Vec<String> = rollout.hosts.iter().map(|on| match named {
            true => format!("host {}: {}", on.host, released_text(&on.released)),
            false => released_text(&on.released),
        }).collect();
        lines.extend(rollout.skipped.iter().map(|s| format!("skipped host {}: {}", s.host, s.reason)));
        lines.join("\n")
    });
    Ok(())
}

fn released_text(released: &Released) -> String {
    match released {
        Released::Planned { plan } => format!("dry run, nothing changed:\n{plan}"),
        Released::Unchanged { container, plan } => {
            let facts = plan.facts();
            format!("{} {} already runs as {container} from the same image and config; nothing was changed (`--force` recreates it)", facts.service, facts.version)
        }
        Released::Done { release, removed, warnings, elapsed_secs, .. } => {
            let mut text = format!(
                "release {}: {} {} runs as {} ({:.1}s)",
                release.id, release.service, release.version, release.container_name, elapsed_secs
            );
            if !removed.is_empty() {
                text.push_str(&format!("\nremoved beyond retain: {}", removed.join(", ")));
            }
            for warning in warnings {
                text.push_str(&format!("\nwarning: {warning}"));
            }
            text
        }
    }
}

pub async fn releases(args: ReleasesArgs, app: &App, out: Output) -> Result<(), Failure> {
    if let Some(name) = &args.service {
        deploy::service(app, name)?;
    }
    if args.matrix {
        let cells = matrix(app, args.service.as_deref())?;
        out.print(&cells, || matrix_text(&cells));
        return Ok(());
    }
    let releases = app.state()?.releases(args.service.as_deref(), &app.config.project.env)?;
    out.print(&releases, || releases_text(&releases, !app.config.hosts.is_empty()));
    Ok(())
}

/// A service's current release on one of its hosts.
#[derive(Serialize)]
struct Current {
    service: String,
    host: String,
    /// None: nothing released there yet.
    version: Option<String>,
    release: Option<i64>,
}

fn matrix(app: &App, only: Option<&str>) -> Result<Vec<Current>, Failure> {
    let state = app.state()?;
    let env = &app.config.project.env;
    let mut cells = Vec::new();
    for service in app.config.services.keys().filter(|s| only.is_none_or(|o| o == s.as_str())) {
        for host in app.config.service_hosts(service) {
            let current = state.succeeded_releases(service, env, Some(&host))?.into_iter().next();
            cells.push(Current { service: service.clone(), version: current.as_ref().map(|r| r.version.clone()), release: current.map(|r| r.id), host });
        }
    }
    Ok(cells)
}

/// Services down, hosts across; `-` where a service does not run, `none` where nothing was released yet.
fn matrix_text(cells: &[Current]) -> String {
    let mut hosts: Vec<&str> = cells.iter().map(|c| c.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let mut services: Vec<&str> = cells.iter().map(|c| c.service.as_str()).collect();
    services.dedup();
    let row = |first: &str, rest: Vec<String>| format!("{first:<12}  {}", rest.iter().map(|c| format!("{c:<12}")).collect::<Vec<_>>().join("  ")).trim_end().to_string();
    let mut lines = vec![row("service", hosts.iter().map(|h| h.to_string()).collect())];
    for service in services {
        let cell = |host: &&str| match cells.iter().find(|c| c.service == service && c.host == *host) {
            None => "-".to_string(),
            Some(current) => current.version.clone().unwrap_or_else(|| "none".to_string()),
        };
        lines.push(row(service, hosts.iter().map(cell).collect()));
    }
    lines.join("\n")
}

fn releases_text(releases: &[ReleaseRecord], named: bool) -> String {
    if releases.is_empty() {
        return "no releases yet; `bosun deploy <service> <version>` makes one".into();
    }
    let short = |hex: &str| hex.trim_start_matches("sha256:").chars().take(12).collect::<String>();
    let row = |cells: [&str; 12]| {
        let [id, when, service, host, version, kind, outcome, image, config, container, who, note] = cells;
        let host = if named { format!("{host:<10}  ") } else { String::new() };
        format!("{id:>4}  {when:<20}  {service:<10}  {host}{version:<12}  {kind:<8}  {outcome:<11}  {image:<12}  {config:<12}  {container:<24}  {who:<10}  {note}")
    };
    let mut lines = vec![row(["id", "when", "service", "host", "version", "kind", "outcome", "image", "config", "container", "who", "note"])];
    for r in releases {
        let outcome = r.outcome.as_str();
        let (id, when) = (r.id.to_string(), crate::time::rfc3339(r.created_at.max(0) as u64));
        let (image, config) = (short(&r.image_digest), short(&r.config_hash));
        lines.push(row([&id, &when, &r.service, &r.host, &r.version, r.kind.as_str(), outcome, &image, &config, &r.container_name, &r.who, &r.note]).trim_end().to_string());
    }
    lines.join("\n")
}
