//! Notifiers: world `notifier`, trait [`Notifier`],
//! macro [`export_notifier!`](crate::export_notifier).

pub use crate::bindings::host::bosun::plugin::notify::{Channel, Event, Severity};

use crate::bindings::host::bosun::plugin::types::{PluginError, RunContext};
use crate::{Context, Error};

/// Delivers an event to one channel. Export it with
/// `bosun_sdk::export_notifier!(MyNotifier);`.
pub trait Notifier {
    /// Send `event` to `channel`; return what the service answered (status
    /// line and body excerpt), shown by `bosun notify test`. `channel.url`
    /// holds resolved secrets: never log it.
    fn deliver(ctx: &Context, event: &Event, channel: &Channel) -> Result<String, Error>;
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
            impl $crate::__private::notifier::Guest for __BosunExport {
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
