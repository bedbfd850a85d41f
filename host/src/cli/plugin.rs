//! `bosun plugin new|build|install|list|inspect|remove`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::app::{App, builtin_manifests, read_plugin_file};
use super::output::{Failure, Output};
use crate::plugin::manifest::valid_plugin_name;
use crate::plugin::store::{InstallPlan, digest_of};
use crate::plugin::{Kind, Manifest};

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Create a plugin crate: `bosun plugin new smoke-check disk-free`.
    New {
        /// smoke-check, backup-strategy, naming-template, notifier or pipeline-step.
        kind: String,
        name: String,
        /// Parent directory of the new crate (default: current directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Compile a plugin crate to a wasm component.
    Build {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Validate a component (or build a crate directory) and install it.
    Install {
        /// A .wasm component or a plugin crate directory.
        path: PathBuf,
        /// Replace an installed plugin of the same name with this build.
        #[arg(long)]
        upgrade: bool,
        /// Accept added capabilities without asking.
        #[arg(long)]
        yes: bool,
        /// Refuse the file unless its sha256 is this (hex, optionally `sha256:`-prefixed).
        #[arg(long)]
        sha256: Option<String>,
    },
    /// Installed and built-in plugins.
    List,
    /// A plugin's manifest: kind, version, capabilities, config keys.
    Inspect {
        /// An installed or built-in plugin's name, or a .wasm file.
        plugin: String,
    },
    /// Uninstall a plugin.
    Remove { name: String },
}

pub async fn run(command: PluginCommand, config: Option<PathBuf>, out: Output) -> Result<(), Failure> {
    match command {
        PluginCommand::New { kind, name, dir } => new(&kind, &name, &dir, out),
        PluginCommand::Build { dir } => build(&dir, out).map(|_| ()),
        PluginCommand::Install { path, upgrade, yes, sha256 } => install(&App::load(config)?, &path, upgrade, yes, sha256.as_deref(), out),
        PluginCommand::List => list(&App::load(config)?, out),
        PluginCommand::Inspect { plugin } => inspect(&App::load(config)?, &plugin, out),
        PluginCommand::Remove { name } => remove(&App::load(config)?, &name, out),
    }
}

fn new(kind: &str, name: &str, parent: &Path, out: Output) -> Result<(), Failure> {
    let kind = Kind::parse(kind).ok_or_else(|| {
        Failure::bad_input(format!("{kind:?} is not a plugin kind; use one of: {}", Kind::ALL.map(|k| k.as_str()).join(", ")))
    })?;
    if !valid_plugin_name(name) {
        return Err(Failure::bad_input(format!("{name:?} is not a plugin name: use lower-case letters, digits and `-`, starting with a letter")));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(Failure::bad_input(format!("{} already exists; pick another name or --dir", dir.display())));
    }
    super::scaffold::write(kind, name, &dir).map_err(|e| Failure::failed(format!("creating {}: {e:#}", dir.display())))?;
    out.print(&serde_json::json!({ "created": dir, "kind": kind }), || {
        format!("created {kind} plugin {name} in {}\nnext: bosun plugin build {0} && bosun plugin install {0}", dir.display())
    });
    Ok(())
}

fn build(dir: &Path, out: Output) -> Result<Vec<PathBuf>, Failure> {
    let toolchain = bosun_plugin_build::detect_toolchain().map_err(|e| Failure::failed(e.to_string()))?;
    let opts = bosun_plugin_build::BuildOptions { manifest_path: dir.join("Cargo.toml"), target_dir: None, toolchain, quiet: out.json };
    let built = bosun_plugin_build::build(&opts).map_err(|e| Failure::failed(format!("{e:#}")))?;
    let paths: Vec<PathBuf> = built.into_iter().map(|b| b.component).collect();
    out.print(&serde_json::json!({ "components": paths }), || paths.iter().map(|p| format!("built {}", p.display())).collect::<Vec<_>>().join("\n"));
    Ok(paths)
}

fn install(app: &App, path: &Path, upgrade: bool, yes: bool, sha256: Option<&str>, out: Output) -> Result<(), Failure> {
    let file = if path.is_dir() {
        let mut built = build(path, Output { json: true })?;
        if built.len() != 1 {
            return Err(Failure::bad_input(format!("{} built {} plugins; install one of the .wasm files", path.display(), built.len())));
        }
        built.remove(0)
    } else {
        path.to_path_buf()
    };
    let wasm = read_plugin_file(&file)?;
    let digest = digest_of(&wasm);
    if let Some(expected) = sha256 {
        let expected = format!("sha256:{}", expected.trim_start_matches("sha256:").to_ascii_lowercase());
        if expected != digest {
            return Err(Failure::bad_input(format!("{}: digest mismatch: the file is {digest}, expected {expected}; nothing installed", file.display())));
        }
    }
    // Compiling and linking proves the component runs on this host before the store is touched.
    let origin = file.display().to_string();
    let plugin = app.runtime()?.load(&wasm, &origin).map_err(|e| Failure::bad_input(format!("{e}; nothing installed")))?;
    let manifest = &plugin.manifest;
    if builtin_manifests().any(|b| b.name == manifest.name) {
        return Err(Failure::bad_input(format!("{} is the name of a built-in plugin; rename yours in bosun-plugin.toml; nothing installed", manifest.name)));
    }
    let store = app.store();
    match store.plan(manifest, &digest)? {
        InstallPlan::AlreadyInstalled => {
            out.print(&serde_json::json!({ "name": manifest.name, "digest": digest, "changed": false }), || {
                format!("{} {} is already installed ({digest})", manifest.name, manifest.version)
            });
            return Ok(());
        }
        InstallPlan::Upgrade { .. } if !upgrade => {
            return Err(Failure::bad_input(format!(
                "plugin {} is installed with a different digest; pass --upgrade to replace it; nothing installed",
                manifest.name
            )));
        }
        InstallPlan::Upgrade { from_version, added } if !added.is_empty() => {
            let diff = added.lines().iter().map(|l| format!("  + {l}")).collect::<Vec<_>>().join("\n");
            eprintln!("{} {from_version} -> {} asks for more capabilities:\n{diff}", manifest.name, manifest.version);
            confirm(yes, "accept them?")?;
        }
        InstallPlan::New if !manifest.capabilities.is_empty() && !out.json => {
            eprintln!("{} {} requests:\n{}", manifest.name, manifest.version, manifest.capabilities.lines().iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"));
            eprintln!("(it can use only what you also grant under [plugins.{}.grant] in bosun.toml)", manifest.name);
        }
        _ => {}
    }
    let installed = store.install(manifest, &wasm)?;
    out.print(&serde_json::json!({ "name": manifest.name, "installed": installed, "changed": true }), || {
        format!("installed {} {} ({}) {digest}", manifest.name, manifest.version, manifest.kind)
    });
    Ok(())
}

fn confirm(yes: bool, question: &str) -> Result<(), Failure> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::bad_input("more capabilities need confirmation: rerun with --yes to accept them; nothing installed"));
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| Failure::failed(e.to_string()))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") { Ok(()) } else { Err(Failure::failed("not confirmed; nothing installed")) }
}

fn list(app: &App, out: Output) -> Result<(), Failure> {
    let rows = crate::ops::plugins::list(app)?;
    out.print(&rows, || {
        rows.iter().map(|r| format!("{:<20} {:<10} {:<16} {}", r.name, r.version, r.kind.as_str(), r.digest.as_deref().unwrap_or(r.source))).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}

fn inspect(app: &App, plugin: &str, out: Output) -> Result<(), Failure> {
    let (manifest, digest) = if Path::new(plugin).is_file() {
        let wasm = read_plugin_file(Path::new(plugin))?;
        (Manifest::read(&wasm, plugin)?, Some(digest_of(&wasm)))
    } else {
        crate::ops::plugins::manifest(app, plugin)?
    };
    let granted = app.granted(&manifest.name);
    out.print(&serde_json::json!({ "manifest": manifest, "digest": digest, "granted": granted }), || {
        let mut text = format!("{} {} ({})\n{}\napi {}\n", manifest.name, manifest.version, manifest.kind, manifest.description, manifest.api);
        if let Some(d) = &digest {
            text.push_str(&format!("digest {d}\n"));
        }
        text.push_str("requests:\n");
        for line in manifest.capabilities.lines() {
            text.push_str(&format!("  {line}\n"));
        }
        text.push_str(&format!("granted in bosun.toml [plugins.{}.grant]:\n", manifest.name));
        for line in granted.lines() {
            text.push_str(&format!("  {line}\n"));
        }
        text.push_str("config:\n");
        let keys = match &manifest.config_schema {
            Some(schema) => crate::plugin::config_schema::keys(schema).into_iter().map(|k| (k.name, k.kind, k.required, k.description)).collect(),
            None => manifest.config.iter().map(|(key, f)| (key.clone(), f.kind.clone(), f.required, f.description.clone())).collect::<Vec<_>>(),
        };
        for (key, kind, required, description) in keys {
            let required = if required { ", required" } else { "" };
            text.push_str(&format!("  {key} ({kind}{required}): {description}\n"));
        }
        text.trim_end().to_string()
    });
    Ok(())
}

fn remove(app: &App, name: &str, out: Output) -> Result<(), Failure> {
    if crate::app::builtin_bytes(name).is_some() && app.store().get(name)?.is_none() {
        return Err(Failure::bad_input(format!("{name} is a built-in plugin and cannot be removed")));
    }
    let removed = app.store().remove(name).map_err(|e| Failure::bad_input(e.to_string()))?;
    out.print(&serde_json::json!({ "removed": name, "digest": removed.digest }), || format!("removed {name} {}", removed.version));
    Ok(())
}
