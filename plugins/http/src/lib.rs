//! bosun's built-in `http` smoke check: request a URL, then evaluate
//! Gatus-style conditions (see [`conditions`]) against the response.

mod conditions;

use std::collections::BTreeMap;

use bosun_sdk::http::Request;
use bosun_sdk::{Check, CheckResult, ConditionResult, Context, Error};
use serde::Deserialize;

use conditions::Observed;

#[derive(Deserialize)]
struct Config {
    url: String,
    #[serde(default = "default_method")]
    method: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_conditions")]
    conditions: Vec<String>,
}

fn default_method() -> String {
    "GET".into()
}

fn default_timeout_ms() -> u64 {
    5000
}

fn default_conditions() -> Vec<String> {
    vec!["[STATUS] == 200".into()]
}

struct Http;

impl Check for Http {
    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        let conds = cfg
            .conditions
            .iter()
            .map(|c| conditions::parse(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::invalid_config(format!("config key `conditions`: {e}")))?;
        if conds.is_empty() {
            return Err(Error::invalid_config("config key `conditions`: no conditions to check"));
        }

        let mut req = Request::new(cfg.method.to_ascii_uppercase(), &cfg.url).timeout_ms(cfg.timeout_ms);
        for (name, value) in &cfg.headers {
            req = req.header(name, value);
        }
        if let Some(body) = &cfg.body {
            req = req.body(body.as_bytes());
        }
        let what = format!("{} {}", cfg.method.to_ascii_uppercase(), cfg.url);

        // Denied and invalid-config errors mean the check could not run; a
        // failed request is a failed check.
        let (resp, error) = match req.send() {
            Ok(resp) => (Some(resp), None),
            Err(Error::Failed(msg)) => (None, Some(msg)),
            Err(e) => return Err(e),
        };
        let body = resp.as_ref().map(|r| r.text());
        let obs = Observed {
            status: resp.as_ref().map(|r| r.status),
            response_time_ms: resp.as_ref().map(|r| r.elapsed.as_millis() as u64),
            headers: resp.as_ref().map(|r| r.headers.as_slice()).unwrap_or(&[]),
            body: body.as_deref(),
            error: error.as_deref(),
        };

        let mut failed = Vec::new();
        let mut results = Vec::new();
        for cond in &conds {
            let out = cond.evaluate(&obs);
            if !out.passed {
                failed.push(out.message.clone().unwrap_or_else(|| cond.render(&out.actual)));
            }
            let mut r = ConditionResult::new(&cond.text, out.actual, out.passed);
            r.message = out.message;
            results.push(r);
        }

        let mut summary = match (&resp, &error) {
            (Some(r), _) => format!("{what} -> {} in {}ms", r.status, r.elapsed.as_millis()),
            // The SDK's message already starts with the method and URL.
            (None, Some(e)) => e.clone(),
            (None, None) => what.clone(),
        };
        if !failed.is_empty() && resp.is_some() {
            summary.push_str(&format!("; {} of {} conditions failed: {}", failed.len(), conds.len(), failed.join("; ")));
        }

        let mut result = CheckResult::new(failed.is_empty(), summary);
        result.conditions = results;
        if let Some(r) = &resp {
            result = result
                .with_metric("response-time-ms", r.elapsed.as_millis())
                .with_metric("status", r.status)
                .with_metric("body-bytes", r.body.len());
        }
        if !failed.is_empty() {
            result.suggestion = Some(match &resp {
                None if error.as_deref().is_some_and(|e| e.contains("timed out")) => format!(
                    "no complete answer within {} ms: is the service overloaded or stuck? (raise timeout_ms if it is just slow)",
                    cfg.timeout_ms
                ),
                None => format!(
                    "nothing answered at {}: is the container running and publishing that port?",
                    cfg.url
                ),
                Some(r) if r.status >= 500 => "the service answered with a server error: look at the container's logs".into(),
                Some(_) => "the service answered but not as the conditions expect: compare the actual values above".into(),
            });
        }
        Ok(result)
    }
}

bosun_sdk::export_check!(Http);
