//! `bosun notify test <channel>`: send a test message, print each chat's answer.

use clap::Subcommand;

use super::output::{Failure, Output};
use crate::app::App;
use crate::ops::notify::{self, Notice, Severity};

#[derive(Subcommand)]
pub enum NotifyCommand {
    /// Send a test message to a channel from bosun.toml and print what the service answered, per chat.
    Test { channel: String },
}

pub async fn run(command: NotifyCommand, app: &App, out: Output) -> Result<(), Failure> {
    let NotifyCommand::Test { channel: name } = command;
    let channel = app.config.notify.get(&name).ok_or_else(|| {
        let known: Vec<&str> = app.config.notify.keys().map(String::as_str).collect();
        let known = if known.is_empty() { "none; add a [notify.<name>] table with a url".to_string() } else { known.join(", ") };
        Failure::bad_input(format!("no channel called {name}; bosun.toml has: {known}"))
    })?;
    let project = &app.config.project;
    let notice = Notice::new("test.message", Severity::Info, format!("bosun test message for {}", project.name), format!("Channel {name} of {} ({}) works.", project.name, project.env))
        .fact("project", &project.name)
        .fact("env", &project.env)
        .fact("channel", &name);
    let deliveries = notify::deliver(app, &name, channel, &notice).await;
    out.print(&deliveries, || deliveries.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    if deliveries.iter().all(|d| d.ok) { Ok(()) } else { Err(Failure::silent(crate::failure::FAILED)) }
}
