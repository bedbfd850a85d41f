//! The built-in plugins, compiled from plugins/ by build.rs and embedded in
//! the binary: always available, never installed or removed.

use std::sync::OnceLock;

use super::Manifest;

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

struct Builtin {
    manifest: Manifest,
    bytes: &'static [u8],
}

/// Manifests are read once per process (no compilation involved).
fn loaded() -> &'static [Builtin] {
    static LOADED: OnceLock<Vec<Builtin>> = OnceLock::new();
    LOADED.get_or_init(|| {
        BUILTIN
            .iter()
            .map(|(crate_name, bytes)| {
                let manifest = Manifest::read(bytes, crate_name).unwrap_or_else(|e| panic!("built-in plugin {crate_name} is broken: {e}"));
                Builtin { manifest, bytes }
            })
            .collect()
    })
}

pub fn manifests() -> impl Iterator<Item = &'static Manifest> {
    loaded().iter().map(|b| &b.manifest)
}

/// Component bytes of the built-in plugin called `name`.
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    loaded().iter().find(|b| b.manifest.name == name).map(|b| b.bytes)
}
