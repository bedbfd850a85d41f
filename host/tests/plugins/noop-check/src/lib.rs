//! The smallest useful check: passes at once. Measures what a call costs.

use bosun_sdk::{Check, CheckResult, Context, Error};

struct Noop;

impl Check for Noop {
    fn check(_ctx: &Context) -> Result<CheckResult, Error> {
        Ok(CheckResult::pass("noop"))
    }
}

bosun_sdk::export_check!(Noop);
