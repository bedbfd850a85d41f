//! The plugin manifest: a custom section named `bosun:manifest` holding UTF-8
//! TOML, embedded by every `export_*!` macro so a `.wasm` file describes itself.
//!
//! Its content is three lines written by the SDK followed by the plugin crate's
//! `bosun-plugin.toml`, verbatim:
//!
//! ```toml
//! api = "0.2.0"           # API_VERSION of the SDK (the WIT package version)
//! kind = "smoke-check"    # smoke-check | backup-strategy | naming-template | notifier
//! version = "0.3.1"       # CARGO_PKG_VERSION of the plugin crate
//! # --- bosun-plugin.toml ---
//! name = "http"
//! description = "One line"
//!
//! [capabilities]          # what the plugin asks for; the operator's grants narrow it
//! http = ["*"]            # scheme://host:port patterns, "*" = any
//! fs = ["ro:*", "rw:*"]   # ro:/rw: + path glob
//! docker = ["inspect:*"]  # action:name-glob
//! process = ["run:pg_dump **", "env:PGHOST", "find:postgres*"]  # run:/env:/find:, as grants
//! notify = ["check.*"]
//!
//! [config.url]            # config schema: one table per key
//! type = "string"         # string | integer | boolean | list | table | duration
//! required = true
//! description = "URL to request"
//! ```
//!
//! `bosun-plugin.toml` must therefore not set `api`, `kind` or `version`
//! itself, and must start with its top-level keys (`name`, `description`)
//! before any `[table]`.

/// The API version of the WIT package this SDK was generated from. The host
/// refuses plugins whose API it does not support, before compiling them.
pub const API_VERSION: &str = crate::__bosun_api_version!();

/// The name of the custom section holding the manifest.
pub const SECTION_NAME: &str = "bosun:manifest";

#[doc(hidden)]
#[macro_export]
macro_rules! __bosun_api_version {
    () => {
        "0.2.0"
    };
}

/// Copy a `&str` into a byte array at compile time (a `#[link_section]`
/// static must be an array, not a reference).
#[doc(hidden)]
pub const fn __bytes<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    assert!(b.len() == N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = b[i];
        i += 1;
    }
    out
}

/// Embed the `bosun:manifest` section for `kind` with API version `api` in the
/// crate that expands it (used by the `export_*!` macros).
#[doc(hidden)]
#[macro_export]
macro_rules! __bosun_manifest {
    ($kind:literal, $api:expr) => {
        const _: () = {
            const MANIFEST: &str = ::core::concat!(
                "api = \"",
                $api,
                "\"\nkind = \"",
                $kind,
                "\"\nversion = \"",
                ::core::env!("CARGO_PKG_VERSION"),
                "\"\n",
                ::core::include_str!(::core::concat!(
                    ::core::env!("CARGO_MANIFEST_DIR"),
                    "/bosun-plugin.toml"
                )),
            );
            #[cfg(target_arch = "wasm32")]
            #[used]
            #[unsafe(link_section = "bosun:manifest")]
            static MANIFEST_SECTION: [u8; MANIFEST.len()] = $crate::manifest::__bytes(MANIFEST);
        };
    };
}
