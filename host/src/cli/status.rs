//! `bosun status`: the overview an on-call person looks at first, as the
//! dashboard and `GET /api/v1/status` show it. Exit 1 when anything is red.

use clap::Args;

use super::output::{Failure, Output};
use crate::app::App;
use crate::ops::status::{self, Light};
use crate::state::Sample;

#[derive(Args)]
pub struct StatusArgs {
    /// Only these services (containers or processes); backup sets are left out.
    services: Vec<String>,
    /// Only these hosts (`web1,web2`).
    #[arg(long, value_delimiter = ',')]
    hosts: Vec<String>,
    /// Show it again every 2 seconds until Ctrl-C (in place on a terminal).
    #[arg(long)]
    watch: bool,
}

pub async fn run(args: StatusArgs, app: &App, out: Output) -> Result<(), Failure> {
    if !args.watch {
        return show(&args, app, out).await;
    }
    let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stdout()) && !out.json;
    loop {
        if on_terminal {
            // Clear the screen and go home, as watch(1) does.
            print!("\x1b[2J\x1b[H");
        }
        // Red is shown and watched on; anything else (bad input, no store) ends it.
        match show(&args, app, out).await {
            Err(failure) if failure.code != crate::failure::FAILED => return Err(failure),
            _ => {}
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// The overview once; failed (exit 1) when anything is red.
async fn show(args: &StatusArgs, app: &App, out: Output) -> Result<(), Failure> {
    let mut overview = status::overview(app, &args.hosts).await?;
    if !args.services.is_empty() {
        narrow(&mut overview, &args.services, app)?;
    }
    let word = |light: Light| format!("{light:?}").to_lowercase();
    let named = !app.config.hosts.is_empty();
    out.print(&overview, || {
        let mut lines = vec![format!("{}: all in all", word(overview.light))];
        for s in &overview.services {
            let release = s.current.as_ref().map_or("never deployed".to_string(), |r| format!("{} (release {})", r.version, r.id));
            let container = s.container.as_ref().map_or(String::new(), |c| format!(", {}{}", c.state, c.health.as_deref().map(|h| format!(" ({h})")).unwrap_or_default()));
            let on = if named { format!(" on {}", s.host) } else { String::new() };
            lines.push(format!("{:<6} service {}{on}: {release}{container}{}", word(s.light), s.name, measured(s.sample.as_ref())));
            lines.extend(s.why.iter().map(|why| format!("         {why}")));
        }
        for p in &overview.processes {
            let state = p.sample.as_ref().map_or("not sampled yet", |s| s.state.as_str());
            lines.push(format!("{:<6} process {}: {state}{}", word(p.light), p.name, measured(p.sample.as_ref())));
            lines.extend(p.why.iter().map(|why| format!("         {why}")));
        }
        for b in &overview.backups {
            let last = b.age_secs.map_or("no backup yet".to_string(), |age| format!("last backup {} ago", crate::time::elapsed(std::time::Duration::from_secs(age.max(0) as u64))));
            lines.push(format!("{:<6} backups {}: {last}", word(b.light), b.name));
            lines.extend(b.why.iter().filter(|why| !why.starts_with("no backup")).map(|why| format!("         {why}")));
        }
        lines.join("\n")
    });
    match overview.light {
        Light::Red => Err(Failure::failed("something is red; see above")),
        _ => Ok(()),
    }
}

/// Keeps only the rows of `names` (each a service, a process service or a
/// watched process), judged again without the rest.
fn narrow(overview: &mut status::Overview, names: &[String], app: &App) -> Result<(), Failure> {
    let known = |n: &String| app.config.services.contains_key(n) || app.config.processes.contains_key(n) || app.config.watch.processes.contains_key(n);
    if let Some(unknown) = names.iter().find(|n| !known(n)) {
        let all: Vec<&String> = app.config.services.keys().chain(app.config.processes.keys()).chain(app.config.watch.processes.keys()).collect();
        return Err(Failure::bad_input(format!("no service or watched process called {unknown}; there are: {}", all.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "))));
    }
    overview.services.retain(|s| names.contains(&s.name));
    overview.processes.retain(|p| names.contains(&p.name));
    overview.backups.clear();
    overview.light = overview.services.iter().map(|s| s.light).chain(overview.processes.iter().map(|p| p.light)).max().unwrap_or(Light::Green);
    Ok(())
}

/// `, cpu 0.4%, memory 12.0 MiB, 0 restarts, up 3h02m` from the newest sample.
fn measured(sample: Option<&Sample>) -> String {
    let Some(s) = sample else { return String::new() };
    let mut parts = Vec::new();
    if let Some(cpu) = s.cpu_percent {
        parts.push(format!("cpu {cpu:.1}%"));
    }
    if let Some(memory) = s.memory_bytes {
        parts.push(format!("memory {}", indicatif::HumanBytes(memory.max(0) as u64)));
    }
    if let Some(restarts) = s.restarts {
        parts.push(format!("{restarts} restarts"));
    }
    if let Some(up) = s.uptime_secs {
        parts.push(format!("up {}", crate::time::elapsed(std::time::Duration::from_secs(up.max(0) as u64))));
    }
    parts.iter().map(|p| format!(", {p}")).collect()
}
