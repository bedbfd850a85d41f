//! `bosun lock status|acquire|release`: the per-service locks deploys take.

use clap::Subcommand;

use super::output::{Failure, Output};
use crate::app::App;
use crate::ops::deploy;

#[derive(Subcommand)]
pub enum LockCommand {
    /// Show who holds which lock.
    Status,
    /// Hold a service's lock until `bosun lock release` (e.g. during maintenance).
    Acquire {
        service: String,
        #[arg(short = 'm', long = "message", default_value = "")]
        message: String,
    },
    /// Release a service's lock, whoever holds it.
    Release { service: String },
}

pub async fn run(command: LockCommand, app: &App, out: Output) -> Result<(), Failure> {
    let state = app.state()?;
    let scope = |service: &str| format!("{service}@{}", app.config.project.env);
    match command {
        LockCommand::Status => {
            let locks = state.locks()?;
            out.print(&locks, || {
                if locks.is_empty() {
                    return "no locks held".into();
                }
                locks
                    .iter()
                    .map(|l| {
                        let orphaned = if l.is_orphaned() { " (its process is gone)" } else { "" };
                        format!("{}: {}@{} since {}{orphaned} {} {}", l.scope, l.holder, l.host, crate::time::rfc3339(l.acquired_at.max(0) as u64), l.version, l.message)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        LockCommand::Acquire { service, message } => {
            deploy::service(app, &service)?;
            // pid 0: held until released by hand, not tied to this process.
            state.acquire_lock(&scope(&service), 0, "", &message)?;
            out.print(&scope(&service), || format!("{} locked; `bosun lock release {service}` releases it", scope(&service)));
        }
        LockCommand::Release { service } => {
            let released = state.release_lock(&scope(&service))?;
            out.print(&released, || match &released {
                Some(l) => format!("released {} (held by {}@{})", l.scope, l.holder, l.host),
                None => format!("{} was not locked", scope(&service)),
            });
        }
    }
    Ok(())
}
