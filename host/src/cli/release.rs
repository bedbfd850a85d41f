//! `bosun deploy`, `bosun rollback`, `bosun releases`.

use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};

use clap::Args;
use indicatif::ProgressBar;

use super::output::{Failure, Output, spinner};
use crate::app::App;
use crate::ops::cancel::Cancel;
use crate::ops::deploy::{self, ReleaseOptions, Released, Step, StepSink};
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
}

#[derive(Args)]
pub struct ReleasesArgs {
    /// Only this service.
    service: Option<String>,
}

pub async fn deploy(args: DeployArgs, app: &App, out: Output) -> Result<(), Failure> {
    let (on_step, bar) = show_steps(out);
    let options = ReleaseOptions { note: args.message, dry_run: args.dry_run, force: args.force, on_step, cancel: Cancel::never(), by: None };
    let released = deploy::deploy(app, &args.service, args.version.as_deref(), &options).await;
    bar.inspect(ProgressBar::finish_and_clear);
    report(&released?, out)
}

pub async fn rollback(args: RollbackArgs, app: &App, out: Output) -> Result<(), Failure> {
    let (on_step, bar) = show_steps(out);
    let options = ReleaseOptions { note: args.message, dry_run: args.dry_run, force: false, on_step, cancel: Cancel::never(), by: None };
    let released = deploy::rollback(app, &args.service, args.to.as_deref(), &options).await;
    bar.inspect(ProgressBar::finish_and_clear);
    report(&released?, out)
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

fn report(released: &Released, out: Output) -> Result<(), Failure> {
    out.print(released, || match released {
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
    });
    Ok(())
}

pub async fn releases(args: ReleasesArgs, app: &App, out: Output) -> Result<(), Failure> {
    if let Some(name) = &args.service {
        deploy::service(app, name)?;
    }
    let releases = app.state()?.releases(args.service.as_deref(), &app.config.project.env)?;
    out.print(&releases, || releases_text(&releases));
    Ok(())
}

fn releases_text(releases: &[ReleaseRecord]) -> String {
    if releases.is_empty() {
        return "no releases yet; `bosun deploy <service> <version>` makes one".into();
    }
    let short = |hex: &str| hex.trim_start_matches("sha256:").chars().take(12).collect::<String>();
    let row = |cells: [&str; 11]| {
        let [id, when, service, version, kind, outcome, image, config, container, who, note] = cells;
        format!("{id:>4}  {when:<20}  {service:<10}  {version:<12}  {kind:<8}  {outcome:<11}  {image:<12}  {config:<12}  {container:<24}  {who:<10}  {note}")
    };
    let mut lines = vec![row(["id", "when", "service", "version", "kind", "outcome", "image", "config", "container", "who", "note"])];
    for r in releases {
        let outcome = r.outcome.as_str();
        let (id, when) = (r.id.to_string(), crate::time::rfc3339(r.created_at.max(0) as u64));
        let (image, config) = (short(&r.image_digest), short(&r.config_hash));
        lines.push(row([&id, &when, &r.service, &r.version, r.kind.as_str(), outcome, &image, &config, &r.container_name, &r.who, &r.note]).trim_end().to_string());
    }
    lines.join("\n")
}
