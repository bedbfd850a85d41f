//! `bosun start | stop | restart <service>`: process services, run detached.

use clap::Args;

use super::output::{Failure, Output};
use crate::app::App;
use crate::ops::processes::{self, Now, StopOutcome};

#[derive(Args)]
pub struct ProcessArgs {
    /// A `[services.<name>]` with kind = "process".
    service: String,
}

pub fn start(args: ProcessArgs, app: &App, out: Output) -> Result<(), Failure> {
    let (now, started) = processes::start(app, &args.service)?;
    let log = processes::files(&app.config, &args.service).log;
    out.print(&now, || match (&now, started) {
        (Now::Running { pid, unit: Some(unit), .. }, true) => format!("{} started as systemd unit {unit} (pid {pid}); its output goes to {}", args.service, log.display()),
        (Now::Running { pid, unit: None, .. }, true) => format!("{} started (pid {pid}); its output goes to {}", args.service, log.display()),
        (Now::Running { pid, uptime_secs, .. }, false) => format!("{} runs already (pid {pid}, up {})", args.service, crate::time::elapsed(std::time::Duration::from_secs(*uptime_secs))),
        _ => format!("{}: {now:?}", args.service),
    });
    Ok(())
}

pub fn stop(args: ProcessArgs, app: &App, out: Output) -> Result<(), Failure> {
    let outcome = processes::stop(app, &args.service)?;
    let name = &args.service;
    out.print(&outcome, || match &outcome {
        StopOutcome::NotRunning => format!("{name} was not running"),
        StopOutcome::Stale { pid, now_runs } => format!("{name} was not running: its pidfile named pid {pid}, which is now `{now_runs}`, another program, so nothing was signalled; the stale pidfile is removed"),
        StopOutcome::Terminated { pid, after_ms } => format!("{name} (pid {pid}) stopped on SIGTERM in {}", crate::time::elapsed(std::time::Duration::from_millis(*after_ms))),
        StopOutcome::Killed { pid, after_ms } => format!("{name} (pid {pid}) outlived its stop_timeout and was killed (SIGKILL) after {}", crate::time::elapsed(std::time::Duration::from_millis(*after_ms))),
    });
    Ok(())
}

pub fn restart(args: ProcessArgs, app: &App, out: Output) -> Result<(), Failure> {
    processes::stop(app, &args.service)?;
    start(args, app, out)
}
