//! A backup strategy whose `backup` reads config `path` with `fs.read-small`
//! and returns the host's error, if any: tests point it outside the grant,
//! through `..` and through symlinks. On success the facts hold `bytes` (the
//! size read) and `content` (the first 64 bytes, lossy UTF-8). `restore` does
//! nothing.

use bosun_sdk::host::fs;
use bosun_sdk::{BackupRequest, BackupResult, BackupStrategy, Context, Error, RestoreRequest};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    path: String,
}

struct HostileBackup;

impl BackupStrategy for HostileBackup {
    fn backup(ctx: &Context, _req: &BackupRequest) -> Result<BackupResult, Error> {
        let cfg: Config = ctx.config()?;
        let bytes = fs::read_small(&cfg.path, 1 << 20)?;
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned();
        Ok(BackupResult::new(Vec::new()).with_fact("bytes", bytes.len()).with_fact("content", head))
    }

    fn restore(_ctx: &Context, _req: &RestoreRequest) -> Result<(), Error> {
        Ok(())
    }
}

bosun_sdk::export_backup_strategy!(HostileBackup);
