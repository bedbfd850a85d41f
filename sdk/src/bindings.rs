//! wit-bindgen output for the WIT packages `bosun:host@0.3.0` (what the host
//! offers) and `bosun:plugin@0.3.0` (what a plugin exports), both in
//! `../wit/since_v0.3.0`.
//!
//! The host interfaces (types, log, fs, docker, process, notify, net, wasi:http)
//! and the plugin package's `types` (plugin-error, run-context) are generated
//! once, in [`host`], and every plugin-kind world reuses them through `with:`,
//! so the SDK's helpers see a single set of types.
//!
//! Each kind world is generated with `pub_export_macro`: the custom section that
//! wit-bindgen emits at crate level then describes the world *without* its
//! exports, and the section with the exports is emitted by the export macro, in
//! the plugin crate that invokes it. A plugin therefore exports exactly the kind
//! whose `export_*!` macro it calls, whatever SDK features are enabled.

#![allow(missing_docs, clippy::too_many_arguments)]

/// What every kind shares: the world `bosun:host/imports` and the interface
/// `bosun:plugin/types`, so the modules are `host::bosun::host::{types, log,
/// fs, ...}`, `host::bosun::plugin::types` and `host::wasi::...`.
pub mod host {
    wit_bindgen::generate!({
        inline: "
            package bosun:sdk;
            world shared {
                include bosun:host/imports@0.3.0;
                import bosun:plugin/types@0.3.0;
            }
        ",
        path: "../wit/since_v0.3.0",
        // wit-parser 0.239 cannot resolve the `@unstable` timezone import of
        // wasi:cli's world unless the feature is on; nothing here uses it.
        features: ["clocks-timezone"],
        generate_all,
    });
}

/// A kind world: its imports map to [`host`]'s modules (`with:`); only its
/// exported interface (`exports::bosun::plugin::<kind>`) is generated here.
#[allow(unused_macros)] // unused when no kind feature is enabled
macro_rules! kind_world {
    ($world:literal, $export_macro:literal, { $($with:tt)* }) => {
        wit_bindgen::generate!({
            world: $world,
            path: "../wit/since_v0.3.0",
            features: ["clocks-timezone"],
            pub_export_macro: true,
            export_macro_name: $export_macro,
            with: {
                "bosun:plugin/types@0.3.0": crate::bindings::host::bosun::plugin::types,
                "bosun:host/types@0.3.0": crate::bindings::host::bosun::host::types,
                "bosun:host/log@0.3.0": crate::bindings::host::bosun::host::log,
                $($with)*
            },
            generate_all,
        });
    };
}

/// World `bosun:plugin/smoke-check`.
#[cfg(feature = "smoke-check")]
pub mod smoke_check {
    kind_world!("bosun:plugin/smoke-check@0.3.0", "__bosun_export_smoke_check_world", {
        "bosun:host/docker@0.3.0": crate::bindings::host::bosun::host::docker,
        "bosun:host/process@0.3.0": crate::bindings::host::bosun::host::process,
        "bosun:host/notify@0.3.0": crate::bindings::host::bosun::host::notify,
        "bosun:host/net@0.3.0": crate::bindings::host::bosun::host::net,
        "wasi:http/types@0.2.12": crate::bindings::host::wasi::http::types,
        "wasi:http/outgoing-handler@0.2.12": crate::bindings::host::wasi::http::outgoing_handler,
        "wasi:io/error@0.2.12": crate::bindings::host::wasi::io::error,
        "wasi:io/poll@0.2.12": crate::bindings::host::wasi::io::poll,
        "wasi:io/streams@0.2.12": crate::bindings::host::wasi::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": crate::bindings::host::wasi::clocks::monotonic_clock,
    });
}

/// World `bosun:plugin/backup-strategy`.
#[cfg(feature = "backup-strategy")]
pub mod backup_strategy {
    kind_world!("bosun:plugin/backup-strategy@0.3.0", "__bosun_export_backup_strategy_world", {
        "bosun:host/fs@0.3.0": crate::bindings::host::bosun::host::fs,
        "bosun:host/docker@0.3.0": crate::bindings::host::bosun::host::docker,
        "bosun:host/process@0.3.0": crate::bindings::host::bosun::host::process,
        "bosun:host/notify@0.3.0": crate::bindings::host::bosun::host::notify,
    });
}

/// World `bosun:plugin/naming-template`.
#[cfg(feature = "naming-template")]
pub mod naming_template {
    kind_world!("bosun:plugin/naming-template@0.3.0", "__bosun_export_naming_template_world", {
        "bosun:host/docker@0.3.0": crate::bindings::host::bosun::host::docker,
    });
}

/// World `bosun:plugin/notifier`.
#[cfg(feature = "notifier")]
pub mod notifier {
    kind_world!("bosun:plugin/notifier@0.3.0", "__bosun_export_notifier_world", {
        "bosun:host/notify@0.3.0": crate::bindings::host::bosun::host::notify,
        "wasi:http/types@0.2.12": crate::bindings::host::wasi::http::types,
        "wasi:http/outgoing-handler@0.2.12": crate::bindings::host::wasi::http::outgoing_handler,
        "wasi:io/error@0.2.12": crate::bindings::host::wasi::io::error,
        "wasi:io/poll@0.2.12": crate::bindings::host::wasi::io::poll,
        "wasi:io/streams@0.2.12": crate::bindings::host::wasi::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": crate::bindings::host::wasi::clocks::monotonic_clock,
    });
}

/// World `bosun:plugin/pipeline-step`.
#[cfg(feature = "pipeline-step")]
pub mod pipeline_step {
    kind_world!("bosun:plugin/pipeline-step@0.3.0", "__bosun_export_pipeline_step_world", {
        "bosun:host/fs@0.3.0": crate::bindings::host::bosun::host::fs,
        "bosun:host/docker@0.3.0": crate::bindings::host::bosun::host::docker,
        "bosun:host/process@0.3.0": crate::bindings::host::bosun::host::process,
        "bosun:host/notify@0.3.0": crate::bindings::host::bosun::host::notify,
        "bosun:host/net@0.3.0": crate::bindings::host::bosun::host::net,
        "wasi:http/types@0.2.12": crate::bindings::host::wasi::http::types,
        "wasi:http/outgoing-handler@0.2.12": crate::bindings::host::wasi::http::outgoing_handler,
        "wasi:io/error@0.2.12": crate::bindings::host::wasi::io::error,
        "wasi:io/poll@0.2.12": crate::bindings::host::wasi::io::poll,
        "wasi:io/streams@0.2.12": crate::bindings::host::wasi::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": crate::bindings::host::wasi::clocks::monotonic_clock,
    });
}
