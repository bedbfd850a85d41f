//! wit-bindgen output for the WIT package `bosun:plugin@0.2.0` (`../wit`).
//!
//! The host interfaces (types, log, fs, docker, process, notify, net, wasi:http) are
//! generated once, from the world `host-api`, and every plugin-kind world reuses
//! them through `with:`, so the SDK's helpers see a single set of types.
//!
//! Each kind world is generated with `pub_export_macro`: the custom section that
//! wit-bindgen emits at crate level then describes the world *without* its
//! exports, and the section with the exports is emitted by the export macro, in
//! the plugin crate that invokes it. A plugin therefore exports exactly the kind
//! whose `export_*!` macro it calls, whatever SDK features are enabled.

#![allow(missing_docs, clippy::too_many_arguments)]

/// The imports every kind shares (world `host-api`).
pub mod host {
    wit_bindgen::generate!({
        world: "host-api",
        path: "../wit",
        // wit-parser 0.239 cannot resolve the `@unstable` timezone import of
        // wasi:cli's world unless the feature is on; nothing here uses it.
        features: ["clocks-timezone"],
        generate_all,
    });
}

/// A kind world: its imports map to [`host`]'s modules (`with:`), only the
/// kind-specific types (`check-types`, `backup-types`) are generated here.
#[allow(unused_macros)] // unused when no kind feature is enabled
macro_rules! kind_world {
    ($world:literal, $export_macro:literal, { $($with:tt)* }) => {
        wit_bindgen::generate!({
            world: $world,
            path: "../wit",
            features: ["clocks-timezone"],
            pub_export_macro: true,
            export_macro_name: $export_macro,
            with: {
                "bosun:plugin/types@0.2.0": crate::bindings::host::bosun::plugin::types,
                "bosun:plugin/log@0.2.0": crate::bindings::host::bosun::plugin::log,
                $($with)*
            },
            generate_all,
        });
    };
}

/// World `smoke-check`.
#[cfg(feature = "smoke-check")]
pub mod smoke_check {
    kind_world!("smoke-check", "__bosun_export_smoke_check_world", {
        "bosun:plugin/docker@0.2.0": crate::bindings::host::bosun::plugin::docker,
        "bosun:plugin/process@0.2.0": crate::bindings::host::bosun::plugin::process,
        "bosun:plugin/notify@0.2.0": crate::bindings::host::bosun::plugin::notify,
        "bosun:plugin/net@0.2.0": crate::bindings::host::bosun::plugin::net,
        "wasi:http/types@0.2.12": crate::bindings::host::wasi::http::types,
        "wasi:http/outgoing-handler@0.2.12": crate::bindings::host::wasi::http::outgoing_handler,
        "wasi:io/error@0.2.12": crate::bindings::host::wasi::io::error,
        "wasi:io/poll@0.2.12": crate::bindings::host::wasi::io::poll,
        "wasi:io/streams@0.2.12": crate::bindings::host::wasi::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": crate::bindings::host::wasi::clocks::monotonic_clock,
    });
}

/// World `backup-strategy`.
#[cfg(feature = "backup-strategy")]
pub mod backup_strategy {
    kind_world!("backup-strategy", "__bosun_export_backup_strategy_world", {
        "bosun:plugin/fs@0.2.0": crate::bindings::host::bosun::plugin::fs,
        "bosun:plugin/docker@0.2.0": crate::bindings::host::bosun::plugin::docker,
        "bosun:plugin/process@0.2.0": crate::bindings::host::bosun::plugin::process,
        "bosun:plugin/notify@0.2.0": crate::bindings::host::bosun::plugin::notify,
    });
}

/// World `naming-template`.
#[cfg(feature = "naming-template")]
pub mod naming_template {
    kind_world!("naming-template", "__bosun_export_naming_template_world", {
        "bosun:plugin/docker@0.2.0": crate::bindings::host::bosun::plugin::docker,
    });
}

/// World `notifier`.
#[cfg(feature = "notifier")]
pub mod notifier {
    kind_world!("notifier", "__bosun_export_notifier_world", {
        "bosun:plugin/notify@0.2.0": crate::bindings::host::bosun::plugin::notify,
        "wasi:http/types@0.2.12": crate::bindings::host::wasi::http::types,
        "wasi:http/outgoing-handler@0.2.12": crate::bindings::host::wasi::http::outgoing_handler,
        "wasi:io/error@0.2.12": crate::bindings::host::wasi::io::error,
        "wasi:io/poll@0.2.12": crate::bindings::host::wasi::io::poll,
        "wasi:io/streams@0.2.12": crate::bindings::host::wasi::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": crate::bindings::host::wasi::clocks::monotonic_clock,
    });
}
