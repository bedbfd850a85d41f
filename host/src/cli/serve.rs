//! `bosun serve` and `bosun schedule list`.

use clap::Subcommand;

use super::output::{Failure, Output};
use crate::app::App;
use crate::serve::scheduler;
use crate::state::now_unix;

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Each scheduled pipeline: its schedule, time zone, when it was last due and when it is next.
    List,
}

pub async fn serve(app: &App) -> Result<(), Failure> {
    scheduler::run(app).await
}

pub async fn schedule(command: ScheduleCommand, app: &App, out: Output) -> Result<(), Failure> {
    let ScheduleCommand::List = command;
    let state = app.state()?;
    let now = now_unix();
    let mut rows = Vec::new();
    for s in scheduler::scheduled(app) {
        let pipeline = &app.config.pipelines[s.pipeline];
        let last_due = state.schedule_mark(s.pipeline)?;
        rows.push(serde_json::json!({
            "pipeline": s.pipeline,
            "schedule": pipeline.schedule,
            "timezone": s.schedule.zone.name(),
            "catch_up": pipeline.catch_up,
            "last_due": last_due.map(|t| crate::time::rfc3339(t.max(0) as u64)),
            "next": scheduler::next_text(&s.schedule, now),
        }));
    }
    out.print(&rows, || {
        if rows.is_empty() {
            return "no pipeline has a schedule; add schedule = \"0 3 * * *\" to a [pipelines.<name>] table".into();
        }
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
        rows.iter().map(|r| format!("{:<20}  {:<16}  next {}  last due {}", text(&r["pipeline"]), text(&r["schedule"]), text(&r["next"]), text(&r["last_due"]))).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}
