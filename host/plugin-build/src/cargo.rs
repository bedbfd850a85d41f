use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::component::componentize;
use crate::toolchain::{Toolchain, WASM_TARGET};

/// What to build and where.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// A plugin crate or a workspace of plugin crates (its Cargo.toml).
    pub manifest_path: PathBuf,
    /// Cargo's target directory; `None` uses the crate's own.
    pub target_dir: Option<PathBuf>,
    pub toolchain: Toolchain,
    /// Print cargo's progress to stderr (off inside build scripts).
    pub quiet: bool,
}

/// One compiled plugin.
#[derive(Debug, Clone)]
pub struct BuiltPlugin {
    /// The crate's library name (`my_check`).
    pub crate_name: String,
    /// The wasm component ready to install.
    pub component: PathBuf,
}

/// Builds every `cdylib` in `opts.manifest_path` for wasm32-wasip1 and turns each
/// core module into a component written next to it as `<name>.component.wasm`.
pub fn build(opts: &BuildOptions) -> Result<Vec<BuiltPlugin>> {
    if !opts.manifest_path.is_file() {
        bail!(
            "{} not found: point `bosun plugin build` at a plugin crate directory",
            opts.manifest_path.display()
        );
    }
    let mut cmd = cargo_command(opts);
    let mut child = cmd.spawn().context("could not start cargo; is it on PATH?")?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut cores = Vec::new();
    for line in BufReader::new(stdout).lines() {
        if let Some(core) = cdylib_artifact(&line?) {
            cores.push(core);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cargo build of {} failed (see the errors above)", opts.manifest_path.display());
    }
    if cores.is_empty() {
        bail!(
            "{} produced no cdylib: a plugin crate needs `[lib] crate-type = [\"cdylib\"]`",
            opts.manifest_path.display()
        );
    }
    cores.into_iter().map(|(name, core)| write_component(name, &core)).collect()
}

fn write_component(crate_name: String, core: &Path) -> Result<BuiltPlugin> {
    let bytes = std::fs::read(core).with_context(|| format!("reading {}", core.display()))?;
    let component = componentize(&bytes).with_context(|| format!("componentizing {}", core.display()))?;
    let path = core.with_extension("component.wasm");
    let tmp = core.with_extension("component.wasm.tmp");
    std::fs::write(&tmp, component)?;
    std::fs::rename(&tmp, &path)?;
    Ok(BuiltPlugin { crate_name, component: path })
}

fn cargo_command(opts: &BuildOptions) -> Command {
    let mut cmd = Command::new(std::env::var_os("BOSUN_CARGO").unwrap_or_else(|| "cargo".into()));
    scrub_cargo_env(&mut cmd);
    cmd.arg("build")
        .arg("--release")
        .arg("--message-format=json-render-diagnostics")
        .arg("--target")
        .arg(WASM_TARGET)
        .arg("--manifest-path")
        .arg(&opts.manifest_path)
        .stdout(Stdio::piped());
    if opts.quiet {
        cmd.arg("--quiet");
    }
    if let Some(dir) = &opts.target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    if let Toolchain::DebianBuildStd { rustc } = &opts.toolchain {
        // Debian's rustc has the std source but no prebuilt wasm std: build it.
        cmd.env("RUSTC", rustc)
            .env("RUSTC_BOOTSTRAP", "1")
            .env(
                "RUSTFLAGS",
                "-C linker=wasm-ld -C link-self-contained=no -L /usr/lib/wasm32-wasi",
            )
            .arg("-Zbuild-std=std,panic_abort");
    }
    cmd
}

/// Inside a build script cargo exports its own settings (RUSTC, flags, target
/// dir, jobserver); the nested build must not inherit them.
fn scrub_cargo_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let cargo_internal = key.starts_with("CARGO_") && key != "CARGO_HOME";
        let rust_internal = matches!(
            key,
            "RUSTC" | "RUSTC_WRAPPER" | "RUSTC_WORKSPACE_WRAPPER" | "RUSTDOC" | "RUSTFLAGS"
                | "RUSTDOCFLAGS" | "TARGET" | "HOST" | "OUT_DIR" | "PROFILE" | "OPT_LEVEL"
                | "DEBUG" | "NUM_JOBS" | "MAKEFLAGS" | "MFLAGS" | "RUSTC_BOOTSTRAP"
        );
        if cargo_internal || rust_internal || key.starts_with("DEP_") {
            cmd.env_remove(key);
        }
    }
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    filenames: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

fn cdylib_artifact(line: &str) -> Option<(String, PathBuf)> {
    let msg: Message = serde_json::from_str(line).ok()?;
    let target = msg.target.filter(|t| msg.reason == "compiler-artifact" && t.kind.iter().any(|k| k == "cdylib"))?;
    let wasm = msg.filenames.into_iter().find(|f| f.extension().is_some_and(|e| e == "wasm"))?;
    Some((target.name, wasm))
}
