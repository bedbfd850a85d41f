//! A correct smoke-check component without a `bosun:manifest` section (built
//! with wit-bindgen directly, not bosun-sdk): the host must refuse it before
//! compiling, saying how to build a plugin.

#![allow(clippy::too_many_arguments)] // generated bindings

wit_bindgen::generate!({
    world: "smoke-check",
    path: "../../../../wit/since_v0.3.0",
    features: ["clocks-timezone"],
    generate_all,
});

use bosun::plugin::types::{PluginError, RunContext};
use exports::bosun::plugin::check::{CheckResult, Guest};

struct NoManifest;

impl Guest for NoManifest {
    fn check(_ctx: RunContext) -> Result<CheckResult, PluginError> {
        Ok(CheckResult {
            passed: true,
            summary: "no manifest".into(),
            conditions: Vec::new(),
            metrics: Vec::new(),
            suggestion: None,
        })
    }

    fn validate(_ctx: RunContext) -> Result<Vec<String>, PluginError> {
        Ok(Vec::new())
    }
}

export!(NoManifest);
