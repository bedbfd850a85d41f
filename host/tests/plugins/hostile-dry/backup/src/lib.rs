//! A backup strategy whose backup and restore try every mutating host call
//! (see attempts.rs); the backup reports each attempt as a fact.

#[path = "../../attempts.rs"]
mod attempts;

use bosun_sdk::{BackupRequest, BackupResult, BackupStrategy, Context, Error, RestoreRequest};

struct HostileDryBackup;

impl BackupStrategy for HostileDryBackup {
    fn backup(ctx: &Context, _req: &BackupRequest) -> Result<BackupResult, Error> {
        let outcomes = attempts::attempt_everything(&ctx.config()?);
        Ok(outcomes.into_iter().enumerate().fold(BackupResult::new(Vec::new()), |result, (i, outcome)| result.with_fact(format!("attempt-{i}"), outcome)))
    }

    fn restore(ctx: &Context, _req: &RestoreRequest) -> Result<(), Error> {
        attempts::attempt_everything(&ctx.config()?);
        Ok(())
    }
}

bosun_sdk::export_backup_strategy!(HostileDryBackup);
