//! `bosun plugin new`: a plugin crate that builds as-is, one trait impl and one
//! macro line, ready to edit.

use std::path::{Path, PathBuf};

use crate::plugin::Kind;

/// The SDK's source on this machine: BOSUN_SDK_PATH, else the checkout this
/// bosun was built from, if it is still there.
fn local_sdk() -> Option<PathBuf> {
    let candidate = std::env::var_os("BOSUN_SDK_PATH").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk"));
    candidate.join("Cargo.toml").is_file().then(|| candidate.canonicalize().ok()).flatten()
}

/// How the new crate depends on bosun-sdk: by a path relative to it when the
/// SDK's source is on this machine (the crate keeps working when the
/// checkout moves), else the published crate of this bosun's version.
fn sdk_dependency(crate_dir: &Path, kind: Kind) -> String {
    let features = format!("features = [\"{}\"]", kind.as_str());
    let relative = local_sdk().zip(crate_dir.canonicalize().ok()).map(|(sdk, dir)| relative_path(&dir, &sdk));
    match relative {
        Some(path) => format!("bosun-sdk = {{ path = {:?}, {features} }}", path.display().to_string()),
        None => format!("bosun-sdk = {{ version = \"{}\", {features} }}", env!("CARGO_PKG_VERSION")),
    }
}

/// `to` as seen from `from` (both absolute): `../../sdk`.
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let common = from.components().zip(to.components()).take_while(|(a, b)| a == b).count();
    let up = from.components().skip(common).map(|_| std::path::Component::ParentDir);
    up.chain(to.components().skip(common)).collect()
}

pub fn write(kind: Kind, name: &str, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    let crate_name = name.replace('-', "_");
    let cargo = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
{sdk}
serde = {{ version = "1", features = ["derive"] }}
schemars = "1.2"

[profile.release]
opt-level = "s"
lto = true
panic = "abort"
codegen-units = 1

# A plugin is its own workspace; it never joins the one it is created in.
[workspace]
"#,
        sdk = sdk_dependency(dir, kind),
    );
    let (capabilities, code) = template(kind, &crate_name);
    // The config keys are described by the code's `Config` type alone.
    let manifest = format!("name = \"{name}\"\ndescription = \"TODO: one line on what {name} does\"\n\n[capabilities]\n{capabilities}");
    std::fs::write(dir.join("Cargo.toml"), cargo)?;
    std::fs::write(dir.join("bosun-plugin.toml"), manifest)?;
    std::fs::write(dir.join("src/lib.rs"), code)?;
    std::fs::write(dir.join(".gitignore"), "/target\n")?;
    Ok(())
}

fn template(kind: Kind, crate_name: &str) -> (&'static str, String) {
    // `disk-` and `a--b` are valid plugin names: empty words add nothing.
    let ty = crate_name.split('_').filter(|w| !w.is_empty()).map(|w| w[..1].to_uppercase() + &w[1..]).collect::<String>();
    match kind {
        Kind::SmokeCheck => (
            "http = [\"*\"]\n",
            format!(
                r#"use bosun_sdk::{{Check, CheckResult, Context, Error, http::Request}};

/// The keys of the check's table in bosun.toml: bosun refuses others, and
/// `bosun plugin inspect` lists these with their doc comments.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Config {{
    /// URL that must answer 200
    url: String,
}}

struct {ty};

impl Check for {ty} {{
    fn check(ctx: &Context) -> Result<CheckResult, Error> {{
        let cfg: Config = ctx.config()?;
        let resp = Request::get(&cfg.url).timeout_ms(5_000).send()?;
        Ok(CheckResult::new(resp.status == 200, format!("GET {{}} -> {{}}", cfg.url, resp.status)))
    }}

    // Where the check connects, so bosun refuses an ungranted URL up front.
    fn reaches(ctx: &Context) -> Result<Vec<String>, Error> {{
        Ok(vec![ctx.config::<Config>()?.url])
    }}
}}

bosun_sdk::export_check!({ty}, config = Config);
"#
            ),
        ),
        Kind::BackupStrategy => (
            "fs = [\"ro:*\", \"rw:*\"]\n",
            format!(
                r#"use bosun_sdk::host::fs::{{self, ArchiveRequest, Compression}};
use bosun_sdk::{{BackupRequest, BackupResult, BackupStrategy, Context, Error, RestoreRequest}};

/// The keys of the backup set's table in bosun.toml (besides bosun's own).
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Config {{
    /// Directories to archive
    paths: Vec<String>,
}}

struct {ty};

impl BackupStrategy for {ty} {{
    fn backup(ctx: &Context, req: &BackupRequest) -> Result<BackupResult, Error> {{
        let cfg: Config = ctx.config()?;
        let out = fs::archive(&ArchiveRequest {{
            sources: cfg.paths,
            excludes: vec![],
            dest: format!("{{}}/data.tar.zst", req.dest_dir),
            compression: Compression::Zstd,
            level: None,
            since_manifest: None,
            manifest_dest: None,
        }})?;
        Ok(BackupResult::new(vec![out.archive]))
    }}

    fn restore(_ctx: &Context, req: &RestoreRequest) -> Result<(), Error> {{
        fs::extract(&format!("{{}}/data.tar.zst", req.backup_dir), req.target.as_deref().unwrap_or("/"))?;
        Ok(())
    }}
}}

bosun_sdk::export_backup_strategy!({ty}, config = Config);
"#
            ),
        ),
        Kind::NamingTemplate => (
            "",
            format!(
                r#"use bosun_sdk::{{Context, Error, Kv, NamingTemplate, kv_get}};

struct {ty};

impl NamingTemplate for {ty} {{
    fn render(_ctx: &Context, vars: &[Kv]) -> Result<String, Error> {{
        let get = |k| kv_get(vars, k).ok_or_else(|| Error::invalid_config(format!("no ${{{{{{k}}}}}}")));
        Ok(format!("{{}}-{{}}", get("SERVICE")?, get("VERSION")?))
    }}
}}

bosun_sdk::export_naming_template!({ty});
"#
            ),
        ),
        Kind::Notifier => (
            "http = [\"*\"]\n",
            format!(
                r#"use bosun_sdk::{{Channel, Context, Error, Event, Notifier, http::Request}};

struct {ty};

impl Notifier for {ty} {{
    fn deliver(_ctx: &Context, event: &Event, channel: &Channel) -> Result<String, Error> {{
        let resp = Request::post(&channel.url).body(format!("{{}}\n\n{{}}", event.title, event.body)).send()?;
        if !resp.is_success() {{
            return Err(Error::failed(format!("HTTP {{}}", resp.status)));
        }}
        Ok(format!("HTTP {{}}", resp.status))
    }}
}}

bosun_sdk::export_notifier!({ty});
"#
            ),
        ),
        Kind::PipelineStep => (
            "http = [\"*\"]\n",
            format!(
                r#"use bosun_sdk::{{Context, Error, PipelineStep, StepResult, http::Request}};

/// The keys of the step's `with` table: bosun refuses others when it reads
/// bosun.toml, and `bosun plugin inspect` lists these with their doc comments.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Config {{
    /// URL to tell that the step ran
    url: String,
}}

struct {ty};

impl PipelineStep for {ty} {{
    fn run(ctx: &Context) -> Result<StepResult, Error> {{
        let cfg: Config = ctx.config()?;
        let resp = Request::post(&cfg.url).timeout_ms(10_000).send()?;
        if !resp.is_success() {{
            return Err(Error::failed(format!("POST {{}} -> HTTP {{}}", cfg.url, resp.status)));
        }}
        // Later steps read it as ${{{{ steps.<id>.outputs.status }}}}.
        Ok(StepResult::new(format!("POST {{}} -> HTTP {{}}", cfg.url, resp.status), [("status".to_string(), resp.status.to_string())]))
    }}
}}

bosun_sdk::export_pipeline_step!({ty}, config = Config);
"#
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_valid_name_gives_a_type_name() {
        for (name, ty) in [("disk-", "Disk"), ("a--b", "AB"), ("disk-ok", "DiskOk"), ("x9", "X9")] {
            assert!(crate::plugin::manifest::valid_plugin_name(name));
            let (_, code) = template(Kind::SmokeCheck, &name.replace('-', "_"));
            assert!(code.contains(&format!("export_check!({ty}, config = Config);")), "{name}: {code}");
        }
    }

    #[test]
    fn the_sdk_is_found_by_a_relative_path() {
        assert_eq!(relative_path(Path::new("/work/plugins/disk-ok"), Path::new("/work/bosun/sdk")), Path::new("../../bosun/sdk"));
        assert_eq!(relative_path(Path::new("/a/b"), Path::new("/a/b/sdk")), Path::new("sdk"));
        let dir = tempfile::tempdir().unwrap();
        write(Kind::Notifier, "pager-", dir.path()).unwrap();
        let cargo = std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
        let line = cargo.lines().find(|l| l.starts_with("bosun-sdk")).unwrap();
        assert!(line.contains("path = \"../") && line.contains("features = [\"notifier\"]"), "{line}");
        let sdk = dir.path().join(line.split('"').nth(1).unwrap());
        assert!(sdk.join("Cargo.toml").is_file(), "{}", sdk.display());
    }
}
