//! `bosun check`: run smoke checks from bosun.toml and report each condition.

use clap::Args;

use super::output::Output;
use crate::app::App;
use crate::failure::{FAILED, Failure};
use crate::ops::check;

#[derive(Args)]
pub struct CheckArgs {
    /// Checks to run (default: all in bosun.toml).
    names: Vec<String>,
    /// Record what host calls would change instead of making them.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(args: CheckArgs, app: &App, out: Output) -> Result<(), Failure> {
    let checks = &app.config.checks;
    if checks.is_empty() {
        return Err(Failure::bad_input("no checks in bosun.toml: add a [checks.<name>] table, e.g. plugin = \"http\" and url = \"http://127.0.0.1:8080/\""));
    }
    for name in &args.names {
        if !checks.contains_key(name) {
            let known: Vec<_> = checks.keys().cloned().collect();
            return Err(Failure::bad_input(format!("no check called {name}; bosun.toml has: {}", known.join(", "))));
        }
    }
    let selected: Vec<&str> = checks.keys().filter(|name| args.names.is_empty() || args.names.contains(name)).map(String::as_str).collect();
    let reports = check::run_suite(app, &selected, args.dry_run).await;
    let all_passed = reports.iter().all(|r| r.passed);
    out.print(&reports, || reports.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    if all_passed { Ok(()) } else { Err(Failure::silent(FAILED)) }
}
