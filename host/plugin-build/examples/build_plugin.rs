//! `cargo run --example build_plugin -- <crate-dir>`: build a plugin crate into a
//! component without the rest of bosun (used while developing the SDK).
fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let opts = bosun_plugin_build::BuildOptions {
        manifest_path: std::path::Path::new(&dir).join("Cargo.toml"),
        target_dir: None,
        toolchain: bosun_plugin_build::detect_toolchain()?,
        quiet: false,
    };
    for plugin in bosun_plugin_build::build(&opts)? {
        println!("{}", plugin.component.display());
    }
    Ok(())
}
