//! A custom smoke check: GET `url` and pass when the body contains `word`.
use bosun_sdk::{Check, CheckResult, Context, Error, http::Request};

/// The check's keys in bosun.toml, described once: bosun reads the schema
/// derived from this type, refuses other keys and lists these in
/// `bosun plugin inspect`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Config {
    /// URL to fetch
    url: String,
    /// Text the body must contain
    word: String,
}

struct BodyContains;

impl Check for BodyContains {
    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        let resp = Request::get(&cfg.url).timeout_ms(5_000).send()?;
        let found = resp.text().contains(&cfg.word);
        let verdict = if found { "contains" } else { "does not contain" };
        Ok(CheckResult::new(found, format!("{} -> {} {verdict} {:?}", cfg.url, resp.status, cfg.word))
            .with_metric("response-time-ms", resp.elapsed.as_millis()))
    }

    // Lets bosun refuse an ungranted URL before any check runs.
    fn reaches(ctx: &Context) -> Result<Vec<String>, Error> {
        Ok(vec![ctx.config::<Config>()?.url])
    }
}

bosun_sdk::export_check!(BodyContains, config = Config);
