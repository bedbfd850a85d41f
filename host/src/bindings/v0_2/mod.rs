//! The previous plugin API, `bosun:plugin@0.2.0` (`wit/since_v0.2.0`, frozen),
//! still linked so every plugin built for it loads and runs. Its host
//! interfaces are served by the 0.3 implementations through [`Convert`]; its
//! loose exports are called and their answers converted the same way.

mod convert;

pub use convert::{Convert, digest_reference};

pub mod host_api {
    wasmtime::component::bindgen!({
        world: "bosun:plugin/host-api",
        path: "../wit/since_v0.2.0",
        imports: { default: async },
        require_store_data_send: true,
        with: {
            "wasi": wasmtime_wasi::p2::bindings,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

pub use host_api::bosun::plugin::{docker, fs, log, net, notify, process, types};

macro_rules! kind_world {
    ($module:ident, $world:literal, { $($with:tt)* }) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../wit/since_v0.2.0",
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
