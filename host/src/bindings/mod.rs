//! Host bindings generated from `wit/`, one module per plugin API version.
//!
//! The current version (0.3, `wit/since_v0.3.0`) is at the top: the host
//! interfaces (`bosun:host`) are generated once, from the world
//! `bosun:host/imports`, and every plugin-kind world (`bosun:plugin`) reuses
//! them, so one set of host implementations serves all kinds. [`v0_2`] is the
//! previous version, still linked so plugins built for it load and run; its
//! types convert to and from these ([`v0_2::Convert`]).

pub mod v0_2;

pub mod host_api {
    wasmtime::component::bindgen!({
        world: "bosun:host/imports",
        path: "../wit/since_v0.3.0",
        imports: { default: async },
        require_store_data_send: true,
        // Tests compare answers whole.
        additional_derives: [PartialEq],
        with: {
            "wasi": wasmtime_wasi::p2::bindings,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

pub use host_api::bosun::host::{docker, fs, log, net, notify, process, types};

/// A plugin-kind world reusing the shared interfaces; `with` must list exactly
/// the interfaces the world references, so each world names its own.
macro_rules! kind_world {
    ($module:ident, $world:literal, { $($with:tt)* }) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../wit/since_v0.3.0",
                imports: { default: async },
                exports: { default: async },
                require_store_data_send: true,
                with: {
                    "bosun:host/types": super::types,
                    "bosun:host/log": super::log,
                    $($with)*
                },
            });
        }
    };
}

// The first world generates `bosun:plugin/types` (run context, plugin error);
// the others reuse it.
kind_world!(smoke_check, "bosun:plugin/smoke-check", {
    "bosun:host/docker": super::docker,
    "bosun:host/process": super::process,
    "bosun:host/notify": super::notify,
    "bosun:host/net": super::net,
    "wasi": wasmtime_wasi::p2::bindings,
    "wasi:http": wasmtime_wasi_http::p2::bindings::http,
});
kind_world!(backup_strategy, "bosun:plugin/backup-strategy", {
    "bosun:plugin/types": super::plugin_types,
    "bosun:host/docker": super::docker,
    "bosun:host/fs": super::fs,
    "bosun:host/process": super::process,
    "bosun:host/notify": super::notify,
});
kind_world!(naming_template, "bosun:plugin/naming-template", {
    "bosun:plugin/types": super::plugin_types,
    "bosun:host/docker": super::docker,
});
kind_world!(notifier, "bosun:plugin/notifier", {
    "bosun:plugin/types": super::plugin_types,
    "bosun:host/notify": super::notify,
    "wasi": wasmtime_wasi::p2::bindings,
    "wasi:http": wasmtime_wasi_http::p2::bindings::http,
});

kind_world!(pipeline_step, "bosun:plugin/pipeline-step", {
    "bosun:plugin/types": super::plugin_types,
    "bosun:host/docker": super::docker,
    "bosun:host/fs": super::fs,
    "bosun:host/process": super::process,
    "bosun:host/notify": super::notify,
    "bosun:host/net": super::net,
    "wasi": wasmtime_wasi::p2::bindings,
    "wasi:http": wasmtime_wasi_http::p2::bindings::http,
});

pub use smoke_check::bosun::plugin::types as plugin_types;
/// What a pipeline step plugin answers (`bosun:plugin/step`).
pub use pipeline_step::exports::bosun::plugin::step as step_types;
/// What a backup strategy is asked and answers (`bosun:plugin/backup`).
pub use backup_strategy::exports::bosun::plugin::backup as backup_types;
/// What a smoke check answers (`bosun:plugin/check`).
pub use smoke_check::exports::bosun::plugin::check as check_types;

impl types::HostError {
    /// What went wrong, whatever the kind.
    pub fn into_message(self) -> String {
        match self {
            types::HostError::Denied(m) | types::HostError::NotFound(m) | types::HostError::Invalid(m) | types::HostError::Failed(m) | types::HostError::TimedOut(m) => m,
        }
    }
}

/// The words the engine spells these values with (and API 0.2 passed on).
macro_rules! engine_words {
    ($($module:ident::$enum:ident { $($case:ident => $word:literal),* $(,)? })*) => {$(
        impl $module::$enum {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$case => $word),* }
            }

            pub fn from_word(word: &str) -> Option<Self> {
                match word { $($word => Some(Self::$case),)* _ => None }
            }
        }
    )*};
}

engine_words! {
    docker::ContainerState {
        Created => "created",
        Running => "running",
        Paused => "paused",
        Restarting => "restarting",
        Removing => "removing",
        Exited => "exited",
        Dead => "dead",
    }
    docker::Health { Starting => "starting", Healthy => "healthy", Unhealthy => "unhealthy" }
    docker::MountKind { Bind => "bind", Volume => "volume", Tmpfs => "tmpfs", Npipe => "npipe", Cluster => "cluster", Image => "image" }
}

impl types::Digest {
    /// The sha256 digest `hex` (lower-case hex), the only kind the host makes.
    pub fn sha256(hex: String) -> types::Digest {
        types::Digest { algorithm: "sha256".into(), hex }
    }
}
