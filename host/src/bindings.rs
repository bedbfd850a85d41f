//! Host bindings generated from `wit/`. The shared interfaces are generated once
//! (world `host-api`) and every plugin-kind world reuses them, so one set of
//! host implementations serves all kinds.

pub mod host_api {
    wasmtime::component::bindgen!({
        world: "bosun:plugin/host-api",
        path: "../wit",
        imports: { default: async },
        require_store_data_send: true,
        with: {
            "wasi": wasmtime_wasi::p2::bindings,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

pub use host_api::bosun::plugin::{docker, fs, log, net, notify, process, types};

/// A plugin-kind world reusing the shared interfaces; `with` must list exactly
/// the interfaces the world references, so each world names its own.
macro_rules! kind_world {
    ($module:ident, $world:literal, { $($with:tt)* }) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../wit",
                imports: { default: async },
                exports: { default: async },
                require_store_data_send: true,
                with: {
                    "bosun:plugin/types": super::types,
                    "bosun:plugin/log": super::log,
                    $($with)*
                },
            });
        }
    };
}

kind_world!(smoke_check, "bosun:plugin/smoke-check", {
    "bosun:plugin/docker": super::docker,
    "bosun:plugin/process": super::process,
    "bosun:plugin/notify": super::notify,
    "bosun:plugin/net": super::net,
    "wasi": wasmtime_wasi::p2::bindings,
    "wasi:http": wasmtime_wasi_http::p2::bindings::http,
});
kind_world!(backup_strategy, "bosun:plugin/backup-strategy", {
    "bosun:plugin/docker": super::docker,
    "bosun:plugin/fs": super::fs,
    "bosun:plugin/process": super::process,
    "bosun:plugin/notify": super::notify,
});
kind_world!(naming_template, "bosun:plugin/naming-template", {
    "bosun:plugin/docker": super::docker,
});
kind_world!(notifier, "bosun:plugin/notifier", {
    "bosun:plugin/notify": super::notify,
    "wasi": wasmtime_wasi::p2::bindings,
    "wasi:http": wasmtime_wasi_http::p2::bindings::http,
});

pub use backup_strategy::bosun::plugin::backup_types;
pub use smoke_check::bosun::plugin::check_types;

impl types::HostError {
    /// What went wrong, whatever the kind.
    pub fn into_message(self) -> String {
        match self {
            types::HostError::Denied(m) | types::HostError::NotFound(m) | types::HostError::Invalid(m) | types::HostError::Failed(m) | types::HostError::TimedOut(m) => m,
        }
    }
}
