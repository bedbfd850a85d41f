//! `bosun backup run <set>`: one backup set into its own directory, made
//! visible (renamed from a `.partial-` name) only once complete.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde::Serialize;

use super::app::App;
use super::output::{Failure, Output};
use crate::plugin::bindings::backup_types::{BackupKind, BackupRequest};
use crate::plugin::bindings::types::Artifact;

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Take a backup of a set from bosun.toml.
    Run {
        set: String,
        /// Show what would be written without writing it.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Serialize)]
struct ManifestArtifact {
    path: String,
    size: u64,
    sha256: String,
}

/// `replication_manifest.json`: enough to restore with only the directory and bosun.
#[derive(Serialize)]
struct BackupManifest<'a> {
    format: u32,
    project: &'a str,
    set: &'a str,
    strategy: &'a str,
    strategy_version: &'a str,
    kind: &'static str,
    created_at: String,
    bosun_version: &'static str,
    artifacts: Vec<ManifestArtifact>,
    facts: std::collections::BTreeMap<String, String>,
}

pub async fn run(command: BackupCommand, app: &App, out: Output) -> Result<(), Failure> {
    let BackupCommand::Run { set, dry_run } = command;
    let Some(config) = app.config.backups.get(&set) else {
        let known: Vec<_> = app.config.backups.keys().cloned().collect();
        return Err(Failure::bad_input(format!("no backup set called {set}; bosun.toml has: {}", if known.is_empty() { "none".into() } else { known.join(", ") })));
    };
    let plugin = app.plugin(&config.strategy)?;
    let dest_root = std::path::absolute(app.config.resolve(&config.dest))
        .map_err(|e| Failure::bad_input(format!("backups.{set}.dest: {e}")))?;
    if !dry_run {
        std::fs::create_dir_all(&dest_root).map_err(|e| Failure::failed(format!("{}: cannot create the backup destination: {e}", dest_root.display())))?;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let created_at = crate::time::rfc3339(now);
    let id = format!("{set}-{}", created_at.replace([':', '-'], ""));
    let partial = dest_root.join(format!(".partial-{id}"));
    // A dry run hands the plugin the path it would write to and creates nothing.
    if !dry_run {
        std::fs::create_dir_all(&partial).map_err(|e| Failure::failed(format!("{}: cannot create: {e}", partial.display())))?;
    }
    let setup = app.setup(&plugin, &config.settings, dry_run)?;
    let request = BackupRequest { set: set.clone(), kind: BackupKind::Full, dest_dir: partial.display().to_string(), base_dir: None };
    let result = app.runtime()?.backup(&plugin, setup, request).await;
    let called = match result {
        Ok(called) if !dry_run => called,
        other => {
            if !dry_run {
                let _ = std::fs::remove_dir_all(&partial);
            }
            let called = other?;
            let planned: Vec<String> = called.planned.iter().map(|p| format!("{} {}", p.call, p.detail)).collect();
            out.print(&called.planned, || format!("dry run of backup {set}; would run:\n{}", planned.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")));
            return Ok(());
        }
    };
    let manifest = BackupManifest {
        format: 1,
        project: &app.config.project.name,
        set: &set,
        strategy: &plugin.manifest.name,
        strategy_version: &plugin.manifest.version,
        kind: "full",
        created_at,
        bosun_version: env!("CARGO_PKG_VERSION"),
        artifacts: called.value.artifacts.iter().map(|a| relative_artifact(a, &partial)).collect(),
        facts: called.value.facts.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect(),
    };
    let finish = || -> std::io::Result<PathBuf> {
        let mut file = crate::capability::artifact::AtomicFile::create(&partial.join("replication_manifest.json"))?;
        serde_json::to_writer_pretty(&mut file, &manifest)?;
        file.finish()?;
        let final_dir = dest_root.join(&id);
        std::fs::rename(&partial, &final_dir)?;
        std::fs::File::open(&dest_root)?.sync_all()?;
        Ok(final_dir)
    };
    let final_dir = finish().map_err(|e| {
        let _ = std::fs::remove_dir_all(&partial);
        Failure::failed(format!("finishing backup {set} in {}: {e}", dest_root.display()))
    })?;
    let bytes: u64 = manifest.artifacts.iter().map(|a| a.size).sum();
    out.print(&serde_json::json!({ "id": id, "dir": final_dir, "manifest": manifest }), || {
        format!("backup {id}: {} artifacts, {bytes} bytes in {:.1}s -> {}", manifest.artifacts.len(), called.elapsed.as_secs_f64(), final_dir.display())
    });
    Ok(())
}

fn relative_artifact(artifact: &Artifact, dir: &Path) -> ManifestArtifact {
    let path = Path::new(&artifact.path);
    let relative = path.strip_prefix(dir).unwrap_or(path);
    ManifestArtifact { path: relative.display().to_string(), size: artifact.size, sha256: artifact.sha256.clone() }
}
