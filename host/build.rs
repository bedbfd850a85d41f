//! Builds the built-in plugins (plugins/) into wasm components and embeds them,
//! so a `bosun` binary has them without an install step.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    for watched in ["plugins", "sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=BOSUN_WASM_TOOLCHAIN");

    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("wasm-plugins");
    let toolchain = bosun_plugin_build::detect_toolchain().unwrap_or_else(|e| panic!("building the built-in plugins: {e}"));
    let opts = bosun_plugin_build::BuildOptions {
        manifest_path: root.join("plugins/Cargo.toml"),
        target_dir: Some(target_dir),
        toolchain,
        quiet: true,
    };
    let built = bosun_plugin_build::build(&opts).unwrap_or_else(|e| panic!("building the built-in plugins: {e:#}"));

    let mut code = String::from("/// The built-in plugins as (crate name, component bytes).\npub static BUILTIN: &[(&str, &[u8])] = &[\n");
    for plugin in &built {
        code.push_str(&format!("    ({:?}, include_bytes!({:?})),\n", plugin.crate_name, plugin.component.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("builtin.rs");
    std::fs::write(out, code).unwrap();
}
