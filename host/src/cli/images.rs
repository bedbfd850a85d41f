//! `bosun images check|pull|required|update|prune|history`.

use std::collections::HashMap;
use std::io::IsTerminal;

use clap::Subcommand;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::output::{Failure, Output};
use crate::app::App;
use crate::ops::deploy::engine::Engine;
use crate::ops::images::{self, check, pull};

#[derive(Subcommand)]
pub enum ImagesCommand {
    /// Ask the registry whether the images in use have newer digests (nothing is pulled).
    Check,
    /// Pull an image, with progress per layer.
    Pull { reference: String },
    /// Check that every image the services need is on this machine.
    Required,
}

pub async fn run(command: ImagesCommand, app: &App, out: Output) -> Result<(), Failure> {
    let engine = Engine::open().await?;
    match command {
        ImagesCommand::Check => {
            let checks = check::check_all(&engine, images::in_use(app, &engine).await?).await;
            out.print(&checks, || check_text(&checks));
            match checks.iter().filter(|c| c.status == check::Status::Error).count() {
                0 => Ok(()),
                n => Err(Failure::failed(format!("{n} image(s) could not be checked; see above"))),
            }
        }
        ImagesCommand::Pull { reference } => {
            let id = if out.json {
                pull::pull(&engine, &reference, |_| {}).await?
            } else {
                let mut shown = PullDisplay::new();
                let id = pull::pull(&engine, &reference, |p| shown.show(p)).await;
                shown.finish();
                id?
            };
            out.print(&serde_json::json!({ "image": reference, "id": id }), || format!("pulled {reference} ({id})"));
            Ok(())
        }
        ImagesCommand::Required => {
            let required = images::required(app, &engine).await?;
            out.print(&required, || {
                if required.is_empty() {
                    return "no service names an image version yet".into();
                }
                required.iter().map(|r| format!("{}  {}  ({})", if r.present { "present" } else { "MISSING" }, r.image, r.services.join(", "))).collect::<Vec<_>>().join("\n")
            });
            let missing: Vec<&str> = required.iter().filter(|r| !r.present).map(|r| r.image.as_str()).collect();
            match missing.as_slice() {
                [] => Ok(()),
                _ => Err(Failure::failed(format!(
                    "{} image(s) missing; get them with: {}",
                    missing.len(),
                    missing.iter().map(|m| format!("`bosun images pull {m}`")).collect::<Vec<_>>().join(", ")
                ))),
            }
        }
    }
}

fn check_text(checks: &[check::ImageCheck]) -> String {
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
            let mut line = format!("{status:<17} {}  ({})", c.image, c.services.join(", "));
            if let Some(e) = &c.error {
                line.push_str(&format!("\n                  {e}"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Per-layer bars on a terminal; one line per layer status change otherwise.
struct PullDisplay {
    bars: Option<MultiProgress>,
    layers: HashMap<String, ProgressBar>,
    last_status: HashMap<String, String>,
}

impl PullDisplay {
    fn new() -> PullDisplay {
        let tty = std::io::stderr().is_terminal();
        PullDisplay { bars: tty.then(MultiProgress::new), layers: HashMap::new(), last_status: HashMap::new() }
    }

    fn show(&mut self, p: &pull::Progress) {
        let Some(bars) = &self.bars else {
            if self.last_status.get(&p.layer) != Some(&p.status) {
                let who = if p.layer.is_empty() { String::new() } else { format!("{}: ", p.layer) };
                eprintln!("{who}{}", p.status);
                self.last_status.insert(p.layer.clone(), p.status.clone());
            }
            return;
        };
        if p.layer.is_empty() {
            let _ = bars.println(&p.status);
            return;
        }
        let bar = self.layers.entry(p.layer.clone()).or_insert_with(|| {
            let bar = bars.add(ProgressBar::new(0));
            bar.set_style(ProgressStyle::with_template("{prefix} {msg:<12} [{bar:30}] {bytes}/{total_bytes}").expect("valid template").progress_chars("=> "));
            bar.set_prefix(p.layer.clone());
            bar
        });
        bar.set_message(p.status.clone());
        if let Some(total) = p.total {
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
