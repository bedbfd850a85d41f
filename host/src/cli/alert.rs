//! `bosun alert list | silence | unsilence`: the alerts that fire now, and
//! the silences that hold their telling back (Alertmanager's silences).

use clap::{Args, Subcommand};
use serde::Serialize;

use super::output::{Failure, Output};
use crate::app::App;
use crate::ops::alerts;
use crate::state::{FiringAlert, Silence, now_unix};

#[derive(Subcommand)]
pub enum AlertCommand {
    /// The alerts that fire now, and the silences in force.
    List,
    /// Tell nobody about a rule's alerts (or one target's) for a while; they still fire and resolve.
    Silence(SilenceArgs),
    /// End a silence now.
    Unsilence {
        /// The silence's id, as `bosun alert list` shows it.
        id: i64,
    },
}

#[derive(Args)]
pub struct SilenceArgs {
    /// The `[alerts.<rule>]` to silence (`engine-unreachable` for the built-in one).
    rule: String,
    /// Only this target of the rule.
    #[arg(long)]
    target: Option<String>,
    /// For how long (`30m`, `2h`, `1d`).
    #[arg(long = "for", value_name = "DURATION")]
    duration: String,
    /// Why: shown by `bosun alert list`.
    #[arg(short = 'm', long = "message")]
    message: String,
}

#[derive(Serialize)]
struct Listing {
    firing: Vec<FiringAlert>,
    silences: Vec<Silence>,
}

pub async fn run(command: AlertCommand, app: &App, out: Output) -> Result<(), Failure> {
    let state = app.state()?;
    let now = now_unix();
    match command {
        AlertCommand::List => {
            let listing = Listing { firing: state.firing_alerts()?, silences: state.silences(now)? };
            out.print(&listing, || listing_text(&listing, now));
            Ok(())
        }
        AlertCommand::Silence(args) => {
            let silence = alerts::silence(app, &args.rule, args.target.as_deref(), &args.duration, &args.message, &crate::state::who())?;
            out.print(&silence, || format!("silence {}: {} until {}", silence.id, covered(&silence), crate::time::rfc3339(silence.until as u64)));
            Ok(())
        }
        AlertCommand::Unsilence { id } => {
            alerts::unsilence(app, id)?;
            out.print(&serde_json::json!({ "expired": id }), || format!("silence {id} ended"));
            Ok(())
        }
    }
}

fn covered(s: &Silence) -> String {
    match &s.target {
        Some(target) => format!("{} for {target}", s.rule),
        None => s.rule.clone(),
    }
}

fn listing_text(listing: &Listing, now: i64) -> String {
    let ago = |at: i64| crate::time::elapsed(std::time::Duration::from_secs((now - at).max(0) as u64));
    let mut lines = Vec::new();
    if listing.firing.is_empty() {
        lines.push("no alert fires".to_string());
    }
    for a in &listing.firing {
        let told = match a.notified_at {
            Some(at) => format!("told {} ago", ago(at)),
            None => "silenced".to_string(),
        };
        lines.push(format!("{:<8} {} {} on {}: {} (since {} ago; {told})", a.severity, a.rule, a.target, a.host, a.summary, ago(a.since)));
    }
    for s in &listing.silences {
        lines.push(format!("silence {}: {} until {}, by {}: {}", s.id, covered(s), crate::time::rfc3339(s.until as u64), s.by, s.why));
    }
    lines.join("\n")
}
