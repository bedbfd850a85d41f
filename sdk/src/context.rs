//! [`Context`]: the run a plugin export was called for, and the plugin's config.

use serde::de::DeserializeOwned;

use crate::{Error, RunContext};

/// Facts about the run that called the plugin, and the plugin's configuration
/// (the bosun.toml table of the check, backup set, naming section or channel).
#[derive(Debug, Clone)]
pub struct Context {
    raw: RunContext,
}

impl Context {
    /// Wrap the WIT `run-context` (the export macros do this for you).
    pub fn new(raw: RunContext) -> Self {
        Context { raw }
    }

    /// `project.name` from bosun.toml.
    pub fn project(&self) -> &str {
        &self.raw.project
    }

    /// `project.env` from bosun.toml (prod, staging, ...).
    pub fn env(&self) -> &str {
        &self.raw.env
    }

    /// The run's id in bosun's state store; quote it in messages.
    pub fn run_id(&self) -> &str {
        &self.raw.run_id
    }

    /// True in a dry run: mutating host calls are recorded, not executed.
    pub fn dry_run(&self) -> bool {
        self.raw.dry_run
    }

    /// The configuration as the JSON object text the host passed.
    pub fn config_json(&self) -> &str {
        &self.raw.config
    }

    /// Deserialize the configuration into `T` (usually a
    /// `#[derive(Deserialize, JsonSchema)]` struct with `#[serde(default)]`
    /// fields, named by the export macro: see [`manifest`](crate::manifest)).
    ///
    /// Errors are [`Error::InvalidConfig`] naming the key serde complained
    /// about, e.g. ``config key `timeout_ms`: invalid type: string "5s", expected u32``.
    /// A key no field of `T` takes is refused (``config: unknown key `condtions` ``),
    /// never silently dropped. An empty config string counts as `{}`.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, Error> {
        parse_config(&self.raw.config)
    }

    /// The WIT `run-context` itself.
    pub fn raw(&self) -> &RunContext {
        &self.raw
    }
}

/// Deserialize a JSON config object, naming the offending key on error; a
/// key that nothing in `T` takes is an error too.
pub(crate) fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, Error> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let mut de = serde_json::Deserializer::from_str(json);
    let mut unknown = Vec::new();
    let mut note_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let parsed = serde_path_to_error::deserialize::<_, T>(serde_ignored::Deserializer::new(&mut de, &mut note_unknown));
    match parsed {
        Ok(_) if !unknown.is_empty() => {
            let keys: Vec<String> = unknown.iter().map(|key| format!("`{key}`")).collect();
            let s = if keys.len() == 1 { "" } else { "s" };
            Err(Error::invalid_config(format!("config: unknown key{s} {}", keys.join(", "))))
        }
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            // serde_json appends " at line L column C", which means nothing to
            // someone editing bosun.toml.
            let msg = inner.to_string();
            let pos = format!(" at line {} column {}", inner.line(), inner.column());
            let msg = msg.strip_suffix(&pos).unwrap_or(&msg);
            // bosun.toml has keys, not fields.
            let msg = msg.replace("missing field", "missing key").replace("unknown field", "unknown key");
            Err(if path == "." || path.is_empty() {
                Error::invalid_config(format!("config: {msg}"))
            } else {
                Error::invalid_config(format!("config key `{path}`: {msg}"))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_config;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Cfg {
        url: String,
        #[serde(default)]
        timeout_ms: u32,
    }

    #[test]
    fn names_the_key() {
        let e = parse_config::<Cfg>(r#"{"url":"x","timeout_ms":"5s"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid config: config key `timeout_ms`: invalid type: string \"5s\", expected u32"
        );
        let e = parse_config::<Cfg>(r#"{"timeout_ms":5}"#).unwrap_err();
        assert_eq!(e.to_string(), "invalid config: config: missing key `url`");
        let c = parse_config::<Cfg>(r#"{"url":"x","timeout_ms":3}"#).unwrap();
        assert_eq!((c.url.as_str(), c.timeout_ms), ("x", 3));
    }

    #[test]
    fn refuses_an_unknown_key() {
        let e = parse_config::<Cfg>(r#"{"url":"x","other":1}"#).unwrap_err();
        assert_eq!(e.to_string(), "invalid config: config: unknown key `other`");
        let e = parse_config::<Outer>(r#"{"inner":{"url":"x","timout_ms":1},"extra":true}"#).unwrap_err();
        assert_eq!(e.to_string(), "invalid config: config: unknown keys `inner.timout_ms`, `extra`");
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Outer {
        inner: Cfg,
    }
}
