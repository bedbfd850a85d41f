//! Backup strategies: world `backup-strategy` (interface `backup`), trait [`BackupStrategy`],
//! macro [`export_backup_strategy!`](crate::export_backup_strategy).
//!
//! The host moves the bytes (`host::fs::archive`, `host::docker::save_images`,
//! `host::docker::exec` to a path); the strategy decides what goes where.

pub use crate::bindings::backup_strategy::exports::bosun::plugin::backup::{
    BackupKind, BackupRequest, BackupResult, RestoreCheck, RestoreRequest,
};

use crate::{Artifact, Context, Error, Kv, PluginError, RunContext};

/// A backup strategy. Export it with `bosun_sdk::export_backup_strategy!(MyStrategy);`.
pub trait BackupStrategy {
    /// Check the configuration without touching anything; bosun calls this
    /// before a backup or restore starts. Return [`Error::invalid_config`]
    /// naming the key and what to write instead. The default accepts any
    /// configuration.
    fn validate(ctx: &Context) -> Result<(), Error> {
        let _ = ctx;
        Ok(())
    }

    /// Write the backup's artifacts into `req.dest_dir` and report them.
    fn backup(ctx: &Context, req: &BackupRequest) -> Result<BackupResult, Error>;

    /// Restore the backup in `req.backup_dir` (after `req.base_dirs`, oldest
    /// first, for an incremental chain) into `req.target` or the original
    /// location.
    fn restore(ctx: &Context, req: &RestoreRequest) -> Result<(), Error>;

    /// `backup verify --restore-test`: restore a copy into `req.target` (a
    /// scratch directory) and check it. The default restores and returns
    /// `None`, and the host compares the files with the backup's file list;
    /// a strategy that restores elsewhere (a scratch database) overrides it,
    /// checks what it restored and returns what it found.
    fn restore_test(ctx: &Context, req: &RestoreRequest) -> Result<Option<RestoreCheck>, Error> {
        Self::restore(ctx, req)?;
        Ok(None)
    }
}

impl BackupResult {
    /// A result listing `artifacts`, no facts.
    pub fn new(artifacts: Vec<Artifact>) -> Self {
        BackupResult { artifacts, facts: Vec::new() }
    }

    /// Add a fact for the backup's manifest (entry counts, source versions, ...).
    pub fn with_fact(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.facts.push(Kv::new(key, value.to_string()));
        self
    }
}

#[doc(hidden)]
pub fn __validate<T: BackupStrategy>(ctx: RunContext) -> Result<(), PluginError> {
    crate::__private::enter();
    T::validate(&Context::new(ctx)).map_err(Into::into)
}

#[doc(hidden)]
pub fn __backup<T: BackupStrategy>(ctx: RunContext, req: BackupRequest) -> Result<BackupResult, PluginError> {
    crate::__private::enter();
    T::backup(&Context::new(ctx), &req).map_err(Into::into)
}

#[doc(hidden)]
pub fn __restore<T: BackupStrategy>(ctx: RunContext, req: RestoreRequest) -> Result<(), PluginError> {
    crate::__private::enter();
    T::restore(&Context::new(ctx), &req).map_err(Into::into)
}

#[doc(hidden)]
pub fn __restore_test<T: BackupStrategy>(ctx: RunContext, req: RestoreRequest) -> Result<Option<RestoreCheck>, PluginError> {
    crate::__private::enter();
    T::restore_test(&Context::new(ctx), &req).map_err(Into::into)
}

/// Export `$t: BackupStrategy` as this plugin's backup strategy and embed the
/// `bosun:manifest` section (kind `backup-strategy`); `, config = Config` embeds
/// `Config`'s schema too (see [`manifest`](crate::manifest)).
#[macro_export]
macro_rules! export_backup_strategy {
    (@api $api:expr, $t:ty) => {
        const _: () = {
            struct __BosunExport;
            impl $crate::__private::backup_strategy::exports::bosun::plugin::backup::Guest for __BosunExport {
                fn validate(
                    ctx: $crate::__private::RunContext,
                ) -> ::core::result::Result<(), $crate::__private::PluginError> {
                    $crate::backup::__validate::<$t>(ctx)
                }
                fn backup(
                    ctx: $crate::__private::RunContext,
                    req: $crate::BackupRequest,
                ) -> ::core::result::Result<$crate::BackupResult, $crate::__private::PluginError> {
                    $crate::backup::__backup::<$t>(ctx, req)
                }
                fn restore(
                    ctx: $crate::__private::RunContext,
                    req: $crate::RestoreRequest,
                ) -> ::core::result::Result<(), $crate::__private::PluginError> {
                    $crate::backup::__restore::<$t>(ctx, req)
                }
                fn restore_test(
                    ctx: $crate::__private::RunContext,
                    req: $crate::RestoreRequest,
                ) -> ::core::result::Result<::core::option::Option<$crate::RestoreCheck>, $crate::__private::PluginError> {
                    $crate::backup::__restore_test::<$t>(ctx, req)
                }
            }
            $crate::__private::backup_strategy::__bosun_export_backup_strategy_world!(
                __BosunExport with_types_in $crate::__private::backup_strategy
            );
        };
        $crate::__bosun_manifest!("backup-strategy", $api);
    };
    ($t:ty, config = $config:ty) => {
        $crate::export_backup_strategy!($t);
        $crate::__bosun_config_schema!($config);
    };
    ($t:ty) => {
        $crate::export_backup_strategy!(@api $crate::__bosun_api_version!(), $t);
    };
}
