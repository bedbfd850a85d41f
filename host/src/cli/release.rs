//! `bosun deploy`, `bosun rollback`, `bosun releases`.

use clap::Args;
use indicatif::ProgressBar;

use super::output::{Failure, Output, spinner};
use crate::app::App;
use crate::ops::deploy::{self, ReleaseOptions, Released};
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
    let options = ReleaseOptions { note: args.message, dry_run: args.dry_run };
    let what = format!("deploying {} {}", args.service, args.version.as_deref().unwrap_or(""));
    let released = with_spinner(out, what, deploy::deploy(app, &args.service, args.version.as_deref(), &options)).await?;
    report(&released, out)
}

pub async fn rollback(args: RollbackArgs, app: &App, out: Output) -> Result<(), Failure> {
    let options = ReleaseOptions { note: args.message, dry_run: args.dry_run };
    let released = with_spinner(out, format!("rolling back {}", args.service), deploy::rollback(app, &args.service, args.to.as_deref(), &options)).await?;
    report(&released, out)
}

async fn with_spinner<T>(out: Output, what: String, work: impl Future<Output = T>) -> T {
    let bar = (!out.json).then(|| spinner(what));
    let result = work.await;
    bar.inspect(ProgressBar::finish_and_clear);
    result
}

fn report(released: &Released, out: Output) -> Result<(), Failure> {
    out.print(released, || match released {
        Released::Planned { plan } => format!("dry run, nothing changed:\n{plan}"),
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
    let mut lines = vec![format!("{:>4}  {:<20}  {:<10}  {:<12}  {:<8}  {:<9}  {:<24}  {:<10}  note", "id", "when", "service", "version", "kind", "outcome", "container", "who")];
    for r in releases {
        let outcome = r.outcome.as_str();
        lines.push(format!(
            "{:>4}  {:<20}  {:<10}  {:<12}  {:<8}  {:<9}  {:<24}  {:<10}  {}",
            r.id,
            crate::time::rfc3339(r.created_at.max(0) as u64),
            r.service,
            r.version,
            r.kind.as_str(),
            outcome,
            r.container_name,
            r.who,
            r.note
        ));
    }
    lines.join("\n")
}
