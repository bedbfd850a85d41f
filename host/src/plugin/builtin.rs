//! The built-in plugins, compiled from plugins/ by build.rs and embedded in
//! the binary: always available, never installed or removed.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// Component bytes of every built-in plugin.
pub fn all() -> impl Iterator<Item = &'static [u8]> {
    BUILTIN.iter().map(|(_, bytes)| *bytes)
}
