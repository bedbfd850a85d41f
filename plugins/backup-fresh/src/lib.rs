//! bosun's built-in `backup-fresh` check: the newest backup of a set (which
//! bosun reads from its catalog and passes in as `backup`) is younger than
//! `max_age` and, unless told otherwise, passed its last verify.

use bosun_sdk::{Check, CheckResult, ConditionResult, Context, Error};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// The [backups.<set>] to look at (bosun passes its newest catalog entry as `backup`)
    backup_set: String,
    /// How old the newest backup may be: 26h (default), 7d, 90m
    #[serde(default = "default_max_age")]
    max_age: String,
    /// Also require a passed `bosun backup verify` (default true)
    #[serde(default = "yes")]
    require_verified: bool,
    /// Written by bosun, not in bosun.toml: the set's newest catalog entry.
    #[schemars(skip)]
    backup: Option<Newest>,
}

#[derive(Deserialize)]
struct Newest {
    id: String,
    #[allow(dead_code)] // bosun sends it; the age is what is judged
    created_at: i64,
    age_secs: i64,
    verified_at: Option<i64>,
    verify_error: Option<String>,
}

fn default_max_age() -> String {
    "26h".into()
}

fn yes() -> bool {
    true
}

/// `90m`, `26h`, `7d` → seconds.
fn parse_age(text: &str) -> Result<i64, Error> {
    let bad = || Error::invalid_config(format!("config key `max_age`: `{text}` is not an age; write e.g. 90m, 26h or 7d"));
    let (digits, unit) = text.trim().split_at(text.trim().len().saturating_sub(1));
    let n: i64 = digits.parse().map_err(|_| bad())?;
    Ok(n * match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    })
}

fn human_age(secs: i64) -> String {
    match secs {
        s if s >= 86_400 => format!("{:.1}d", s as f64 / 86_400.0),
        s if s >= 3600 => format!("{:.1}h", s as f64 / 3600.0),
        s => format!("{}m", s / 60),
    }
}

struct BackupFresh;

impl Check for BackupFresh {
    fn validate(ctx: &Context) -> Result<(), Error> {
        ctx.config::<Config>().map(drop)
    }

    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        let max_age = parse_age(&cfg.max_age)?;
        let set = &cfg.backup_set;
        let Some(newest) = cfg.backup else {
            return Ok(CheckResult::fail(format!("backup set {set} has no backup in the catalog"))
                .with_suggestion(format!("`bosun backup run {set}`, and schedule it")));
        };
        let fresh = ConditionResult::new(format!("age <= {}", cfg.max_age), human_age(newest.age_secs), newest.age_secs <= max_age);
        let verified_text = match (&newest.verified_at, &newest.verify_error) {
            (_, Some(error)) => format!("failed: {error}"),
            (Some(_), None) => "passed".to_string(),
            (None, None) => "never verified".to_string(),
        };
        let verified_ok = !cfg.require_verified || (newest.verified_at.is_some() && newest.verify_error.is_none());
        let verified = ConditionResult::new("verified", verified_text, verified_ok);
        let passed = fresh.passed && verified.passed;
        let mut result = CheckResult::new(passed, format!("newest backup of {set}: {} ({} old)", newest.id, human_age(newest.age_secs)))
            .with_condition(fresh)
            .with_condition(verified)
            .with_metric("age-secs", newest.age_secs);
        if !passed {
            result = result.with_suggestion(format!("`bosun backup run {set}` if backups stopped; `bosun backup verify {}` to prove the newest one", newest.id));
        }
        Ok(result)
    }
}

bosun_sdk::export_check!(BackupFresh, config = Config);
