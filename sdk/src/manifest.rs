//! The plugin manifest: a custom section named `bosun:manifest` holding UTF-8
//! TOML, embedded by every `export_*!` macro so a `.wasm` file describes itself.
//!
//! Its content is three lines written by the SDK followed by the plugin crate's
//! `bosun-plugin.toml`, verbatim:
//!
//! ```toml
//! api = "0.3.0"           # API_VERSION of the SDK (the WIT package version)
//! kind = "smoke-check"    # smoke-check | backup-strategy | naming-template | notifier | pipeline-step
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
//! ```
//!
//! `bosun-plugin.toml` must therefore not set `api`, `kind` or `version`
//! itself, and must start with its top-level keys (`name`, `description`)
//! before any `[table]`.
//!
//! # The config schema
//!
//! A plugin's configuration (the keys of its bosun.toml table) is described
//! once, by the type it deserializes with [`Context::config`](crate::Context::config):
//! that type derives `schemars::JsonSchema` beside `serde::Deserialize`, and
//! the export macro names it:
//!
//! ```ignore
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Config {
//!     /// URL to fetch
//!     url: String,
//!     #[serde(default)]
//!     word: Option<String>,
//! }
//! bosun_sdk::export_check!(BodyContains, config = Config);
//! ```
//!
//! The macro then also exports the core function `bosun-config-schema`
//! ([`CONFIG_SCHEMA_EXPORT`]), which returns [`config_schema`] of the type.
//! The build (`bosun plugin build`, or bosun-plugin-build's `componentize`)
//! runs it once, in an interpreter with every import trapping, and writes the
//! schema into the manifest as its first key, a JSON string:
//!
//! ```toml
//! config-schema = "{\"type\":\"object\",\"properties\":{\"url\":{\"type\":\"string\"}, …}"
//! ```
//!
//! bosun checks every bosun.toml table that configures the plugin against it
//! when it loads the file, so `condtions = […]` is refused there (with the
//! line, and `did you mean conditions?`) instead of being ignored. Doc
//! comments become the keys' descriptions (`bosun plugin inspect` shows them).
//! `bosun-plugin.toml` has no `[config.*]` tables then: the build refuses a
//! manifest that has both. A plugin built without a config type has no
//! schema, and bosun checks nothing more than the plugin itself does.

/// The API version of the WIT package this SDK was generated from. The host
/// refuses plugins whose API it does not support, before compiling them.
pub const API_VERSION: &str = crate::__bosun_api_version!();

/// The name of the custom section holding the manifest.
pub const SECTION_NAME: &str = "bosun:manifest";

/// The core export that returns the config type's schema (see the module
/// docs); bosun-plugin-build calls it by this name.
pub const CONFIG_SCHEMA_EXPORT: &str = "bosun-config-schema";

/// The JSON Schema (draft 2020-12) of the config type `T`, as the build
/// embeds it: every table `T` describes is closed (`additionalProperties:
/// false` unless it is a map), since [`Context::config`](crate::Context::config)
/// refuses keys no field takes.
pub fn config_schema<T: schemars::JsonSchema>() -> String {
    let generator = schemars::generate::SchemaSettings::draft2020_12().for_deserialize().with_transform(Closed).into_generator();
    let schema = generator.into_root_schema_for::<T>();
    serde_json::to_string(&schema).expect("a schema is JSON")
}

/// Sets `additionalProperties: false` on every schema with `properties` that
/// says nothing about other keys.
#[derive(Clone)]
struct Closed;

impl schemars::transform::Transform for Closed {
    fn transform(&mut self, schema: &mut schemars::Schema) {
        if let Some(object) = schema.as_object_mut()
            && object.contains_key("properties")
            && !object.contains_key("additionalProperties")
            && !object.contains_key("unevaluatedProperties")
        {
            object.insert("additionalProperties".into(), false.into());
        }
        schemars::transform::transform_subschemas(self, schema);
    }
}

/// [`config_schema`] of `T` as the export returns it: the text is leaked
/// (the export is called once, by the build), its address in the high 32
/// bits and its length in the low ones.
#[doc(hidden)]
pub fn __config_schema<T: schemars::JsonSchema>() -> u64 {
    let text = config_schema::<T>().leak();
    ((text.as_ptr() as usize as u64) << 32) | text.len() as u64
}

/// Export [`CONFIG_SCHEMA_EXPORT`] for config type `$config` (used by the
/// `export_*!` macros' `config = T` form).
#[doc(hidden)]
#[macro_export]
macro_rules! __bosun_config_schema {
    ($config:ty) => {
        const _: () = {
            #[cfg(target_arch = "wasm32")]
            #[unsafe(export_name = "bosun-config-schema")]
            extern "C" fn __bosun_config_schema() -> u64 {
                $crate::manifest::__config_schema::<$config>()
            }
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __bosun_api_version {
    () => {
        "0.3.0"
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Probe {
        /// URL to request
        url: String,
        #[serde(default)]
        conditions: Vec<String>,
        #[serde(default)]
        headers: BTreeMap<String, String>,
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Config {
        #[serde(flatten)]
        probe: Probe,
        #[serde(default = "five")]
        timeout_ms: u64,
        #[serde(default)]
        follow: Vec<Probe>,
    }

    fn five() -> u64 {
        5
    }

    #[test]
    fn every_table_of_the_config_type_is_closed_and_maps_stay_open() {
        let schema: Value = serde_json::from_str(&super::config_schema::<Config>()).unwrap();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["additionalProperties"], false, "{schema:#}");
        let properties = schema["properties"].as_object().unwrap();
        let keys: Vec<&str> = properties.keys().map(String::as_str).collect();
        assert_eq!(keys, ["conditions", "follow", "headers", "timeout_ms", "url"], "{schema:#}");
        assert_eq!(schema["required"], json!(["url"]));
        assert_eq!(properties["url"]["description"], "URL to request");
        assert_eq!(properties["timeout_ms"]["default"], 5);
        assert_eq!(properties["headers"]["additionalProperties"], json!({"type": "string"}));
        // The follow-up probes are tables of their own, closed as well.
        let reference = properties["follow"]["items"]["$ref"].as_str().unwrap();
        let probe = schema.pointer(reference.trim_start_matches('#')).unwrap();
        assert_eq!(probe["additionalProperties"], false, "{schema:#}");
    }

    #[test]
    fn the_export_returns_address_and_length() {
        let packed = super::__config_schema::<Probe>();
        let (address, length) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        assert_eq!(length, super::config_schema::<Probe>().len());
        assert!(address != 0 || cfg!(target_pointer_width = "64"));
    }
}
