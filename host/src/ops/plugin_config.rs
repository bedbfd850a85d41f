//! bosun.toml's plugin tables (`[checks.x]`, `[backups.x]`, `[notify.x]`,
//! `[naming]`) checked against the config schema of the plugin each one
//! names, when the file is loaded: a typo (`condtions = …`) or a value of the
//! wrong type stops the command with the file's line and column, before any
//! plugin runs. Keys bosun itself reads in those tables are not the plugin's
//! and are left out; a plugin with no schema in its manifest (built before
//! the SDK derived one), or one bosun cannot find, is not checked here.

use std::collections::HashMap;
use std::path::Path;

use crate::app::App;
use crate::config::{Config, ConfigError, Problems};
use crate::plugin::Manifest;
use crate::plugin::config_schema::{self, Found};

/// The keys of each table that bosun reads itself; the rest is the plugin's.
/// (The config types take them before the rest is handed on, except
/// `[naming].timestamp_format`, which bosun reads from the plugin's part.)
const CHECK_KEYS: &[&str] = &["plugin", "docker_host"];
const BACKUP_KEYS: &[&str] = &["strategy", "dest", "retention", "replicas", "before", "after", "stop", "docker_host"];
const CHANNEL_KEYS: &[&str] = &["url", "url_file", "endpoint", "plugin", "on", "title", "body", "json"];
const NAMING_KEYS: &[&str] = &["plugin", "timestamp_format"];

/// One plugin table of bosun.toml: where it is, the plugin it configures
/// (none: bosun handles it, e.g. an email channel), the plugin's part of it.
struct PluginTable<'c> {
    key: String,
    plugin: Option<&'c str>,
    settings: &'c toml::Table,
    bosun_keys: &'static [&'static str],
}

/// Every plugin table of `app`'s bosun.toml against its plugin's schema.
pub fn check(app: &App) -> Result<(), ConfigError> {
    check_config(&app.config, |name| app.manifest(name).ok())
}

/// [`check`] with the manifests from `manifest_of`; errors are placed in
/// the file `config` was read from.
pub fn check_config(config: &Config, manifest_of: impl Fn(&str) -> Option<Manifest>) -> Result<(), ConfigError> {
    let mut problems = Problems::default();
    // Each plugin's manifest is read once, however many tables name it.
    let mut schemas: HashMap<&str, Option<serde_json::Value>> = HashMap::new();
    // Nothing but bosun reads a table with no plugin: it takes no other key.
    let bosun_only = serde_json::json!({"type": "object", "additionalProperties": false});
    for table in tables(config) {
        let schema = match table.plugin {
            Some(name) => match schemas.entry(name).or_insert_with(|| manifest_of(name).and_then(|m| m.config_schema)) {
                Some(schema) => &*schema,
                None => continue,
            },
            None => &bosun_only,
        };
        check_table(&table, schema, &mut problems);
    }
    if problems.is_empty() {
        return Ok(());
    }
    let Some(path) = config.source.as_deref() else { return Err(unplaced(problems)) };
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::unreadable(path, &e))?;
    match toml::de::DeTable::parse(&text) {
        Ok(document) => Err(ConfigError::problems(path, &text, document.get_ref(), problems)),
        Err(e) => Err(ConfigError::syntax(path, &text, &e)),
    }
}

fn unplaced(problems: Problems) -> ConfigError {
    let document = toml::de::DeTable::parse("").expect("empty TOML parses");
    ConfigError::problems(Path::new(crate::config::DEFAULT_FILE), "", document.get_ref(), problems)
}

fn check_table(table: &PluginTable<'_>, schema: &serde_json::Value, problems: &mut Problems) {
    let mut settings = table.settings.clone();
    // A pipeline step's `${{ }}` value has its type only when the step runs:
    // its key is checked, its value by the plugin's own validate then.
    let templated = |value: &toml::Value| value.as_str().is_some_and(|s| s.contains("${{"));
    settings.retain(|key, value| !table.bosun_keys.contains(&key) && !templated(value));
    let at = |relative: &str| if relative.is_empty() { table.key.clone() } else { format!("{}.{relative}", table.key) };
    for found in config_schema::check(&settings, schema) {
        match found {
            Found::UnknownKey { at: relative, key, known } => {
                let mut known: Vec<&str> = known.iter().map(String::as_str).collect();
                // At the table's top, bosun's own keys are known as well.
                if relative.is_empty() {
                    known.extend(table.bosun_keys);
                }
                problems.unknown_key(&at(&relative), &key, &known);
            }
            Found::MissingKey { at: relative, key } if !(relative.is_empty() && table.settings.contains_key(&key)) => problems.missing_key(&at(&relative), &key),
            Found::MissingKey { .. } => {}
            Found::Wrong { at: relative, message } => problems.add(at(&relative), message),
        }
    }
}

fn tables(config: &Config) -> Vec<PluginTable<'_>> {
    let mut tables = Vec::new();
    for (name, check) in &config.checks {
        let plugin = Some(super::check::plugin_of(check));
        tables.push(PluginTable { key: format!("checks.{name}"), plugin, settings: &check.settings, bosun_keys: CHECK_KEYS });
    }
    for (name, set) in &config.backups {
        tables.push(PluginTable { key: format!("backups.{name}"), plugin: Some(&set.strategy), settings: &set.settings, bosun_keys: BACKUP_KEYS });
    }
    let config_dir = config.resolve(Path::new(""));
    for (name, channel) in &config.notify {
        let plugin = match (&channel.plugin, crate::config::notify_url::destination(channel, &config_dir)) {
            (Some(plugin), _) => Some(plugin.as_str()),
            (None, Ok((_, destination))) => match destination.via {
                crate::config::notify_url::Via::Plugin(plugin) => Some(plugin),
                crate::config::notify_url::Via::Email => None,
            },
            // A URL bosun cannot read is reported when the file is parsed.
            (None, Err(_)) => continue,
        };
        tables.push(PluginTable { key: format!("notify.{name}"), plugin, settings: &channel.settings, bosun_keys: CHANNEL_KEYS });
    }
    if let Some(naming) = &config.naming {
        tables.push(PluginTable { key: "naming".into(), plugin: Some(&naming.plugin), settings: &naming.settings, bosun_keys: NAMING_KEYS });
    }
    for (name, pipeline) in &config.pipelines {
        for (phase, steps) in [("steps", &pipeline.steps), ("on_failure", &pipeline.on_failure)] {
            for (i, step) in steps.iter().enumerate().filter(|(_, s)| s.plugin.is_some()) {
                tables.push(PluginTable { key: format!("pipelines.{name}.{phase}[{i}].with"), plugin: step.plugin.as_deref(), settings: &step.with, bosun_keys: &[] });
            }
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Plugin `p`, whose config is one integer `a`.
    fn manifest(_name: &str) -> Option<Manifest> {
        let schema = json!({"type": "object", "additionalProperties": false, "properties": {"a": {"type": "integer"}}});
        let text = format!("config-schema = {}\napi = \"0.2.0\"\nkind = \"smoke-check\"\nname = \"p\"\nversion = \"1.0.0\"\n", serde_json::to_string(&schema.to_string()).unwrap());
        Some(toml::from_str(&text).unwrap())
    }

    fn checked(toml: &str) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bosun.toml");
        std::fs::write(&path, toml).unwrap();
        let config = Config::load(&path, true).map_err(|e| format!("parse: {e}"))?;
        check_config(&config, manifest).map_err(|e| e.to_string().replace(&path.display().to_string(), "bosun.toml"))
    }

    const EVERY_TABLE: &str = "[checks.c]\nplugin = \"p\"\na = 1\n\n\
        [backups.b]\nstrategy = \"p\"\ndest = \"/srv/backups\"\nreplicas = [\"/mnt/copy\"]\nbefore = \"true\"\nafter = \"true\"\nstop = [\"db\"]\na = 1\n\n\
        [backups.b.retention]\nkeep-last = 1\n\n\
        [notify.n]\nurl = \"generic+https://hooks.example/x\"\nendpoint = \"http://127.0.0.1:1\"\nplugin = \"p\"\non = [\"check.*\"]\ntitle = \"t\"\nbody = \"b\"\njson = { text = \"{{title}}\" }\na = 1\n\n\
        [naming]\nplugin = \"p\"\ntimestamp_format = \"%Y\"\na = 1\n";

    #[test]
    fn bosuns_own_keys_are_not_the_plugins() {
        assert_eq!(checked(EVERY_TABLE), Ok(()));
    }

    #[test]
    fn the_plugins_keys_are_checked_in_every_kind_of_table() {
        let err = checked(&EVERY_TABLE.replace("a = 1", "a = \"one\"")).unwrap_err();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 4, "{err}");
        for (line, table) in lines.iter().zip(["checks.c", "backups.b", "notify.n", "naming"]) {
            assert!(line.ends_with(&format!("{table}.a: expected a number, found the string \"one\"")), "{err}");
        }
        // An unknown key at a table's top is likely one of bosun's keys too.
        let err = checked("[backups.b]\nstrategy = \"p\"\ndest = \"/srv/backups\"\nreplica = []\n").unwrap_err();
        assert_eq!(err, "bosun.toml:4:11: backups.b.replica: unknown key; did you mean `replicas`?");
        // An email channel has no plugin: bosun's keys are all it takes.
        let err = checked("[notify.m]\nurl = \"smtp://u:p@127.0.0.1/?from=a@b.example&to=c@d.example\"\ntitel = \"x\"\n").unwrap_err();
        assert_eq!(err, "bosun.toml:3:9: notify.m.titel: unknown key; did you mean `title`?");
    }

    #[test]
    fn each_plugins_manifest_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bosun.toml");
        std::fs::write(&path, EVERY_TABLE).unwrap();
        let config = Config::load(&path, true).unwrap();
        let reads = std::cell::RefCell::new(Vec::new());
        let counted = |name: &str| {
            reads.borrow_mut().push(name.to_string());
            manifest(name)
        };
        assert!(check_config(&config, counted).is_ok());
        assert_eq!(reads.into_inner(), ["p"], "four tables name p");
    }

    #[test]
    fn a_plugin_without_a_schema_or_not_found_is_not_checked_here() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bosun.toml");
        std::fs::write(&path, "[checks.c]\nplugin = \"old\"\nanything = 1\n").unwrap();
        let config = Config::load(&path, true).unwrap();
        assert!(check_config(&config, |_| None).is_ok());
        let without_schema = |_: &str| Some(toml::from_str::<Manifest>("api = \"0.2.0\"\nkind = \"smoke-check\"\nname = \"old\"\nversion = \"1.0.0\"\n").unwrap());
        assert!(check_config(&config, without_schema).is_ok());
    }
}
