//! bosun's built-in `dir-archive` backup strategy. The host does all the I/O:
//! this plugin only decides what goes where.
//!
//! Backup directory layout (`req.dest_dir`):
//! - `data.tar.zst` (`.tar.gz`, `.tar`): the archive written by the host's
//!   `fs.archive`; entries are stored under their absolute path without the
//!   leading `/`, as GNU tar does;
//! - `files.list.zst`: the file list of this backup (path, size, mtime, mode,
//!   BLAKE3 content hash), written by the host, the base of the next
//!   incremental (`bosun backup files` shows it);
//! - `deleted.json`: incrementals only, when files disappeared since the base:
//!   a JSON array of their absolute paths.
//!
//! Restore extracts the base archives (oldest first), then this backup's, into
//! `target`, or into `/` when no target is given, i.e. back to the original
//! absolute paths; before each archive it removes the files its `deleted.json`
//! lists (under `target` when given), so that the extraction, which sets
//! directories' mtimes last, leaves them as they were. In a dry run the host
//! records the extractions and removals instead of doing them.

use bosun_sdk::host::fs::{self, ArchiveRequest, Compression};
use bosun_sdk::{
    BackupKind, BackupRequest, BackupResult, BackupStrategy, Context, Error, RestoreRequest, log, serde_json,
};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// Absolute files and directories to back up (directories recursively)
    paths: Vec<String>,
    /// Globs to leave out, matched against paths relative to each source (**/*.log, cache/) (default: none)
    #[serde(default)]
    excludes: Vec<String>,
    /// zstd, gzip or none (default zstd)
    #[serde(default = "default_compression")]
    compression: String,
    /// Compression level; the format's fast default when unset
    #[serde(default)]
    level: Option<i32>,
}

fn default_compression() -> String {
    "zstd".into()
}

/// The file list's name, then the names earlier backups used (JSON lists,
/// compressed and plain); each is still read as a base.
const FILE_LISTS: [&str; 3] = ["files.list.zst", "files.json.zst", "files.json"];
const DELETED: &str = "deleted.json";
/// Archive names, by compression; restore looks for each.
const ARCHIVES: [(&str, Compression); 3] = [
    ("data.tar.zst", Compression::Zstd),
    ("data.tar.gz", Compression::Gzip),
    ("data.tar", Compression::None),
];

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// `path` restored under `target` (`/srv/x` → `<target>/srv/x`), or itself.
fn under(target: Option<&str>, path: &str) -> String {
    match target {
        Some(t) => join(t, path.trim_start_matches('/')),
        None => path.to_string(),
    }
}

impl Config {
    fn archive_name(&self) -> Result<(&'static str, Compression), Error> {
        let (name, compression) = match self.compression.as_str() {
            "zstd" | "zst" => ARCHIVES[0],
            "gzip" | "gz" => ARCHIVES[1],
            "none" => ARCHIVES[2],
            other => {
                return Err(Error::invalid_config(format!(
                    "config key `compression`: unknown compression `{other}` (expected zstd, gzip or none)"
                )));
            }
        };
        Ok((name, compression))
    }

    fn check_paths(&self) -> Result<(), Error> {
        if self.paths.is_empty() {
            return Err(Error::invalid_config("config key `paths`: nothing to back up (empty list)"));
        }
        if let Some(p) = self.paths.iter().find(|p| !p.starts_with('/')) {
            return Err(Error::invalid_config(format!("config key `paths`: `{p}` is not an absolute path")));
        }
        Ok(())
    }
}

struct DirArchive;

impl BackupStrategy for DirArchive {
    fn validate(ctx: &Context) -> Result<(), Error> {
        let cfg: Config = ctx.config()?;
        cfg.check_paths()?;
        cfg.archive_name().map(drop)
    }

    fn backup(ctx: &Context, req: &BackupRequest) -> Result<BackupResult, Error> {
        let cfg: Config = ctx.config()?;
        cfg.check_paths()?;
        let (name, compression) = cfg.archive_name()?;

        let since_manifest = match (req.kind, &req.base_dir) {
            (BackupKind::Incremental, Some(base)) => Some(base_file_list(base)?),
            (BackupKind::Incremental, None) => {
                log::warn("incremental backup requested without a base backup: taking a full one");
                None
            }
            (BackupKind::Full, _) => None,
        };
        let incremental = since_manifest.is_some();
        let dest = join(&req.dest_dir, name);
        log::info!(
            "archiving {} into {dest}{}",
            cfg.paths.join(", "),
            if incremental { " (incremental)" } else { "" }
        );
        let out = fs::archive(&ArchiveRequest {
            sources: cfg.paths.clone(),
            excludes: cfg.excludes.clone(),
            dest: dest.clone(),
            compression,
            level: cfg.level,
            since_manifest,
            manifest_dest: Some(join(&req.dest_dir, FILE_LISTS[0])),
        })
        .map_err(|e| Error::from(e).context(format!("archiving into {dest}")))?;

        let mut artifacts = vec![out.archive];
        artifacts.extend(out.manifest);
        if incremental && !out.deleted.is_empty() {
            let list = serde_json::to_vec(&out.deleted).map_err(|e| Error::failed(e.to_string()))?;
            artifacts.push(fs::write_small(&join(&req.dest_dir, DELETED), &list)?);
        }

        let mut result = BackupResult::new(artifacts)
            .with_fact("kind", if incremental { "incremental" } else { "full" })
            .with_fact("entries", out.entries)
            .with_fact("compression", &cfg.compression)
            .with_fact("paths", cfg.paths.join(","));
        if let (true, Some(base)) = (incremental, &req.base_dir) {
            result = result.with_fact("base", base).with_fact("deleted", out.deleted.len());
        }
        Ok(result)
    }

    fn restore(_ctx: &Context, req: &RestoreRequest) -> Result<(), Error> {
        let target = req.target.as_deref();
        let dest = target.unwrap_or("/");
        for dir in req.base_dirs.iter().chain([&req.backup_dir]) {
            remove_deleted(dir, target)?;
            let archive = find_archive(dir)?;
            log::info!("extracting {archive} into {dest}");
            let entries = fs::extract(&archive, dest)
                .map_err(|e| Error::from(e).context(format!("extracting {archive} into {dest}")))?;
            log::debug!("{entries} entries from {archive}");
        }
        Ok(())
    }
}

/// The base backup's file list, under the current name or an earlier one.
fn base_file_list(base: &str) -> Result<String, Error> {
    for name in FILE_LISTS {
        let path = join(base, name);
        if fs::stat(&path)?.is_some() {
            return Ok(path);
        }
    }
    Err(Error::failed(format!("base backup {base} has no file list ({}); take a full backup", FILE_LISTS.join(" or "))))
}

fn find_archive(dir: &str) -> Result<String, Error> {
    for (name, _) in ARCHIVES {
        let path = join(dir, name);
        if fs::stat(&path)?.is_some() {
            return Ok(path);
        }
    }
    Err(Error::failed(format!("no data.tar[.zst|.gz] in backup directory {dir}")))
}

/// Remove what `dir/deleted.json` lists, mapped under `target`.
fn remove_deleted(dir: &str, target: Option<&str>) -> Result<(), Error> {
    let list_path = join(dir, DELETED);
    if fs::stat(&list_path)?.is_none() {
        return Ok(());
    }
    let bytes = fs::read_small(&list_path, 16 << 20)?;
    let deleted: Vec<String> = serde_json::from_slice(&bytes)
        .map_err(|e| Error::failed(format!("{list_path}: not a JSON list of paths: {e}")))?;
    for p in deleted {
        if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
            log::warn!("{list_path}: skipping suspicious path `{p}`");
            continue;
        }
        let path = under(target, &p);
        if fs::stat(&path)?.is_some() {
            log::debug!("removing {path} (deleted since the base backup)");
            fs::remove(&path)?;
        }
    }
    Ok(())
}

bosun_sdk::export_backup_strategy!(DirArchive, config = Config);
