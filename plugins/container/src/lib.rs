//! bosun's built-in `container` check: the container of a deployed service
//! (found by bosun's labels) or a named container is running, healthy when
//! it has a healthcheck, and its restart count does not rise over a short
//! window (a crash loop looks "running" between restarts).

use std::time::Duration;

use bosun_sdk::host::docker::{self, Health};
use bosun_sdk::{Check, CheckResult, ConditionResult, Context, Error};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// A service bosun deployed (its running container in this project and env)
    service: Option<String>,
    /// Or a container name
    name: Option<String>,
    /// The restart count is read at the start and the end of this window (default 2000)
    #[serde(default = "default_window_ms")]
    window_ms: u64,
}

fn default_window_ms() -> u64 {
    2000
}

/// The container to look at: the named one, or the newest running one of the service.
fn target(ctx: &Context, cfg: &Config) -> Result<Option<String>, Error> {
    match (&cfg.name, &cfg.service) {
        (Some(name), None) => Ok(Some(name.clone())),
        (None, Some(service)) => {
            let labels = [format!("bosun.project={}", ctx.project()), format!("bosun.service={service}"), format!("bosun.env={}", ctx.env())];
            Ok(docker::list_containers(false, &labels)?.into_iter().next().map(|c| c.name))
        }
        _ => Err(Error::invalid_config("set exactly one of `service` (a deployed service) or `name` (a container)")),
    }
}

struct ContainerCheck;

impl Check for ContainerCheck {
    fn validate(ctx: &Context) -> Result<(), Error> {
        ctx.config::<Config>().map(drop)
    }

    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        let Some(name) = target(ctx, &cfg)? else {
            let service = cfg.service.unwrap_or_default();
            return Ok(CheckResult::fail(format!("no running container of service {service} in {}", ctx.env()))
                .with_suggestion(format!("`bosun releases {service}` shows what was deployed; `bosun deploy {service}` starts it")));
        };
        let first = docker::inspect_container(&name)?;
        std::thread::sleep(Duration::from_millis(cfg.window_ms));
        let last = docker::inspect_container(&name)?;
        let running = ConditionResult::new("running", last.state.as_str(), last.running);
        let healthy = match last.health {
            Some(health) => ConditionResult::new("health == healthy", health.as_str(), health == Health::Healthy),
            None => ConditionResult::new("health == healthy", "no healthcheck", true),
        };
        let restarts = format!("{} -> {} in {} ms", first.restart_count, last.restart_count, cfg.window_ms);
        let steady = ConditionResult::new("restart count not rising", restarts, last.restart_count <= first.restart_count);
        let passed = running.passed && healthy.passed && steady.passed;
        let summary = format!("{name}: {}, health {}, {} restarts", last.state, last.health.map_or("n/a", |health| health.as_str()), last.restart_count);
        let mut result = CheckResult::new(passed, summary).with_condition(running).with_condition(healthy).with_condition(steady).with_metric("restart-count", last.restart_count);
        if !passed {
            result = result.with_suggestion(format!("`docker logs --tail 50 {name}` shows why; `bosun rollback` goes back to the previous release"));
        }
        Ok(result)
    }
}

bosun_sdk::export_check!(ContainerCheck, config = Config);
