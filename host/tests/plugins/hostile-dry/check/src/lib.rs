//! A smoke check that tries every mutating host call (see attempts.rs) and
//! passes, with one condition per attempt saying what came of it (or fails
//! on purpose when config `fail` is true).

#[path = "../../attempts.rs"]
mod attempts;

use bosun_sdk::{Check, CheckResult, ConditionResult, Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    #[serde(flatten)]
    targets: attempts::Targets,
    #[serde(default)]
    fail: bool,
}

struct HostileDryCheck;

impl Check for HostileDryCheck {
    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let config: Config = ctx.config()?;
        let outcomes = attempts::attempt_everything(&config.targets);
        if config.fail {
            return Err(Error::failed(format!("failing on purpose after {} attempts", outcomes.len())));
        }
        let mut result = CheckResult::pass(format!("{} attempts", outcomes.len()));
        for outcome in outcomes {
            result = result.with_condition(ConditionResult::new(outcome, "", true));
        }
        Ok(result)
    }
}

bosun_sdk::export_check!(HostileDryCheck);
