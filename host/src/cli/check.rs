//! `bosun check`: run smoke checks from bosun.toml and report each condition.

use clap::Args;

use super::output::Output;
use crate::app::App;
use crate::failure::{FAILED, Failure};
use crate::ops::check;

#[derive(Args)]
pub struct CheckArgs {
    /// Checks or `[suites]` to run (default: every check in bosun.toml).
    names: Vec<String>,
    /// How many checks run at once.
    #[arg(long, default_value_t = check::DEFAULT_JOBS)]
    jobs: usize,
    /// Print a Markdown report (a table, then each failure's conditions and suggestion).
    #[arg(long, conflicts_with = "dry_run")]
    markdown: bool,
    /// Record what host calls would change instead of making them.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(args: CheckArgs, app: &App, out: Output) -> Result<(), Failure> {
    let checks = &app.config.checks;
    if checks.is_empty() {
        return Err(Failure::bad_input("no checks in bosun.toml: add a [checks.<name>] table, e.g. plugin = \"http\" and url = \"http://127.0.0.1:8080/\""));
    }
    let selected = check::select(app, &args.names).map_err(Failure::bad_input)?;
    check::validate(app, &selected).await.map_err(Failure::bad_input_each)?;
    let reports = check::run_suite(app, &selected, args.jobs, args.dry_run).await;
    let all_passed = !reports.iter().any(check::CheckReport::failed_check);
    out.print(&reports, || if args.markdown { check::markdown(&reports) } else { reports.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n") });
    if all_passed { Ok(()) } else { Err(Failure::silent(FAILED)) }
}
