//! `bosun doctor`: is this machine and this bosun.toml ready?

use std::path::PathBuf;

use serde::Serialize;

use crate::app::{App, builtin_manifests};
use super::output::Output;
use crate::failure::{FAILED, Failure};
use crate::capability::{Grants, Policy};
use crate::ops::deploy::client::DockerClient;

#[derive(Serialize)]
struct Finding {
    area: &'static str,
    ok: bool,
    /// Works, but worth a look (a grant wider than it seems).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    warning: bool,
    detail: String,
}

pub async fn run(config: Option<PathBuf>, out: Output) -> Result<(), Failure> {
    let mut findings = Vec::new();
    let mut push = |area, ok, detail: String| findings.push(Finding { area, ok, warning: false, detail });
    let mut warnings = Vec::new();
    let app = App::load(config);
    match &app {
        Ok(app) => {
            let source = app.config.source.as_ref().map_or("embedded defaults".to_string(), |p| p.display().to_string());
            match crate::ops::plugin_config::check(app) {
                Ok(()) => push("config", true, format!("{source} (project {}, env {})", app.config.project.name, app.config.project.env)),
                Err(e) => push("config", false, e.to_string()),
            }
            for (name, settings) in &app.config.plugins {
                check_grant(app, name, settings, &mut push);
                warnings.extend(grant_warnings(name, settings));
            }
            match app.runtime() {
                Ok(runtime) => push("runtime", true, format!("wasmtime with the {} allocator", runtime.allocator.as_str())),
                Err(e) => push("runtime", false, format!("{e:#}")),
            }
            match app.store().list() {
                Ok(installed) => push("plugins", true, format!("{} built-in, {} installed", builtin_manifests().count(), installed.len())),
                Err(e) => push("plugins", false, format!("{e:#}")),
            }
            if !app.config.checks.is_empty() {
                let names: Vec<&str> = app.config.checks.keys().map(String::as_str).collect();
                match crate::ops::check::validate(app, &names).await {
                    Ok(()) => push("checks", true, format!("the {} check(s) accept their configuration", names.len())),
                    Err(problems) => push("checks", false, problems.join("; ")),
                }
            }
        }
        Err(e) => push("config", false, e.to_string()),
    }
    match crate::docker::open().await {
        Ok(docker) => match crate::docker::ping(&docker).await {
            Ok(version) => {
                push("docker", true, format!("engine {version}"));
                if let Ok(app) = &app {
                    check_images(app, DockerClient { docker }, &mut push).await;
                }
            }
            Err(e) => push("docker", false, format!("{e:#}")),
        },
        Err(e) => push("docker", false, format!("{e:#}")),
    }
    if let Ok(app) = &app {
        for name in app.config.hosts.keys() {
            match crate::ops::hosts::connect(&app.config, name).await {
                Ok(connection) => match crate::docker::ping(&connection.client).await {
                    Ok(version) => push("hosts", true, format!("host {name} ({}): engine {version}", connection.endpoint)),
                    Err(e) => push("hosts", false, format!("host {name}: {e:#}")),
                },
                Err(e) => push("hosts", false, format!("{e:#}")),
            }
        }
    }
    match bosun_plugin_build::detect_toolchain() {
        Ok(toolchain) => push("toolchain", true, toolchain.describe()),
        Err(e) => push("toolchain", false, format!("{e} (needed only to build plugins)")),
    }
    findings.extend(warnings.into_iter().map(|detail| Finding { area: "grants", ok: true, warning: true, detail }));
    let healthy = findings.iter().all(|f| f.ok);
    let status = |f: &Finding| match (f.ok, f.warning) {
        (false, _) => "FAIL",
        (true, true) => "WARN",
        (true, false) => "ok  ",
    };
    out.print(&findings, || findings.iter().map(|f| format!("{} {:<10} {}", status(f), f.area, f.detail)).collect::<Vec<_>>().join("\n"));
    if healthy { Ok(()) } else { Err(Failure::silent(FAILED)) }
}

/// The images the services need are on this machine (`bosun images required`).
async fn check_images(app: &App, engine: DockerClient, push: &mut impl FnMut(&'static str, bool, String)) {
    match crate::ops::images::required(&app.config, &engine).await {
        Ok(required) => {
            let missing: Vec<_> = required.iter().filter(|r| !r.present).collect();
            for image in &missing {
                push("images", false, format!("{} ({}) is missing: `bosun images pull {}`", image.image, image.services.join(", "), image.image));
            }
            if missing.is_empty() && !required.is_empty() {
                push("images", true, format!("the {} image(s) the services need are here", required.len()));
            }
        }
        Err(e) => push("images", false, format!("{e:#}")),
    }
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

/// Grant entries wider than they look, e.g. free arguments reaching a shell or
/// an SQL client that runs shell commands (`run:psql **`).
fn grant_warnings(name: &str, settings: &crate::config::PluginSettings) -> Vec<String> {
    let Ok(grants) = Grants::parse(&settings.grant) else { return Vec::new() };
    grants.process.warnings().into_iter().map(|w| format!("[plugins.{name}.grant] process: {w}")).collect()
}
