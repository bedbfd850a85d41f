//! A custom pipeline step: POST `text` to `url` (a dashboard annotation, an
//! error tracker's release) and give later steps the HTTP status.
//!
//! ```toml
//! [[pipelines.ship.steps]]
//! id = "mark"
//! plugin = "release-marker"
//! needs = ["deploy"]
//! with = { url = "https://grafana.internal/api/annotations", text = "web ${{ steps.deploy.outputs.version }}" }
//! ```
use bosun_sdk::{Context, Error, PipelineStep, StepResult, http::Request};

/// The step's `with` keys, described once: bosun reads the schema derived
/// from this type when it loads bosun.toml and refuses other keys.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Where the marker goes
    url: String,
    /// What it says
    text: String,
}

struct ReleaseMarker;

impl PipelineStep for ReleaseMarker {
    fn validate(ctx: &Context) -> Result<(), Error> {
        let cfg: Config = ctx.config()?;
        if cfg.text.trim().is_empty() {
            return Err(Error::invalid_config("text: a marker says something; write what was released"));
        }
        Ok(())
    }

    fn run(ctx: &Context) -> Result<StepResult, Error> {
        let cfg: Config = ctx.config()?;
        let resp = Request::post(&cfg.url).header("content-type", "text/plain").body(cfg.text.clone()).timeout_ms(10_000).send()?;
        if !resp.is_success() {
            return Err(Error::failed(format!("POST {} -> HTTP {}", cfg.url, resp.status)));
        }
        Ok(StepResult::new(format!("marked {:?} at {}", cfg.text, cfg.url), [("status".to_string(), resp.status.to_string())]))
    }
}

bosun_sdk::export_pipeline_step!(ReleaseMarker, config = Config);
