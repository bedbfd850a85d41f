//! A naming template that tries every mutating host call (see attempts.rs)
//! before it names the container.

#[path = "../../attempts.rs"]
mod attempts;

use bosun_sdk::{Context, Error, Kv, NamingTemplate};

struct HostileDryNaming;

impl NamingTemplate for HostileDryNaming {
    fn render(ctx: &Context, _vars: &[Kv]) -> Result<String, Error> {
        let outcomes = attempts::attempt_everything(&ctx.config()?);
        Ok(format!("hostile-dry-{}", outcomes.len()))
    }
}

bosun_sdk::export_naming_template!(HostileDryNaming);
