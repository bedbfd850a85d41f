//! Notifiers: world `notifier` (interface `delivery`), trait [`Notifier`],
//! macro [`export_notifier!`](crate::export_notifier).

pub use crate::bindings::host::bosun::host::notify::{Channel, Event, Severity};

use crate::{Context, Error, PluginError, RunContext};

/// Delivers an event to one channel. Export it with
/// `bosun_sdk::export_notifier!(MyNotifier);`.
pub trait Notifier {
    /// Check `channel` (its URL and settings) and the configuration without
    /// sending anything. Return [`Error::invalid_config`] naming what is
    /// wrong, never the URL itself (it holds secrets). The default accepts
    /// any channel.
    fn validate(ctx: &Context, channel: &Channel) -> Result<(), Error> {
        let _ = (ctx, channel);
        Ok(())
    }

    /// Send `event` to `channel`; return what the service answered (status
    /// line and body excerpt), shown by `bosun notify test`. `channel.url`
    /// holds resolved secrets: never log it.
    fn deliver(ctx: &Context, event: &Event, channel: &Channel) -> Result<String, Error>;
}

#[doc(hidden)]
pub fn __validate<T: Notifier>(ctx: RunContext, channel: Channel) -> Result<(), PluginError> {
    crate::__private::enter();
    T::validate(&Context::new(ctx), &channel).map_err(Into::into)
}

#[doc(hidden)]
pub fn __deliver<T: Notifier>(ctx: RunContext, event: Event, channel: Channel) -> Result<String, PluginError> {
    crate::__private::enter();
    T::deliver(&Context::new(ctx), &event, &channel).map_err(Into::into)
}

/// Export `$t: Notifier` as this plugin's notifier and embed the
/// `bosun:manifest` section (kind `notifier`); `, config = Config` embeds
/// `Config`'s schema too (see [`manifest`](crate::manifest)).
#[macro_export]
macro_rules! export_notifier {
    (@api $api:expr, $t:ty) => {
        const _: () = {
            struct __BosunExport;
            impl $crate::__private::notifier::exports::bosun::plugin::delivery::Guest for __BosunExport {
                fn validate(
                    ctx: $crate::__private::RunContext,
                    channel: $crate::Channel,
                ) -> ::core::result::Result<(), $crate::__private::PluginError> {
                    $crate::notifier::__validate::<$t>(ctx, channel)
                }
                fn deliver(
                    ctx: $crate::__private::RunContext,
                    event: $crate::Event,
                    channel: $crate::Channel,
                ) -> ::core::result::Result<::std::string::String, $crate::__private::PluginError> {
                    $crate::notifier::__deliver::<$t>(ctx, event, channel)
                }
            }
            $crate::__private::notifier::__bosun_export_notifier_world!(
                __BosunExport with_types_in $crate::__private::notifier
            );
        };
        $crate::__bosun_manifest!("notifier", $api);
    };
    ($t:ty, config = $config:ty) => {
        $crate::export_notifier!($t);
        $crate::__bosun_config_schema!($config);
    };
    ($t:ty) => {
        $crate::export_notifier!(@api $crate::__bosun_api_version!(), $t);
    };
}
