//! `bosun doctor`: is this machine and this bosun.toml ready?

use std::path::PathBuf;

use serde::Serialize;

use crate::app::{App, builtin_manifests};
use super::output::Output;
use crate::failure::{FAILED, Failure};
use crate::capability::{Grants, Policy};

#[derive(Serialize)]
struct Finding {
    area: &'static str,
    ok: bool,
    detail: String,
}

pub async fn run(config: Option<PathBuf>, out: Output) -> Result<(), Failure> {
    let mut findings = Vec::new();
    let mut push = |area, ok, detail: String| findings.push(Finding { area, ok, detail });
    match App::load(config) {
        Ok(app) => {
            let source = app.config.source.as_ref().map_or("embedded defaults".to_string(), |p| p.display().to_string());
            push("config", true, format!("{source} (project {}, env {})", app.config.project.name, app.config.project.env));
            for (name, settings) in &app.config.plugins {
                check_grant(&app, name, settings, &mut push);
            }
            match app.runtime() {
                Ok(runtime) => push("runtime", true, format!("wasmtime with the {} allocator", runtime.allocator.as_str())),
                Err(e) => push("runtime", false, format!("{e:#}")),
            }
            match app.store().list() {
                Ok(installed) => push("plugins", true, format!("{} built-in, {} installed", builtin_manifests().count(), installed.len())),
                Err(e) => push("plugins", false, format!("{e:#}")),
            }
        }
        Err(e) => push("config", false, e.to_string()),
    }
    match crate::docker::open().await {
        Ok(docker) => match crate::docker::ping(&docker).await {
            Ok(version) => push("docker", true, format!("engine {version}")),
            Err(e) => push("docker", false, format!("{e:#}")),
        },
        Err(e) => push("docker", false, format!("{e:#}")),
    }
    match bosun_plugin_build::detect_toolchain() {
        Ok(toolchain) => push("toolchain", true, toolchain.describe()),
        Err(e) => push("toolchain", false, format!("{e} (needed only to build plugins)")),
    }
    let healthy = findings.iter().all(|f| f.ok);
    out.print(&findings, || {
        findings.iter().map(|f| format!("{} {:<10} {}", if f.ok { "ok  " } else { "FAIL" }, f.area, f.detail)).collect::<Vec<_>>().join("\n")
    });
    if healthy { Ok(()) } else { Err(Failure::silent(FAILED)) }
}

fn check_grant(app: &App, name: &str, settings: &crate::config::PluginSettings, push: &mut impl FnMut(&'static str, bool, String)) {
    let grants = match Grants::parse(&settings.grant) {
        Ok(g) => g,
        Err(e) => return push("grants", false, format!("[plugins.{name}.grant] {e}")),
    };
    for missing in grants.fs.missing_paths() {
        push("grants", false, format!("[plugins.{name}.grant] fs: {} does not exist", missing.display()));
    }
    match app.plugin(name) {
        Ok(plugin) => match Policy::new(name, &plugin.manifest.capabilities, &settings.grant) {
            Ok(_) => push("grants", true, format!("[plugins.{name}] {} grant entries", settings.grant.lines().len())),
            Err(e) => push("grants", false, e),
        },
        Err(e) => push("grants", false, format!("[plugins.{name}] {e:#}")),
    }
}
