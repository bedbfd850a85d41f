//! Plugins: loading, compiling (with an on-disk cache), instantiating and
//! calling wasm components; their manifests; the store of installed plugins.

pub mod builtin;
pub mod config_schema;
mod cache;
pub mod engine;
pub mod error;
pub mod kinds;
pub mod manifest;
pub mod runtime;
pub mod store;

pub use cache::CacheOutcome;
pub use error::PluginError;
pub use manifest::{Api, Kind, Manifest};
pub use runtime::{CallSetup, Called, Limits, Plugin, Runtime};
