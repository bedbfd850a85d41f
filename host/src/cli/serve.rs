//! `bosun serve`, `bosun schedule list`, `bosun token create|list|revoke` and `bosun audit`.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::output::{Failure, Output};
use crate::app::App;
use crate::serve::scheduler;
use crate::state::{Role, now_unix};

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Each scheduled pipeline: its schedule, time zone, when it was last due and when it is next.
    List,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to answer the HTTP API on (default: serve.listen in
    /// bosun.toml, else 127.0.0.1:7070).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// On Ctrl-C or SIGTERM, how long the runs under way get to end before
    /// they are cancelled (30s, 5m).
    #[arg(long, default_value = "30s")]
    grace: String,
}

pub async fn serve(args: ServeArgs, app: App) -> Result<(), Failure> {
    let grace = crate::config::parse_duration(&args.grace).map_err(|e| Failure::bad_input(format!("--grace: {e}")))?;
    crate::serve::run(Arc::new(app), args.listen, grace).await
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a token for the HTTP API and print it (once: only its hash is kept).
    Create {
        name: String,
        /// viewer (reads), operator (runs, deploys, backs up, approves) or admin (tokens, plugins, locks).
        #[arg(long)]
        role: String,
        /// How long it lives: 90d, 12h (default: until revoked).
        #[arg(long)]
        expires: Option<String>,
    },
    /// The tokens: name, role, who made it, when it expires and was last used.
    List,
    /// Revoke a token at once.
    Revoke { name: String },
}

pub async fn token(command: TokenCommand, app: &App, out: Output) -> Result<(), Failure> {
    let state = app.state()?;
    match command {
        TokenCommand::Create { name, role, expires } => {
            let role = Role::parse(&role).ok_or_else(|| Failure::bad_input(format!("{role:?} is not a role; use viewer, operator or admin")))?;
            let expires_at = expires.as_deref().map(|text| lifetime("--expires", text)).transpose()?.map(|secs| now_unix() + secs);
            let token = state.create_token(&name, role, expires_at)?.ok_or_else(|| Failure::bad_input(format!("a token called {name} exists; revoke it or pick another name")))?;
            let value = serde_json::json!({ "name": name, "role": role, "token": token, "expires_at": expires_at });
            out.print(&value, || format!("{token}\ntoken {name} ({}): shown this once, only its hash is kept; send it as Authorization: Bearer …", role.as_str()));
        }
        TokenCommand::List => {
            let tokens = state.tokens()?;
            out.print(&tokens, || {
                let when = |t: Option<i64>| t.map_or("-".to_string(), |t| crate::time::rfc3339(t.max(0) as u64));
                let lines: Vec<String> = tokens
                    .iter()
                    .map(|t| format!("{:<16}  {:<8}  by {:<10}  expires {}  last used {}{}", t.name, t.role.as_str(), t.created_by, when(t.expires_at), when(t.last_used_at), if t.revoked_at.is_some() { "  REVOKED" } else { "" }))
                    .collect();
                if lines.is_empty() { "no tokens; `bosun token create NAME --role viewer` makes one".into() } else { lines.join("\n") }
            });
        }
        TokenCommand::Revoke { name } => {
            if !state.revoke_token(&name)? {
                return Err(Failure::bad_input(format!("no live token called {name}; `bosun token list` shows them")));
            }
            out.print(&serde_json::json!({ "revoked": name }), || format!("token {name} revoked"));
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct AuditArgs {
    /// How far back: 7d, 12h, 30m (default 7d).
    #[arg(long, default_value = "7d")]
    since: String,
}

pub async fn audit(args: AuditArgs, app: &App, out: Output) -> Result<(), Failure> {
    let entries = app.state()?.audit(now_unix() - lifetime("--since", &args.since)?)?;
    out.print(&entries, || {
        if entries.is_empty() {
            return format!("nothing changed in the last {}", args.since);
        }
        let line = |e: &crate::state::AuditEntry| {
            let run = e.run_id.map(|r| format!(" run {r}")).unwrap_or_default();
            format!("{}  {:<3}  {:<14}  {:<16}  {}  -> {}{run}", crate::time::rfc3339(e.at.max(0) as u64), e.via, e.who, e.source, e.action, e.outcome)
        };
        entries.iter().map(line).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}

/// A span given on the command line (`90d`, `12h`), in seconds.
fn lifetime(flag: &str, text: &str) -> Result<i64, Failure> {
    let span = crate::config::parse_duration(text).map_err(|e| Failure::bad_input(format!("{flag}: {e}")))?;
    Ok(span.as_secs() as i64)
}

pub async fn schedule(command: ScheduleCommand, app: &App, out: Output) -> Result<(), Failure> {
    let ScheduleCommand::List = command;
    let rows = scheduler::rows(app)?;
    out.print(&rows, || {
        if rows.is_empty() {
            return "no pipeline has a schedule; add schedule = \"0 3 * * *\" to a [pipelines.<name>] table".into();
        }
        rows.iter().map(|r| format!("{:<20}  {:<16}  next {}  last due {}", r.pipeline, r.schedule.as_deref().unwrap_or("-"), r.next, r.last_due.as_deref().unwrap_or("-"))).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}
