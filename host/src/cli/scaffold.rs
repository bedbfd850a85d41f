//! `bosun plugin new`: a plugin crate that builds as-is, one trait impl and one
//! macro line, ready to edit.

use std::path::{Path, PathBuf};

use crate::plugin::Kind;

/// Where bosun-sdk lives: BOSUN_SDK_PATH, else the checkout bosun was built from.
fn sdk_path() -> PathBuf {
    std::env::var_os("BOSUN_SDK_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk"))
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk"))
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
bosun-sdk = {{ path = {sdk:?}, features = ["{kind}"] }}
serde = {{ version = "1", features = ["derive"] }}

[profile.release]
opt-level = "s"
lto = true
panic = "abort"
codegen-units = 1

# A plugin is its own workspace; it never joins the one it is created in.
[workspace]
"#,
        sdk = sdk_path().display().to_string(),
        kind = kind.as_str(),
    );
    let (capabilities, config, code) = template(kind, &crate_name);
    let manifest = format!("name = \"{name}\"\ndescription = \"TODO: one line on what {name} does\"\n\n[capabilities]\n{capabilities}\n{config}");
    std::fs::write(dir.join("Cargo.toml"), cargo)?;
    std::fs::write(dir.join("bosun-plugin.toml"), manifest)?;
    std::fs::write(dir.join("src/lib.rs"), code)?;
    std::fs::write(dir.join(".gitignore"), "/target\n")?;
    Ok(())
}

fn template(kind: Kind, crate_name: &str) -> (&'static str, &'static str, String) {
    let ty = crate_name.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect::<String>();
    match kind {
        Kind::SmokeCheck => (
            "http = [\"*\"]\n",
            "[config.url]\ntype = \"string\"\nrequired = true\ndescription = \"URL that must answer 200\"\n",
            format!(
                r#"use bosun_sdk::{{Check, CheckResult, Context, Error, http::Request}};

#[derive(serde::Deserialize)]
struct Config {{
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

bosun_sdk::export_check!({ty});
"#
            ),
        ),
        Kind::BackupStrategy => (
            "fs = [\"ro:*\", \"rw:*\"]\n",
            "[config.paths]\ntype = \"list\"\nrequired = true\ndescription = \"Directories to archive\"\n",
            format!(
                r#"use bosun_sdk::host::fs::{{self, ArchiveRequest, Compression}};
use bosun_sdk::{{BackupRequest, BackupResult, BackupStrategy, Context, Error, RestoreRequest}};

#[derive(serde::Deserialize)]
struct Config {{
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

bosun_sdk::export_backup_strategy!({ty});
"#
            ),
        ),
        Kind::NamingTemplate => (
            "",
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
            "",
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
    }
}
