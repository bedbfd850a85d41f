//! Pipeline steps: world `pipeline-step` (interface `step`), trait
//! [`PipelineStep`], macro [`export_pipeline_step!`](crate::export_pipeline_step).
//! New in plugin API 0.3.
//!
//! A step plugin is used as `plugin = "name"` in a `[[pipelines.<p>.steps]]`
//! table; its `with` table (templates evaluated) is the [`Context`]'s config,
//! and the outputs it returns are what later steps read as
//! `${{ steps.<id>.outputs.<key> }}`.

use crate::{Context, Error, Kv, PluginError, RunContext};

pub use crate::bindings::pipeline_step::exports::bosun::plugin::step::StepResult;

/// A pipeline step. Export it with `bosun_sdk::export_pipeline_step!(MyStep);`.
pub trait PipelineStep {
    /// Check `with` before the step runs. Return [`Error::invalid_config`]
    /// naming the key and what to write instead. The default accepts any.
    fn validate(ctx: &Context) -> Result<(), Error> {
        let _ = ctx;
        Ok(())
    }

    /// Do the step's work; [`Error::Skipped`] marks it skipped, not failed.
    fn run(ctx: &Context) -> Result<StepResult, Error>;
}

impl StepResult {
    /// A result with `summary` and the `outputs` later steps can read.
    pub fn new(summary: impl Into<String>, outputs: impl IntoIterator<Item = (String, String)>) -> StepResult {
        StepResult { summary: summary.into(), outputs: outputs.into_iter().map(|(key, value)| Kv { key, value }).collect() }
    }
}

#[doc(hidden)]
pub fn __validate<T: PipelineStep>(ctx: RunContext) -> Result<(), PluginError> {
    crate::__private::enter();
    T::validate(&Context::new(ctx)).map_err(Into::into)
}

#[doc(hidden)]
pub fn __run<T: PipelineStep>(ctx: RunContext) -> Result<StepResult, PluginError> {
    crate::__private::enter();
    T::run(&Context::new(ctx)).map_err(Into::into)
}

/// Export `$t: PipelineStep` as this plugin's pipeline step and embed the
/// `bosun:manifest` section (kind `pipeline-step`); `, config = Config`
/// embeds `Config`'s schema too, so bosun checks `with` when bosun.toml is
/// read (see [`manifest`](crate::manifest)).
#[macro_export]
macro_rules! export_pipeline_step {
    (@api $api:expr, $t:ty) => {
        const _: () = {
            struct __BosunExport;
            impl $crate::__private::pipeline_step::exports::bosun::plugin::step::Guest for __BosunExport {
                fn validate(ctx: $crate::__private::RunContext) -> ::core::result::Result<(), $crate::__private::PluginError> {
                    $crate::step::__validate::<$t>(ctx)
                }
                fn run(
                    ctx: $crate::__private::RunContext,
                ) -> ::core::result::Result<$crate::StepResult, $crate::__private::PluginError> {
                    $crate::step::__run::<$t>(ctx)
                }
            }
            $crate::__private::pipeline_step::__bosun_export_pipeline_step_world!(
                __BosunExport with_types_in $crate::__private::pipeline_step
            );
        };
        $crate::__bosun_manifest!("pipeline-step", $api);
    };
    ($t:ty, config = $config:ty) => {
        $crate::export_pipeline_step!($t);
        $crate::__bosun_config_schema!($config);
    };
    ($t:ty) => {
        $crate::export_pipeline_step!(@api $crate::__bosun_api_version!(), $t);
    };
}
