//! The plugins this bosun can run (built in and installed) and what one
//! asks for and is granted: what `bosun plugin list|inspect` and the API show.

use serde::Serialize;

use crate::app::{App, builtin_manifests};
use crate::failure::Failure;
use crate::plugin::store::digest_of;
use crate::plugin::{Kind, Manifest};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Listed {
    pub name: String,
    pub version: String,
    /// `smoke-check`, `backup-strategy`, `naming-template`, `notifier` or `pipeline-step`.
    #[schema(value_type = String)]
    pub kind: Kind,
    /// `built-in` or `installed`.
    pub source: &'static str,
    pub digest: Option<String>,
}

/// The built-in plugins, then the installed ones.
pub fn list(app: &App) -> Result<Vec<Listed>, Failure> {
    let mut rows: Vec<Listed> = builtin_manifests().map(|m| Listed { name: m.name.clone(), version: m.version.clone(), kind: m.kind, source: "built-in", digest: None }).collect();
    for (name, p) in app.store().list()? {
        rows.push(Listed { name, version: p.version, kind: p.kind, source: "installed", digest: Some(p.digest) });
    }
    Ok(rows)
}

/// An installed or built-in plugin's manifest and digest (none when built in).
pub fn manifest(app: &App, name: &str) -> Result<(Manifest, Option<String>), Failure> {
    if let Some(bytes) = app.store().read(name)? {
        return Ok((Manifest::read(&bytes, name)?, Some(digest_of(&bytes))));
    }
    let bytes = crate::app::builtin_bytes(name).ok_or_else(|| Failure::bad_input(format!("no plugin called {name}: `bosun plugin list` shows the plugins")))?;
    Ok((Manifest::read(bytes, name)?, None))
}
