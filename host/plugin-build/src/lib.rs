//! Compiles a bosun plugin crate into a wasm component.
//!
//! Used by `bosun plugin build` and by bosun's own build script (which embeds the
//! built-in plugins). Two toolchain routes produce the same component:
//! a rustup `wasm32-wasip1` target, or Debian's `rustc-web` with `-Zbuild-std`.

mod cargo;
mod component;
mod schema;
mod toolchain;

pub use cargo::{BuildOptions, BuiltPlugin, build};
pub use component::{MANIFEST_SECTION, componentize, find_custom_section};
pub use schema::{CONFIG_SCHEMA_EXPORT, CONFIG_SCHEMA_KEY, config_schema};
pub use toolchain::{Toolchain, detect_toolchain};
