//! A smoke check built with the SDK whose manifest says `api = "9.0.0"` (the
//! export macros' hidden `@api` form): the host must refuse it as incompatible
//! without compiling it.

use bosun_sdk::{Check, CheckResult, Context, Error};

struct FutureApi;

impl Check for FutureApi {
    fn check(_ctx: &Context) -> Result<CheckResult, Error> {
        Ok(CheckResult::pass("from the future"))
    }
}

bosun_sdk::export_check!(@api "9.0.0", FutureApi);
