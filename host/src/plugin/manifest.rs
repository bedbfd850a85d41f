//! A plugin's manifest: the TOML document bosun-sdk embeds in the component's
//! `bosun:manifest` custom section. Read before anything is compiled.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::PluginError;
use crate::capability::Requests;

/// The plugin API versions this host links, each its own `wit/since_vX.Y.Z/`:
/// the current one, and the previous one, which stays linked so plugins built
/// for it load and run unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    V0_3,
    V0_2,
}

impl Api {
    pub const CURRENT: Api = Api::V0_3;
    pub const LINKED: [Api; 2] = [Api::V0_3, Api::V0_2];

    /// Its package version, as manifests write it.
    pub fn version(self) -> &'static str {
        match self {
            Api::V0_3 => "0.3.0",
            Api::V0_2 => "0.2.0",
        }
    }

    /// The linked API a plugin built for `version` runs on, if any.
    pub fn of_plugin(version: &str) -> Option<Api> {
        Api::LINKED.into_iter().find(|api| api_compatible(version, api.version()))
    }

    /// `0.3.0 (and 0.2.0)`, for messages.
    fn linked_list() -> String {
        let older: Vec<&str> = Api::LINKED[1..].iter().map(|api| api.version()).collect();
        format!("{} (and {})", Api::CURRENT.version(), older.join(", "))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    SmokeCheck,
    BackupStrategy,
    NamingTemplate,
    Notifier,
    /// New in plugin API 0.3.
    PipelineStep,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::SmokeCheck, Kind::BackupStrategy, Kind::NamingTemplate, Kind::Notifier, Kind::PipelineStep];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SmokeCheck => "smoke-check",
            Kind::BackupStrategy => "backup-strategy",
            Kind::NamingTemplate => "naming-template",
            Kind::Notifier => "notifier",
            Kind::PipelineStep => "pipeline-step",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One key of a plugin's configuration schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigField {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub description: String,
    /// The value used when bosun.toml does not set the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<toml::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub api: String,
    pub kind: Kind,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub capabilities: Requests,
    /// Config keys described by hand: the manifests of plugins built before
    /// the SDK derived the schema; informational only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, ConfigField>,
    /// The JSON Schema of the plugin's bosun.toml table, derived from its
    /// config type by bosun-sdk and written by the build (a JSON string in
    /// the manifest); bosun checks the table against it when loading
    /// bosun.toml. None for a plugin built without one: only the plugin
    /// itself checks its config then.
    #[serde(default, rename = "config-schema", deserialize_with = "json_text", skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<serde_json::Value>,
}

/// `config-schema`: JSON text in a TOML string.
fn json_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<serde_json::Value>, D::Error> {
    let text = String::deserialize(deserializer)?;
    serde_json::from_str(&text).map(Some).map_err(|e| serde::de::Error::custom(format!("config-schema is not JSON: {e}")))
}

impl Manifest {
    /// Reads and checks the manifest of `wasm` (named `origin` in errors).
    /// The linked API the plugin runs on; [`Manifest::read`] refuses a
    /// plugin with none.
    pub fn api(&self) -> Option<Api> {
        Api::of_plugin(&self.api)
    }

    pub fn read(wasm: &[u8], origin: &str) -> Result<Manifest, PluginError> {
        let invalid = |reason: String| PluginError::InvalidComponent { origin: origin.to_string(), reason };
        check_is_component(wasm).map_err(invalid)?;
        let section = bosun_plugin_build::find_custom_section(wasm, bosun_plugin_build::MANIFEST_SECTION)
            .ok_or_else(|| {
                invalid("it has no bosun:manifest section; build it with bosun-sdk (`bosun plugin build`)".into())
            })?;
        let text = String::from_utf8(section).map_err(|_| invalid("its manifest is not UTF-8".into()))?;
        let manifest: Manifest =
            toml::from_str(&text).map_err(|e| invalid(format!("its manifest is malformed: {}", one_line(&e))))?;
        if Api::of_plugin(&manifest.api).is_none() {
            return Err(PluginError::IncompatibleApi {
                plugin: manifest.name,
                plugin_api: manifest.api,
                host_api: Api::linked_list(),
                sdk: Api::CURRENT.version().into(),
            });
        }
        manifest.capabilities.validate().map_err(|e| invalid(format!("its requested capabilities are invalid: {e}")))?;
        if !valid_plugin_name(&manifest.name) {
            return Err(invalid(format!(
                "its name {:?} is not a plugin name (lower-case letters, digits and `-`)",
                manifest.name
            )));
        }
        Ok(manifest)
    }
}

pub fn valid_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn one_line(error: &impl fmt::Display) -> String {
    error.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cargo's rule: same major, and for 0.x the same minor too; a plugin built
/// against a newer minor needs a newer host.
pub fn api_compatible(plugin: &str, host: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(plugin), parse(host)) {
        (Some((pmaj, pmin)), Some((hmaj, hmin))) => {
            pmaj == hmaj && if hmaj == 0 { pmin == hmin } else { pmin <= hmin }
        }
        _ => false,
    }
}

/// Cheap structural checks so a wrong file gets a precise message before the
/// (expensive) compiler sees it.
fn check_is_component(wasm: &[u8]) -> Result<(), String> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err("it is not a WebAssembly file (no \\0asm header)".into());
    }
    match wasmparser::Parser::new(0).parse(wasm, true) {
        Ok(wasmparser::Chunk::Parsed { payload: wasmparser::Payload::Version { encoding, .. }, .. }) => {
            if encoding != wasmparser::Encoding::Component {
                return Err("it is a core wasm module, not a component; build it with `bosun plugin build`".into());
            }
        }
        _ => return Err("its header is unreadable".into()),
    }
    // Walk every section: catches truncation and corruption with a position.
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Err(e) = payload {
            return Err(format!("it is truncated or corrupt ({e})"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_follow_cargo_semver() {
        assert!(api_compatible("0.1.0", "0.1.3"));
        assert!(api_compatible("0.1.9", "0.1.0"));
        assert!(!api_compatible("0.2.0", "0.1.0"));
        assert!(!api_compatible("1.0.0", "0.1.0"));
        assert!(api_compatible("1.2.0", "1.3.0"));
        assert!(!api_compatible("1.4.0", "1.3.0"));
        assert!(!api_compatible("nonsense", "0.1.0"));
    }

    #[test]
    fn plugin_names_are_kebab_case() {
        assert!(valid_plugin_name("dir-archive"));
        assert!(!valid_plugin_name("Dir"));
        assert!(!valid_plugin_name("../x"));
        assert!(!valid_plugin_name(""));
    }
}
