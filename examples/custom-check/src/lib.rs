//! A custom smoke check: GET `url` and pass when the body contains `word`.
use bosun_sdk::{Check, CheckResult, Context, Error, http::Request};

#[derive(serde::Deserialize)]
struct Config {
    url: String,
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

bosun_sdk::export_check!(BodyContains);
