//! Container names from the naming-template plugin (`[naming]`, default the
//! built-in `template` with `${PREFIX}-${ENV}-${SERVICE}-${VERSION}`).

use anyhow::Result;

use crate::app::App;
use crate::bindings::types::Kv;

/// The facts a name can be made of.
pub struct NameFacts<'a> {
    pub service: &'a str,
    pub version: &'a str,
    /// The image id, `sha256:…`.
    pub image_id: &'a str,
    /// Seconds since the Unix epoch.
    pub now: i64,
}

const DEFAULT_TIMESTAMP_FORMAT: &str = "%Y%m%d%H%M%S";

/// Renders the container name for `facts`. PREFIX is the project's name
/// unless `[naming].vars` sets one; TIMESTAMP follows
/// `[naming].timestamp_format` (strftime, UTC).
pub async fn container_name(app: &App, facts: &NameFacts<'_>, dry_run: bool) -> Result<String> {
    let naming = app.config.naming.clone();
    let plugin_name = naming.as_ref().map_or("template", |n| n.plugin.as_str());
    let mut settings = naming.as_ref().map(|n| n.settings.clone()).unwrap_or_default();
    // bosun's own key: the plugin gets the TIMESTAMP it gives, not the key.
    let format = settings.remove("timestamp_format");
    let format = format.as_ref().and_then(|f| f.as_str()).unwrap_or(DEFAULT_TIMESTAMP_FORMAT);
    let timestamp = jiff::Timestamp::from_second(facts.now)?.to_zoned(jiff::tz::TimeZone::UTC);
    let timestamp = jiff::fmt::strtime::format(format, &timestamp)
        .map_err(|e| anyhow::anyhow!("naming.timestamp_format `{format}` is not a strftime format: {e}"))?;
    let short_digest = facts.image_id.trim_start_matches("sha256:").chars().take(12).collect::<String>();
    let mut vars = vec![
        ("ENV", app.config.project.env.clone()),
        ("SERVICE", facts.service.to_string()),
        ("VERSION", facts.version.to_string()),
        ("TIMESTAMP", timestamp),
        ("SHORT_DIGEST", short_digest),
    ];
    let prefix_configured = settings.get("vars").and_then(|v| v.as_table()).is_some_and(|v| v.contains_key("PREFIX"));
    if !prefix_configured {
        vars.push(("PREFIX", app.config.project.name.clone()));
    }
    let vars = vars.into_iter().map(|(key, value)| Kv { key: key.into(), value }).collect();
    let plugin = app.plugin(plugin_name)?;
    app.runtime()?.validate_naming(&plugin, app.setup(&plugin, &settings, true)?).await?;
    let setup = app.setup(&plugin, &settings, dry_run)?;
    Ok(app.runtime()?.render(&plugin, setup, vars).await?.value)
}
