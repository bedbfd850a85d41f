//! bosun's built-in `tcp` check: a port answers (Gatus' `[CONNECTED] ==
//! true`), in time, or, with `open = false`, does not (a database port that
//! must never be published). The host makes the connection.

use bosun_sdk::host::net;
use bosun_sdk::{Check, CheckResult, ConditionResult, Context, Error, HostError};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// Host name or IP address, e.g. 127.0.0.1
    host: String,
    /// TCP port
    port: u16,
    /// Expect the port open (default) or closed, e.g. a database never published
    #[serde(default = "default_open")]
    open: bool,
    /// How long to wait for the connection (default 3000)
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u32,
    /// Fail when connecting takes longer than this
    max_connect_ms: Option<u64>,
}

fn default_open() -> bool {
    true
}

fn default_timeout_ms() -> u32 {
    3000
}

/// `host:port`, bracketing an IPv6 address.
fn target(cfg: &Config) -> String {
    if cfg.host.contains(':') { format!("[{}]:{}", cfg.host, cfg.port) } else { format!("{}:{}", cfg.host, cfg.port) }
}

struct Tcp;

impl Check for Tcp {
    fn validate(ctx: &Context) -> Result<(), Error> {
        ctx.config::<Config>().map(drop)
    }

    fn reaches(ctx: &Context) -> Result<Vec<String>, Error> {
        let cfg: Config = ctx.config()?;
        Ok(vec![target(&cfg)])
    }

    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        let target = target(&cfg);
        let (connected, why) = match net::tcp_connect(&cfg.host, cfg.port, cfg.timeout_ms) {
            Ok(conn) => (Some(conn), None),
            Err(HostError::Failed(why) | HostError::TimedOut(why)) => (None, Some(why)),
            Err(e) => return Err(e.into()),
        };
        let condition = if cfg.open { "[CONNECTED] == true" } else { "[CONNECTED] == false" };
        let is_open = connected.is_some();
        let mut result = CheckResult::new(is_open == cfg.open, String::new()).with_condition(ConditionResult::new(condition, is_open.to_string(), is_open == cfg.open));
        match (&connected, cfg.open) {
            (Some(conn), true) => {
                result.summary = format!("{target} open ({}) in {}ms", conn.address, conn.connect_ms);
                result = result.with_metric("connect-ms", conn.connect_ms);
                if let Some(max) = cfg.max_connect_ms {
                    let fast = conn.connect_ms <= max;
                    result.passed &= fast;
                    result = result.with_condition(ConditionResult::new(format!("connect time <= {max}ms"), format!("{}ms", conn.connect_ms), fast));
                    if !fast {
                        result.summary.push_str(&format!(", slower than {max}ms"));
                        result = result.with_suggestion("the host or its network is slow to accept connections: look at its load and backlog");
                    }
                }
            }
            (Some(conn), false) => {
                result.summary = format!("{target} is open ({}) but should not be", conn.address);
                result = result.with_suggestion(format!("close or firewall port {}, or unpublish it from its container", cfg.port));
            }
            (None, true) => {
                result.summary = why.unwrap_or_default();
                result = result.with_suggestion(format!("is the service running and listening on {target}? `ss -ltnp` on its host shows what listens"));
            }
            (None, false) => result.summary = format!("{target} is closed, as expected"),
        }
        Ok(result)
    }
}

bosun_sdk::export_check!(Tcp, config = Config);
