//! bosun's built-in `template` naming template: `${NAME}` placeholders filled
//! from the variables the host passes (PREFIX, SEP, ENV, SERVICE, VERSION,
//! TIMESTAMP, SHORT_DIGEST and `[naming].vars`). `SEP` defaults to `-`; a
//! variable from the config's `vars` table is used when the host did not pass
//! one of that name.

mod render;

use std::collections::BTreeMap;

use bosun_sdk::{Context, Error, Kv, NamingTemplate};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// The name with ${VAR} placeholders: PREFIX, SEP, ENV, SERVICE, VERSION, TIMESTAMP, SHORT_DIGEST and any from `vars` (default ${PREFIX}${SEP}${ENV}${SEP}${SERVICE}${SEP}${VERSION})
    #[serde(default = "default_template")]
    template: String,
    /// Extra variables, NAME = value
    #[serde(default)]
    vars: BTreeMap<String, String>,
}

fn default_template() -> String {
    "${PREFIX}${SEP}${ENV}${SEP}${SERVICE}${SEP}${VERSION}".into()
}

/// The variables bosun passes to every render (`SEP` is this plugin's own).
const HOST_VARIABLES: [&str; 6] = ["PREFIX", "ENV", "SERVICE", "VERSION", "TIMESTAMP", "SHORT_DIGEST"];

/// Renders the template with every known variable standing for itself, so an
/// unknown or unclosed `${...}` is found before any deploy; the name itself
/// can only be checked with the real values.
fn check_variables(cfg: Config) -> Result<(), String> {
    let mut known = cfg.vars;
    for name in HOST_VARIABLES.into_iter().chain(["SEP"]) {
        known.insert(name.into(), name.into());
    }
    render::render(&cfg.template, &known).map(drop)
}

struct Template;

impl NamingTemplate for Template {
    fn validate(ctx: &Context) -> Result<(), Error> {
        check_variables(ctx.config()?).map_err(Error::invalid_config)
    }

    fn render(ctx: &Context, vars: &[Kv]) -> Result<String, Error> {
        let cfg: Config = ctx.config()?;
        let mut all = cfg.vars;
        all.entry("SEP".into()).or_insert_with(|| "-".into());
        for kv in vars {
            all.insert(kv.key.clone(), kv.value.clone());
        }
        let name = render::render(&cfg.template, &all).map_err(Error::invalid_config)?;
        render::check_container_name(&name).map_err(Error::invalid_config)?;
        Ok(name)
    }
}

bosun_sdk::export_naming_template!(Template, config = Config);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_knows_the_hosts_variables_and_the_configured_ones() {
        let config = |template: &str| Config { template: template.into(), vars: [("TEAM".to_string(), "core".to_string())].into() };
        assert_eq!(check_variables(config(&default_template())), Ok(()));
        assert_eq!(check_variables(config("${TEAM}_${SERVICE}_${TIMESTAMP}_${SHORT_DIGEST}")), Ok(()));
        let unknown = check_variables(config("${PREFIX}-${SERVCE}")).unwrap_err();
        assert!(unknown.starts_with("template `${PREFIX}-${SERVCE}`: unknown variable ${SERVCE} (known: ENV, PREFIX, SEP, SERVICE, SHORT_DIGEST, TEAM, TIMESTAMP, VERSION)"), "{unknown}");
    }
}
