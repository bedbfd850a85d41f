//! bosun's built-in `process` check: at least `min_count` processes match
//! (by name, command line, pidfile or listening port); each one's CPU and
//! memory are reported, and `max_rss_mib` turns memory into a condition.

use bosun_sdk::host::process::{self, Matcher};
use bosun_sdk::{Check, CheckResult, ConditionResult, Context, Error};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// Exact executable name, e.g. nginx
    name: Option<String>,
    /// Glob on the command line, e.g. *gunicorn*shop*
    cmdline: Option<String>,
    /// A file holding the pid
    pidfile: Option<String>,
    /// The TCP port the process listens on
    port: Option<u16>,
    /// At least this many matching processes (default 1)
    #[serde(default = "one")]
    min_count: usize,
    /// Fail when one uses more memory than this
    max_rss_mib: Option<u64>,
}

fn one() -> usize {
    1
}

impl Config {
    /// The one matcher configured, and how to say it.
    fn matcher(&self) -> Result<(Matcher, String), Error> {
        let set = [self.name.is_some(), self.cmdline.is_some(), self.pidfile.is_some(), self.port.is_some()];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(Error::invalid_config("set exactly one of `name`, `cmdline`, `pidfile` or `port`"));
        }
        Ok(match (&self.name, &self.cmdline, &self.pidfile, self.port) {
            (Some(n), ..) => (Matcher::Name(n.clone()), format!("name {n}")),
            (_, Some(c), ..) => (Matcher::Cmdline(c.clone()), format!("command line {c}")),
            (_, _, Some(p), _) => (Matcher::Pidfile(p.clone()), format!("pidfile {p}")),
            (.., Some(port)) => (Matcher::Port(port), format!("listening on port {port}")),
            _ => unreachable!("exactly one is set"),
        })
    }
}

struct ProcessCheck;

impl Check for ProcessCheck {
    fn validate(ctx: &Context) -> Result<(), Error> {
        ctx.config::<Config>().map(drop)
    }

    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        let (matcher, described) = cfg.matcher()?;
        let found = process::find(&matcher)?;
        let count = ConditionResult::new(format!("count >= {}", cfg.min_count), found.len().to_string(), found.len() >= cfg.min_count);
        let mut passed = count.passed;
        let mut result = CheckResult::new(true, String::new()).with_condition(count);
        for p in &found {
            let rss_mib = p.rss_bytes / (1 << 20);
            if let Some(max) = cfg.max_rss_mib {
                let ok = rss_mib <= max;
                passed &= ok;
                result = result.with_condition(ConditionResult::new(format!("pid {} rss <= {max} MiB", p.pid), format!("{rss_mib} MiB"), ok));
            }
            result = result.with_metric(format!("pid-{}-cpu-percent", p.pid), format!("{:.1}", p.cpu_percent)).with_metric(format!("pid-{}-rss-bytes", p.pid), p.rss_bytes);
        }
        let listed: Vec<String> = found.iter().map(|p| format!("{} (pid {}, {:.1}% CPU, {} MiB)", p.name, p.pid, p.cpu_percent, p.rss_bytes >> 20)).collect();
        result.passed = passed;
        result.summary = match listed.as_slice() {
            [] => format!("no process with {described}"),
            _ => format!("{described}: {}", listed.join(", ")),
        };
        if !passed {
            result = result.with_suggestion(format!("start it again (systemctl, supervisor, `bosun deploy`), and look at its log for why it stopped or grew; matched by {described}"));
        }
        Ok(result)
    }
}

bosun_sdk::export_check!(ProcessCheck, config = Config);
