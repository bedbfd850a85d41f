//! Smoke checks: world `smoke-check` (interface `check`), trait [`Check`], macro [`export_check!`](crate::export_check).

pub use crate::bindings::smoke_check::exports::bosun::plugin::check::{CheckResult, ConditionResult};

use crate::{Context, Error, Kv, PluginError, RunContext};

/// A smoke check. Export it with `bosun_sdk::export_check!(MyCheck);`.
pub trait Check {
    /// Run the check once. A failed check is `Ok` with `passed: false`
    /// ([`CheckResult::fail`]); an `Err` means the check could not run (bad
    /// config, denied host call).
    fn check(ctx: &Context) -> Result<CheckResult, Error>;

    /// Check the configuration without running anything; bosun calls this
    /// for every check it is about to run, before any runs. Return
    /// [`Error::invalid_config`] naming the key and what to write instead.
    /// The default accepts any configuration.
    fn validate(ctx: &Context) -> Result<(), Error> {
        let _ = ctx;
        Ok(())
    }

    /// Where the check will connect: `http(s)://host[:port]` URLs and
    /// `host:port` probe targets. bosun checks them against the operator's
    /// grant before any check runs, so a missing grant stops the command with
    /// the line to add instead of failing half-way. The default is none.
    fn reaches(ctx: &Context) -> Result<Vec<String>, Error> {
        let _ = ctx;
        Ok(Vec::new())
    }
}

impl CheckResult {
    /// A passed check with a one-line summary
    /// (`"GET http://127.0.0.1:8080/ -> 200 in 12ms"`).
    pub fn pass(summary: impl Into<String>) -> Self {
        Self::new(true, summary)
    }

    /// A failed check with a one-line summary.
    pub fn fail(summary: impl Into<String>) -> Self {
        Self::new(false, summary)
    }

    /// A result with `passed` and a summary, no conditions or metrics.
    pub fn new(passed: bool, summary: impl Into<String>) -> Self {
        CheckResult {
            passed,
            summary: summary.into(),
            conditions: Vec::new(),
            metrics: Vec::new(),
            suggestion: None,
        }
    }

    /// Add an evaluated condition.
    pub fn with_condition(mut self, c: ConditionResult) -> Self {
        self.conditions.push(c);
        self
    }

    /// Add a measurement worth keeping (`response-time-ms`, `cpu-percent`, ...).
    pub fn with_metric(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.metrics.push(Kv::new(key, value.to_string()));
        self
    }

    /// What the operator should try when the check failed.
    pub fn with_suggestion(mut self, s: impl Into<String>) -> Self {
        self.suggestion = Some(s.into());
        self
    }
}

impl ConditionResult {
    /// `condition` as configured, the `actual` value it was evaluated against.
    pub fn new(condition: impl Into<String>, actual: impl Into<String>, passed: bool) -> Self {
        ConditionResult {
            condition: condition.into(),
            actual: actual.into(),
            passed,
            message: None,
        }
    }

    /// Why it failed or could not be evaluated.
    pub fn with_message(mut self, m: impl Into<String>) -> Self {
        self.message = Some(m.into());
        self
    }
}

#[doc(hidden)]
pub fn __run<T: Check>(ctx: RunContext) -> Result<CheckResult, PluginError> {
    crate::__private::enter();
    T::check(&Context::new(ctx)).map_err(Into::into)
}

#[doc(hidden)]
pub fn __validate<T: Check>(ctx: RunContext) -> Result<Vec<String>, PluginError> {
    crate::__private::enter();
    let ctx = Context::new(ctx);
    T::validate(&ctx)?;
    T::reaches(&ctx).map_err(Into::into)
}

/// Export `$t: Check` as this plugin's smoke check and embed the
/// `bosun:manifest` section (kind `smoke-check`, from `bosun-plugin.toml`).
/// With `config = Config`, the build also writes `Config`'s schema into the
/// manifest, and bosun checks the plugin's bosun.toml tables against it (see
/// [`manifest`](crate::manifest)); every `export_*!` macro takes it.
///
/// ```ignore
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Config { url: String }
/// struct Up;
/// impl bosun_sdk::Check for Up { /* ... */ }
/// bosun_sdk::export_check!(Up, config = Config);
/// ```
#[macro_export]
macro_rules! export_check {
    (@api $api:expr, $t:ty) => {
        const _: () = {
            struct __BosunExport;
            impl $crate::__private::smoke_check::exports::bosun::plugin::check::Guest for __BosunExport {
                fn check(
                    ctx: $crate::__private::RunContext,
                ) -> ::core::result::Result<$crate::CheckResult, $crate::__private::PluginError> {
                    $crate::check::__run::<$t>(ctx)
                }
                fn validate(
                    ctx: $crate::__private::RunContext,
                ) -> ::core::result::Result<
                    $crate::__private::Vec<$crate::__private::String>,
                    $crate::__private::PluginError,
                > {
                    $crate::check::__validate::<$t>(ctx)
                }
            }
            $crate::__private::smoke_check::__bosun_export_smoke_check_world!(
                __BosunExport with_types_in $crate::__private::smoke_check
            );
        };
        $crate::__bosun_manifest!("smoke-check", $api);
    };
    ($t:ty, config = $config:ty) => {
        $crate::export_check!($t);
        $crate::__bosun_config_schema!($config);
    };
    ($t:ty) => {
        $crate::export_check!(@api $crate::__bosun_api_version!(), $t);
    };
}
