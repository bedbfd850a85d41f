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

struct Template;

impl NamingTemplate for Template {
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
