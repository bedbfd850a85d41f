//! `bosun images check|pull|required|update|prune|history`.

use std::collections::HashMap;
use std::io::IsTerminal;

use clap::Subcommand;
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressStyle};

use super::output::{Failure, Output};
use crate::app::App;
use crate::ops::deploy::client::DockerClient;
use crate::ops::images::update::{self, UpdateOptions, Updated};
use crate::ops::images::{self, check, prune, pull};

#[derive(Subcommand)]
pub enum ImagesCommand {
    /// Ask the registry whether the images in use have newer digests (nothing is pulled), on each host.
    Check {
        /// Only these hosts (`web1,web2`).
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<String>,
    },
    /// Pull an image, with progress per layer; on every host the services run on.
    Pull {
        reference: String,
        /// Only these hosts (`web1,web2`).
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<String>,
    },
    /// Check that every image the services need is on each host they run on.
    Required {
        /// Only these hosts (`web1,web2`).
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<String>,
    },
    /// Pull an image and recreate the containers created from it, config intact.
    Update {
        /// The image reference (e.g. registry.example/web:1.4).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        reference: Option<String>,
        /// Every image the services use.
        #[arg(long)]
        all: bool,
        /// Recreate without asking.
        #[arg(long)]
        yes: bool,
        /// Show which containers would be recreated; pull nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only these hosts (`web1,web2`); they are updated one after another.
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<String>,
    },
    /// Remove old images of the services, keeping rollback points.
    Prune {
        /// How many of the most recently released versions to keep per service.
        #[arg(long, default_value_t = 3)]
        keep: usize,
        /// Print what would be kept (and why) and removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only these hosts (`web1,web2`).
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<String>,
    },
    /// The containers `images update` recreated, oldest first.
    History,
}

pub async fn run(command: ImagesCommand, app: &App, out: Output) -> Result<(), Failure> {
    match command {
        ImagesCommand::Required { hosts } => required(app, &hosts, out).await,
        ImagesCommand::Check { hosts } => check(app, &hosts, out).await,
        ImagesCommand::Pull { reference, hosts } => pull_everywhere(app, &reference, &hosts, out).await,
        ImagesCommand::Update { reference, all: _, yes, dry_run, hosts } => update_everywhere(app, reference.as_deref(), &hosts, (yes, dry_run), out).await,
        ImagesCommand::Prune { keep, dry_run, hosts } => prune_everywhere(app, keep, dry_run, &hosts, out).await,
        ImagesCommand::History => {
            let history = app.state()?.image_updates()?;
            out.print(&history, || {
                if history.is_empty() {
                    return "no image updates yet".into();
                }
                history
                    .iter()
                    .map(|u| {
                        let outcome = u.error.as_deref().map_or("recreated".to_string(), |e| format!("FAILED: {e}"));
                        format!("{}  {}  {}  {} -> {}  {}  by {}", crate::time::rfc3339(u.at.max(0) as u64), u.image, u.container, short(&u.old_image_id), short(&u.new_image_id), outcome, u.who)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
    }
}

/// The hosts a command that acts on images goes to: those in `only`, else
/// every host a service runs on; without `[hosts]` (and no `--hosts`), the
/// local engine even when no service names it.
fn acting_hosts(app: &App, only: &[String]) -> Result<Vec<String>, Failure> {
    match app.config.hosts.is_empty() && only.is_empty() {
        true => Ok(vec![crate::config::hosts::LOCAL.to_string()]),
        false => app.config.hosts_in_use(only).map_err(Failure::bad_input),
    }
}

/// `bosun images required [--hosts]`: per host, every image its services need.
async fn required(app: &App, only: &[String], out: Output) -> Result<(), Failure> {
    let hosts = app.config.hosts_in_use(only).map_err(Failure::bad_input)?;
    let required = images::required_everywhere(&app.config, &hosts).await?;
    let many = !app.config.hosts.is_empty();
    out.print(&required, || {
        if required.is_empty() {
            return "no service names an image version yet".into();
        }
        let line = |r: &images::Required| {
            let host = if many { format!("{:<12}  ", r.host) } else { String::new() };
            format!("{host}{}  {}  ({})", if r.present { "present" } else { "MISSING" }, r.image, r.services.join(", "))
        };
        required.iter().map(line).collect::<Vec<_>>().join("\n")
    });
    let pulls: Vec<String> = required
        .iter()
        .filter(|r| !r.present)
        .map(|r| if many { format!("`bosun images pull {}` on host {}", r.image, r.host) } else { format!("`bosun images pull {}`", r.image) })
        .collect();
    match pulls.as_slice() {
        [] => Ok(()),
        _ => Err(Failure::failed(format!("{} image(s) missing; get them with: {}", pulls.len(), pulls.join(", ")))),
    }
}

/// `bosun images pull REF [--hosts]`: on each host at once, with one
/// progress display whose layers are named by host. Without `[hosts]`, the
/// local engine, answered as `{image, id}`; with them, a list with `host`.
async fn pull_everywhere(app: &App, reference: &str, only: &[String], out: Output) -> Result<(), Failure> {
    let named = !app.config.hosts.is_empty();
    let hosts = acting_hosts(app, only)?;
    let shown = std::sync::Mutex::new((!out.json).then(PullDisplay::new));
    let pulls = hosts.iter().map(|host| {
        let shown = &shown;
        async move {
            let engine = DockerClient::for_host(&app.config, host).await?;
            let on_progress = |p: &pull::Progress| {
                let mut shown = shown.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(display) = shown.as_mut() {
                    match named {
                        true => display.show(&pull::Progress { layer: format!("{host} {}", p.layer).trim_end().to_string(), ..p.clone() }),
                        false => display.show(p),
                    }
                }
            };
            let id = pull::pull(&engine, reference, on_progress).await.map_err(|e| if named { e.context(format!("host {host}")) } else { e })?;
            anyhow::Ok(serde_json::json!({ "host": host, "image": reference, "id": id }))
        }
    });
    let pulled = futures_util::future::join_all(pulls).await;
    if let Some(display) = shown.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        display.finish();
    }
    let (pulled, failed): (Vec<_>, Vec<_>) = pulled.into_iter().partition(Result::is_ok);
    let pulled: Vec<serde_json::Value> = pulled.into_iter().flatten().collect();
    let text = || pulled.iter().map(|p| format!("pulled {reference} ({}){}", p["id"].as_str().unwrap_or_default(), if named { format!(" on host {}", p["host"].as_str().unwrap_or_default()) } else { String::new() })).collect::<Vec<_>>().join("\n");
    match (named, pulled.as_slice()) {
        (false, [one]) => out.print(&serde_json::json!({ "image": one["image"], "id": one["id"] }), text),
        _ => out.print(&pulled, text),
    }
    match failed.into_iter().filter_map(Result::err).map(|e| format!("{e:#}")).collect::<Vec<_>>() {
        failed if failed.is_empty() => Ok(()),
        failed => Err(Failure::failed(failed.join("; "))),
    }
}

/// `bosun images check [--hosts]`: per host, whether its images have newer digests.
async fn check(app: &App, only: &[String], out: Output) -> Result<(), Failure> {
    let hosts = app.config.hosts_in_use(only).map_err(Failure::bad_input)?;
    let checks = check::check_everywhere(&app.config, &hosts).await?;
    out.print(&checks, || check_text(&checks, !app.config.hosts.is_empty()));
    match checks.iter().filter(|c| c.status == check::Status::Error).count() {
        0 => Ok(()),
        n => Err(Failure::failed(format!("{n} image(s) could not be checked; see above"))),
    }
}

fn check_text(checks: &[check::ImageCheck], named: bool) -> String {
    if checks.is_empty() {
        return "no images in use: no service has a version or a running container".into();
    }
    checks
        .iter()
        .map(|c| {
            let status = match c.status {
                check::Status::UpToDate => "up to date",
                check::Status::UpdateAvailable => "update available",
                check::Status::NotInRegistry => "not in registry",
                check::Status::NotLocal => "not on this machine",
                check::Status::Error => "error",
            };
            let host = if named { format!("{:<12}  ", c.host) } else { String::new() };
            let mut line = format!("{host}{status:<17} {}  ({})", c.image, c.services.join(", "));
            if let Some(e) = &c.error {
                line.push_str(&format!("\n                  {e}"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Per-layer bars on a terminal; plain lines otherwise.
struct PullDisplay {
    bars: Option<MultiProgress>,
    layers: HashMap<String, ProgressBar>,
    plain: PlainPull,
}

/// The longest status the engine sends for a layer (`Verifying Checksum`).
const STATUS_WIDTH: usize = 18;

impl PullDisplay {
    fn new() -> PullDisplay {
        let tty = std::io::stderr().is_terminal();
        PullDisplay { bars: tty.then(MultiProgress::new), layers: HashMap::new(), plain: PlainPull::default() }
    }

    fn show(&mut self, p: &pull::Progress) {
        let Some(bars) = &self.bars else {
            if let Some(line) = self.plain.line(p) {
                eprintln!("{line}");
            }
            return;
        };
        if is_about_the_image(p) {
            let _ = bars.println(image_line(p));
            return;
        }
        let bar = self.layers.entry(p.layer.clone()).or_insert_with(|| {
            let bar = bars.add(ProgressBar::new(0));
            bar.set_style(ProgressStyle::with_template(&format!("{{prefix}} {{msg:<{STATUS_WIDTH}}}")).expect("valid template"));
            bar.set_prefix(p.layer.clone());
            bar
        });
        bar.set_message(p.status.clone());
        // Bytes only once there are some to count: no `0 B/0 B` for a layer already here.
        if let Some(total) = p.total {
            if bar.length() == Some(0) {
                let template = format!("{{prefix}} {{msg:<{STATUS_WIDTH}}} [{{bar:30}}] {{bytes}}/{{total_bytes}}");
                bar.set_style(ProgressStyle::with_template(&template).expect("valid template").progress_chars("=> "));
            }
            bar.set_length(total);
        }
        if let Some(current) = p.current {
            bar.set_position(current);
        }
    }

    fn finish(self) {
        for bar in self.layers.values() {
            bar.finish();
        }
    }
}

/// The repository line (`Pulling from …`, keyed by the tag) and the closing
/// `Digest:` and `Status:` lines are about the image, not a layer.
fn is_about_the_image(p: &pull::Progress) -> bool {
    p.layer.is_empty() || p.status.starts_with("Pulling from ")
}

fn image_line(p: &pull::Progress) -> String {
    if p.layer.is_empty() { p.status.clone() } else { format!("{}: {}", p.layer, p.status) }
}

/// A layer's progress as plain lines for logs: one when its status changes
/// and one at each quarter of a download or extraction, with byte counts.
#[derive(Default)]
struct PlainPull {
    /// Layer → (last status, last quarter shown, its size once known).
    layers: HashMap<String, (String, u64, Option<u64>)>,
}

impl PlainPull {
    fn line(&mut self, p: &pull::Progress) -> Option<String> {
        if is_about_the_image(p) {
            return Some(image_line(p));
        }
        let (status, quarter, size) = self.layers.entry(p.layer.clone()).or_insert_with(|| (String::new(), 0, None));
        *size = p.total.or(*size);
        let now_quarter = match (p.current, p.total) {
            (Some(current), Some(total)) => current.min(total) * 4 / total,
            _ => 0,
        };
        let changed = *status != p.status;
        if !changed && now_quarter <= *quarter {
            return None;
        }
        status.clone_from(&p.status);
        *quarter = now_quarter;
        let bytes = match (p.current, p.total, *size) {
            (Some(current), Some(total), _) => format!(" {}/{}", HumanBytes(current), HumanBytes(total)),
            (_, _, Some(size)) => format!(" ({})", HumanBytes(size)),
            _ => String::new(),
        };
        Some(format!("{}: {}{bytes}", p.layer, p.status))
    }
}

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// `bosun images update`: each host in turn, its own images (or
/// `reference`), each answer named by its host when bosun.toml has hosts.
async fn update_everywhere(app: &App, reference: Option<&str>, only: &[String], (yes, dry_run): (bool, bool), out: Output) -> Result<(), Failure> {
    let named = !app.config.hosts.is_empty();
    for host in acting_hosts(app, only)? {
        let engine = DockerClient::for_host(&app.config, &host).await?;
        let references = match reference {
            Some(reference) => vec![reference.to_string()],
            None => images::in_use_on(&app.config, &engine, &host).await?.into_iter().map(|u| u.image).collect(),
        };
        for reference in references {
            update_one(app, &engine, named.then_some(host.as_str()), &reference, yes, dry_run, out).await?;
        }
    }
    Ok(())
}

/// Updates `reference` on `engine`, the engine of `host` (`None`: no `[hosts]`, answered as before).
async fn update_one(app: &App, engine: &DockerClient, host: Option<&str>, reference: &str, yes: bool, dry_run: bool, out: Output) -> Result<(), Failure> {
    let interactive = std::io::stdin().is_terminal() && !out.json;
    if !yes && !dry_run && !interactive {
        return Err(Failure::bad_input(format!("images update {reference}: pass --yes to recreate containers without being asked (stdin is not a terminal)")));
    }
    let mut display = (!out.json).then(PullDisplay::new);
    let mut on_progress = |p: &pull::Progress| {
        if let Some(d) = display.as_mut() {
            d.show(p)
        }
    };
    let mut confirm = |reference: &str, affected: &[update::Affected]| {
        if yes {
            return true;
        }
        eprintln!("{reference} changed; these containers will be recreated from the new image:");
        for a in affected {
            eprintln!("  {} ({})", a.name, if a.running { "running" } else { "stopped" });
        }
        eprint!("recreate them? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
    };
    let host_name = host.unwrap_or(crate::config::hosts::LOCAL);
    let updated = update::update(app, engine, reference, UpdateOptions { host: host_name, dry_run, confirm: &mut confirm, on_progress: &mut on_progress }).await;
    if let Some(d) = display {
        d.finish();
    }
    let updated = updated.map_err(|f| match host {
        Some(host) => Failure { message: format!("host {host}: {}", f.message), code: f.code },
        None => f,
    })?;
    let mut answer = serde_json::to_value(&updated).unwrap_or_default();
    if let (Some(host), Some(fields)) = (host, answer.as_object_mut()) {
        fields.insert("host".into(), host.into());
    }
    let on = host.map_or(String::new(), |host| format!("host {host}: "));
    out.print(&answer, || on.clone() + &match &updated {
        Updated::Planned { image, affected, .. } => {
            let names: Vec<String> = affected.iter().map(|a| format!("{} ({})", a.name, if a.running { "running" } else { "stopped" })).collect();
            format!("dry run: {image} would be pulled; if it changed, recreated: {}", if names.is_empty() { "nothing".into() } else { names.join(", ") })
        }
        Updated::UpToDate { image, .. } => format!("{image} is up to date; nothing recreated"),
        Updated::Cancelled { image, .. } => format!("{image} pulled; nothing recreated (not confirmed)"),
        Updated::Done { image, old_image_id, new_image_id, containers } => {
            let names: Vec<&str> = containers.iter().map(|c| c.container.as_str()).collect();
            format!("{image}: {} -> {}; recreated {}", short(old_image_id), short(new_image_id), if names.is_empty() { "nothing".into() } else { names.join(", ") })
        }
    });
    Ok(())
}

/// `bosun images prune`: each host by its own releases, one after another.
/// With `[hosts]`, a plan per host (a list in `--json`); without, the one plan.
async fn prune_everywhere(app: &App, keep: usize, dry_run: bool, only: &[String], out: Output) -> Result<(), Failure> {
    let named = !app.config.hosts.is_empty();
    let on = |host: &str| if named { format!("host {host}: ") } else { String::new() };
    let (mut plans, mut failures) = (Vec::new(), Vec::new());
    for host in acting_hosts(app, only)? {
        let engine = DockerClient::for_host(&app.config, &host).await?;
        let plan = prune::plan(app, &engine, &host, keep).await.map_err(|e| Failure::failed(format!("{}{e:#}", on(&host))))?;
        if !dry_run {
            failures.extend(prune::apply(&engine, &plan).await.into_iter().map(|f| format!("{}{f}", on(&host))));
        }
        plans.push(plan);
    }
    match (named, plans.as_slice()) {
        (false, [plan]) => out.print(plan, || prune_text(plan, dry_run)),
        _ => out.print(&plans, || plans.iter().map(|plan| format!("host {}:\n{}", plan.host, prune_text(plan, dry_run))).collect::<Vec<_>>().join("\n")),
    }
    match failures.as_slice() {
        [] => Ok(()),
        _ => Err(Failure::failed(format!("{} image(s) could not be removed: {}", failures.len(), failures.join("; ")))),
    }
}

fn prune_text(plan: &prune::PrunePlan, dry_run: bool) -> String {
    let mut lines = Vec::new();
    let name = |i: &prune::PrunedImage| if i.tags.is_empty() { short(&i.id) } else { i.tags.join(", ") };
    for image in &plan.keep {
        lines.push(format!("keep    {}  ({})", name(image), image.kept_because.as_deref().unwrap_or_default()));
    }
    for image in &plan.remove {
        lines.push(format!("{}  {}", if dry_run { "would remove" } else { "removed" }, name(image)));
    }
    if lines.is_empty() {
        return "no images of the services' repositories".into();
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(layer: &str, status: &str, bytes: Option<(u64, u64)>) -> pull::Progress {
        pull::Progress { layer: layer.into(), status: status.into(), current: bytes.map(|b| b.0), total: bytes.map(|b| b.1) }
    }

    #[test]
    fn plain_pull_lines_carry_byte_counts_and_no_empty_ones() {
        // The engine's messages for one layer already here and one downloaded, in its order.
        let events = [
            progress("1.0", "Pulling from web", None),
            progress("aaa", "Already exists", None),
            progress("bbb", "Pulling fs layer", None),
            progress("bbb", "Downloading", Some((0, 2 << 20))),
            progress("bbb", "Downloading", Some((1 << 19, 2 << 20))),
            progress("bbb", "Downloading", Some((1 << 20, 2 << 20))),
            progress("bbb", "Downloading", Some((1 << 20 | 1, 2 << 20))),
            progress("bbb", "Download complete", None),
            progress("bbb", "Extracting", Some((2 << 20, 2 << 20))),
            progress("bbb", "Pull complete", None),
            progress("", "Digest: sha256:abc", None),
        ];
        let mut plain = PlainPull::default();
        let lines: Vec<String> = events.iter().filter_map(|e| plain.line(e)).collect();
        assert_eq!(
            lines,
            [
                "1.0: Pulling from web",
                "aaa: Already exists",
                "bbb: Pulling fs layer",
                "bbb: Downloading 0 B/2.00 MiB",
                "bbb: Downloading 512.00 KiB/2.00 MiB",
                "bbb: Downloading 1.00 MiB/2.00 MiB",
                "bbb: Download complete (2.00 MiB)",
                "bbb: Extracting 2.00 MiB/2.00 MiB",
                "bbb: Pull complete (2.00 MiB)",
                "Digest: sha256:abc",
            ]
        );
    }
}
