//! The `bosun` command line. Exit codes scripts can rely on:
//! 0 success; 1 the operation ran and failed (a check failed, a plugin
//! failed); 2 bad input (usage, bosun.toml, an unusable plugin file, a denied
//! capability); 11 busy (another bosun holds the lock, retry later); 75 skipped.

mod alert;
mod backup;
mod check;
mod doctor;
mod images;
mod output;
mod lock;
mod notify;
mod pipeline;
mod plugin;
mod process;
mod release;
mod runs;
mod scaffold;
mod serve;
mod status;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use crate::app::{App, builtin_bytes};
pub use output::Failure;

#[derive(Parser)]
#[command(name = "bosun", version, about = "Backups, deploys, smoke checks and notifications for Docker services, extended by sandboxed wasm plugins")]
pub struct Cli {
    /// bosun.toml to use (default: ./bosun.toml, or embedded defaults when absent).
    #[arg(long, global = true, env = "BOSUN_CONFIG")]
    config: Option<PathBuf>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create, build, install and inspect plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Take backups.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Deploy a version of a service: new container, health wait, old one kept for rollback.
    Deploy(release::DeployArgs),
    /// Go back to the previous successful release (or --to VERSION).
    Rollback(release::RollbackArgs),
    /// List recorded releases.
    Releases(release::ReleasesArgs),
    /// Check, pull and update the images services use.
    #[command(subcommand)]
    Images(images::ImagesCommand),
    /// Show, take and release the per-service locks deploys hold.
    #[command(subcommand)]
    Lock(lock::LockCommand),
    /// Send notifications: `notify test <channel>`.
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    /// Run a pipeline from bosun.toml: its steps in the order their needs give.
    Run(pipeline::RunArgs),
    /// Answer the HTTP API, the web dashboard, /metrics and signed webhooks, and run what is scheduled, until Ctrl-C or SIGTERM.
    Serve(serve::ServeArgs),
    /// Make, list and revoke the HTTP API's tokens.
    #[command(subcommand)]
    Token(serve::TokenCommand),
    /// Show the pipelines' schedules: `schedule list`.
    #[command(subcommand)]
    Schedule(serve::ScheduleCommand),
    /// Let a run waiting at an `approve` step go on.
    Approve(pipeline::DecideArgs),
    /// Stop a run waiting at an `approve` step (its `on_failure` steps run).
    Reject(pipeline::DecideArgs),
    /// List pipelines, or show one's steps (`--dot` for Graphviz).
    #[command(subcommand)]
    Pipeline(pipeline::PipelineCommand),
    /// Run smoke checks from bosun.toml (all, or the named ones).
    Check(check::CheckArgs),
    /// List recent runs, or show one with its log (`bosun runs 42`).
    Runs(runs::RunsArgs),
    /// Check bosun.toml, plugin grants, the Docker engine and the wasm toolchain.
    Doctor,
    /// Who changed what, through the CLI or the HTTP API.
    Audit(serve::AuditArgs),
    /// Each service's release, container and checks and each backup set's age,
    /// red, amber or green, with why (exit 1 when anything is red).
    Status(status::StatusArgs),
    /// Sample the containers and processes [watch] picks, every interval (as
    /// `bosun serve` does), or once with --once.
    Watch(watch::WatchArgs),
    /// A watched target's CPU and memory over a span: min, average, max and a sparkline.
    Stats(watch::StatsArgs),
    /// The alerts that fire, and silences.
    #[command(subcommand)]
    Alert(alert::AlertCommand),
    /// Start a process service (kind = "process") detached: it outlives the shell and bosun.
    Start(process::ProcessArgs),
    /// Stop a process service: SIGTERM, then SIGKILL after its stop_timeout.
    Stop(process::ProcessArgs),
    /// Stop a process service, then start it.
    Restart(process::ProcessArgs),
    /// What `bosun start` runs beside a process service: stdin appended to FILE, reopened when rotated.
    #[command(hide = true)]
    KeepLog { file: PathBuf },
}

pub fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BOSUN_LOG").unwrap_or_else(|_| "warn".into());
    crate::secrets::mask_panics();
    let stderr = crate::secrets::MaskingWriter(std::io::stderr);
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(stderr).with_target(false).with_ansi(colour_on_stderr()).init();
    let cli = Cli::parse();
    let config = cli.config.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(run(cli));
    let words: Vec<String> = std::env::args().collect();
    // A command refused as bad input changed nothing (and may have found no state store to write to).
    let refused = matches!(&result, Err(f) if f.code == crate::failure::BAD_INPUT);
    if let Some(action) = audited(&words).filter(|_| !refused) {
        record_audit(config, action, &result);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// The command's words when it changes something (and is not a dry run):
/// what the audit log records for it.
fn audited(words: &[String]) -> Option<String> {
    let mut rest = words.iter().skip(1).map(String::as_str).peekable();
    let mut command = Vec::new();
    while let Some(word) = rest.next() {
        match word {
            "--json" => {}
            "--config" => {
                rest.next();
            }
            w if w.starts_with("--config=") => {}
            w => command.push(w),
        }
    }
    if command.contains(&"--dry-run") {
        return None;
    }
    let mutating = matches!(
        (command.first().copied()?, command.get(1).copied().unwrap_or_default()),
        ("deploy" | "rollback" | "run" | "approve" | "reject", _)
            | ("backup", "run" | "restore" | "prune")
            | ("images", "pull" | "update" | "prune")
            | ("lock", "acquire" | "release")
            | ("alert", "silence" | "unsilence")
            | ("start" | "stop" | "restart", _)
            | ("plugin", "install" | "remove")
            | ("token", "create" | "revoke")
            | ("notify", "test")
    );
    mutating.then(|| command.join(" "))
}

/// Writes the audit entry of a CLI command that ended with `result` (not
/// when bosun.toml cannot be read: there is no state store to write to).
fn record_audit(config: Option<PathBuf>, action: String, result: &Result<(), Failure>) {
    let Ok(app) = App::load(config) else { return };
    let outcome = match result {
        Ok(()) => "ok".to_string(),
        Err(f) => f.message.lines().next().filter(|l| !l.is_empty()).map_or_else(|| format!("exit {}", f.code), str::to_string),
    };
    let entry = crate::state::AuditEntry::now(crate::state::who(), "cli", action, crate::state::hostname(), outcome, None);
    if let Err(e) = app.state().map_err(Failure::from).and_then(|state| Ok(state.record_audit(&entry)?)) {
        tracing::warn!("recording the audit log: {}", e.message);
    }
}

/// Colour only for a person at a terminal: never into a log file or a pipe,
/// and never when `NO_COLOR` is set (https://no-color.org).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let out = output::Output { json: cli.json };
    match cli.command {
        Command::Plugin(command) => plugin::run(command, cli.config, out).await,
        Command::Backup(command) => backup::run(command, &load(cli.config)?, out).await,
        Command::Deploy(args) => release::deploy(args, &load(cli.config)?, out).await,
        Command::Rollback(args) => release::rollback(args, &load(cli.config)?, out).await,
        Command::Releases(args) => release::releases(args, &load(cli.config)?, out).await,
        Command::Images(command) => images::run(command, &load(cli.config)?, out).await,
        Command::Lock(command) => lock::run(command, &load(cli.config)?, out).await,
        Command::Notify(command) => notify::run(command, &load(cli.config)?, out).await,
        Command::Run(args) => pipeline::run(args, &load(cli.config)?, out).await,
        Command::Serve(args) => serve::serve(args, load(cli.config)?).await,
        Command::Token(command) => serve::token(command, &load(cli.config)?, out).await,
        Command::Schedule(command) => serve::schedule(command, &load(cli.config)?, out).await,
        Command::Approve(args) => pipeline::decide(args, true, &load(cli.config)?, out).await,
        Command::Reject(args) => pipeline::decide(args, false, &load(cli.config)?, out).await,
        Command::Pipeline(command) => pipeline::command(command, &load(cli.config)?, out).await,
        Command::Check(args) => check::run(args, &load(cli.config)?, out).await,
        Command::Runs(args) => runs::run(args, &load(cli.config)?, out).await,
        Command::Doctor => doctor::run(cli.config, out).await,
        Command::Audit(args) => serve::audit(args, &load(cli.config)?, out).await,
        Command::Status(args) => status::run(args, &load(cli.config)?, out).await,
        Command::Watch(args) => watch::watch(args, &load(cli.config)?, out).await,
        Command::Stats(args) => watch::stats(args, &load(cli.config)?, out),
        Command::Alert(command) => alert::run(command, &load(cli.config)?, out).await,
        Command::Start(args) => process::start(args, &load(cli.config)?, out),
        Command::Stop(args) => process::stop(args, &load(cli.config)?, out),
        Command::Restart(args) => process::restart(args, &load(cli.config)?, out),
        Command::KeepLog { file } => crate::ops::processes::keep_log(&file).map_err(|e| Failure::failed(format!("{}: {e}", file.display()))),
    }
}

/// bosun.toml with every plugin table checked against its plugin's config
/// schema. (`bosun plugin` commands load it unchecked: installing the
/// version of a plugin that takes a new key must not need the key gone.)
fn load(config: Option<PathBuf>) -> Result<App, Failure> {
    let app = App::load(config)?;
    crate::ops::plugin_config::check(&app)?;
    Ok(app)
}
