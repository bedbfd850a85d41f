//! bosun's built-in `volume` backup strategy: a Docker volume, or a path
//! inside a container, copied through the engine's archive API straight into
//! `volume.tar.zst` (no helper image: the engine reads the files of any
//! container that mounts the volume, running or stopped).
//!
//! Restore unpacks the archive back into the same place in the container, or,
//! with a target, extracts it under that host directory.

use bosun_sdk::host::{docker, fs};
use bosun_sdk::{BackupRequest, BackupResult, BackupStrategy, Context, Error, RestoreRequest, log};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// Volume to back up; bosun finds a container that mounts it (running or not)
    volume: Option<String>,
    /// Container to copy from, with `path` (instead of `volume`)
    container: Option<String>,
    /// Absolute path inside `container`
    path: Option<String>,
}

const ARCHIVE: &str = "volume.tar.zst";

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// Where the data is: a container and an absolute path in it.
fn locate(cfg: &Config) -> Result<(String, String), Error> {
    match (&cfg.volume, &cfg.container, &cfg.path) {
        (Some(volume), None, None) => mounting(volume),
        (None, Some(container), Some(path)) if path.starts_with('/') && path != "/" => Ok((container.clone(), path.trim_end_matches('/').to_string())),
        (None, Some(_), Some(path)) => Err(Error::invalid_config(format!("config key `path`: `{path}` must be an absolute path below /"))),
        _ => Err(Error::invalid_config("set either `volume`, or `container` and `path`")),
    }
}

/// A container that mounts `volume`, and where.
fn mounting(volume: &str) -> Result<(String, String), Error> {
    for container in docker::list_containers(true, &[])? {
        let details = docker::inspect_container(&container.name)?;
        if let Some(mount) = details.mounts.iter().find(|m| m.kind == docker::MountKind::Volume && m.source == *volume) {
            return Ok((container.name, mount.destination.clone()));
        }
    }
    Err(Error::failed(format!("no container mounts volume {volume}; bosun copies a volume through a container that uses it")))
}

struct Volume;

impl BackupStrategy for Volume {
    fn backup(ctx: &Context, req: &BackupRequest) -> Result<BackupResult, Error> {
        let cfg: Config = ctx.config()?;
        let (container, path) = locate(&cfg)?;
        let dest = join(&req.dest_dir, ARCHIVE);
        log::info!("copying {container}:{path} into {dest}");
        let artifact = docker::copy_from(&container, &path, &dest).map_err(|e| Error::from(e).context(format!("copying {container}:{path}")))?;
        Ok(BackupResult::new(vec![artifact]).with_fact("container", &container).with_fact("path", &path))
    }

    fn restore(ctx: &Context, req: &RestoreRequest) -> Result<(), Error> {
        let archive = join(&req.backup_dir, ARCHIVE);
        if let Some(target) = &req.target {
            let entries = fs::extract(&archive, target)?;
            log::info!("extracted {entries} entries under {target}");
            return Ok(());
        }
        let (container, path) = locate(&ctx.config()?)?;
        // The archive holds the directory itself (`data/...`): unpack it into its parent.
        let parent = match path.rsplit_once('/') {
            Some(("", _)) | None => "/".to_string(),
            Some((parent, _)) => parent.to_string(),
        };
        log::info!("restoring {archive} into {container}:{path}");
        docker::copy_to(&container, &archive, &parent)?;
        Ok(())
    }
}

bosun_sdk::export_backup_strategy!(Volume, config = Config);
