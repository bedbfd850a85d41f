//! `replication_manifest.json`: what a backup directory holds, enough to
//! verify and restore it on another machine with only the directory and bosun.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::failure::Failure;
use crate::state::BackupKind;

pub const FILE_NAME: &str = "replication_manifest.json";
/// The manifest format this bosun writes and the newest it reads.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupManifest {
    pub format: u32,
    pub id: String,
    pub project: String,
    pub set: String,
    pub strategy: String,
    pub strategy_version: String,
    /// The set's plugin configuration, secrets redacted.
    pub strategy_config: serde_json::Value,
    pub kind: BackupKind,
    /// For an incremental: the id of the full backup it builds on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    pub created_at: String,
    pub created_unix: i64,
    pub bosun_version: String,
    /// Versions of the project's services when the backup was taken.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    pub artifacts: Vec<ManifestArtifact>,
    #[serde(default)]
    pub facts: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestArtifact {
    /// Relative to the backup directory.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl BackupManifest {
    pub fn bytes(&self) -> u64 {
        self.artifacts.iter().map(|a| a.size).sum()
    }

    /// Reads `dir`'s manifest; refuses one from a newer bosun.
    pub fn read(dir: &Path) -> Result<BackupManifest, Failure> {
        let path = dir.join(FILE_NAME);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Failure::failed(format!("{}: cannot read the backup manifest: {e}", path.display())))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Failure::failed(format!("{}: not a bosun backup manifest: {e}", path.display())))?;
        let format = value.get("format").and_then(|f| f.as_u64()).unwrap_or(0);
        if format > u64::from(FORMAT) {
            return Err(Failure::bad_input(format!(
                "{}: written by a newer bosun (manifest format {format}, this bosun reads up to {FORMAT}); upgrade bosun to use this backup",
                path.display()
            )));
        }
        serde_json::from_value(value)
            .map_err(|e| Failure::failed(format!("{}: not a bosun backup manifest: {e}", path.display())))
    }

    /// Writes the manifest into `dir` (temp name, fsync, rename).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let mut file = crate::capability::artifact::AtomicFile::create(&dir.join(FILE_NAME))?;
        serde_json::to_writer_pretty(&mut file, self)?;
        file.finish()?;
        Ok(())
    }
}

/// Config keys whose values never reach a record.
const SECRET_WORDS: [&str; 5] = ["password", "secret", "token", "key", "credential"];

/// The plugin configuration with secret-looking values replaced.
pub fn redacted(settings: &toml::Table) -> serde_json::Value {
    let mut value = serde_json::to_value(settings).unwrap_or_default();
    redact(&mut value);
    value
}

fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let lower = key.to_ascii_lowercase();
                if SECRET_WORDS.iter().any(|w| lower.contains(w)) {
                    *v = serde_json::Value::String("<redacted>".into());
                } else {
                    redact(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let settings: toml::Table = toml::from_str("paths = [\"/srv\"]\npassword = \"hunter2\"\n[db]\napi_token = \"t\"\nhost = \"h\"").unwrap();
        let value = super::redacted(&settings);
        assert_eq!(value["password"], "<redacted>");
        assert_eq!(value["db"]["api_token"], "<redacted>");
        assert_eq!(value["db"]["host"], "h");
        assert_eq!(value["paths"][0], "/srv");
    }
}
