//! Naming templates: world `naming-template` (interface `naming`), trait [`NamingTemplate`],
//! macro [`export_naming_template!`](crate::export_naming_template).

use crate::{Context, Error, Kv, PluginError, RunContext};

/// Names a container for a release. Export it with
/// `bosun_sdk::export_naming_template!(MyTemplate);`.
pub trait NamingTemplate {
    /// Check the configuration (the `[naming]` table) without rendering
    /// anything. Return [`Error::invalid_config`] naming the key and what to
    /// write instead. The default accepts any configuration.
    fn validate(ctx: &Context) -> Result<(), Error> {
        let _ = ctx;
        Ok(())
    }

    /// Render a container name from `vars` (PREFIX, SEP, ENV, SERVICE,
    /// VERSION, TIMESTAMP, SHORT_DIGEST and those from `[naming].vars`). The
    /// result must be a valid Docker name; an unknown variable is
    /// [`Error::InvalidConfig`].
    fn render(ctx: &Context, vars: &[Kv]) -> Result<String, Error>;
}

#[doc(hidden)]
pub fn __validate<T: NamingTemplate>(ctx: RunContext) -> Result<(), PluginError> {
    crate::__private::enter();
    T::validate(&Context::new(ctx)).map_err(Into::into)
}

#[doc(hidden)]
pub fn __render<T: NamingTemplate>(ctx: RunContext, vars: Vec<Kv>) -> Result<String, PluginError> {
    crate::__private::enter();
    T::render(&Context::new(ctx), &vars).map_err(Into::into)
}

/// Export `$t: NamingTemplate` as this plugin's naming template and embed the
/// `bosun:manifest` section (kind `naming-template`); `, config = Config` embeds
/// `Config`'s schema too (see [`manifest`](crate::manifest)).
#[macro_export]
macro_rules! export_naming_template {
    (@api $api:expr, $t:ty) => {
        const _: () = {
            struct __BosunExport;
            impl $crate::__private::naming_template::exports::bosun::plugin::naming::Guest for __BosunExport {
                fn validate(
                    ctx: $crate::__private::RunContext,
                ) -> ::core::result::Result<(), $crate::__private::PluginError> {
                    $crate::naming::__validate::<$t>(ctx)
                }
                fn render(
                    ctx: $crate::__private::RunContext,
                    vars: ::std::vec::Vec<$crate::Kv>,
                ) -> ::core::result::Result<::std::string::String, $crate::__private::PluginError> {
                    $crate::naming::__render::<$t>(ctx, vars)
                }
            }
            $crate::__private::naming_template::__bosun_export_naming_template_world!(
                __BosunExport with_types_in $crate::__private::naming_template
            );
        };
        $crate::__bosun_manifest!("naming-template", $api);
    };
    ($t:ty, config = $config:ty) => {
        $crate::export_naming_template!($t);
        $crate::__bosun_config_schema!($config);
    };
    ($t:ty) => {
        $crate::export_naming_template!(@api $crate::__bosun_api_version!(), $t);
    };
}
