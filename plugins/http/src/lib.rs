//! bosun's built-in `http` smoke check: request a URL, then evaluate
//! Gatus-style conditions (see [`conditions`]) against the response.
//! Optionally log in first (a form or JSON POST; the session is the cookies
//! it sets or a token from its JSON answer) and `follow` with more requests
//! on that session. A permission check is a request without the session
//! whose conditions expect a refusal: `[STATUS] == any(401, 403)`.
//! Redirects are followed (up to 10, as Gatus does) unless `ignore_redirect`;
//! `[CERTIFICATE_EXPIRATION]` asks the host for the server's certificate.

mod conditions;

use std::collections::BTreeMap;

use bosun_sdk::host::net;
use bosun_sdk::http::{Request, Url};
use bosun_sdk::{Check, CheckResult, ConditionResult, Context, Error};
use schemars::JsonSchema;
use serde::Deserialize;

use conditions::Observed;

/// One request and the conditions its answer must meet.
#[derive(Deserialize, JsonSchema)]
struct Probe {
    /// URL to request (http:// or https://)
    url: String,
    /// HTTP method (default GET)
    #[serde(default = "default_method")]
    method: String,
    /// Request headers, name = value
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Request body
    #[serde(default)]
    body: Option<String>,
    /// Conditions that must all hold: [STATUS], [RESPONSE_TIME] (ms), [BODY], [BODY].json.path, [HEADER].name, [CONNECTED], [CERTIFICATE_EXPIRATION], len(...), has(...); ops == != < <= > >=; right side a value, a duration (48h, 1s, 500ms), pat(glob) or any(a, b) (default: [STATUS] == 200)
    #[serde(default = "default_conditions")]
    conditions: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
struct Config {
    #[serde(flatten)]
    probe: Probe,
    /// Give up after this many milliseconds (default 5000)
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    /// Judge a redirect itself instead of following it (up to 10 are followed by default)
    #[serde(default)]
    ignore_redirect: bool,
    /// Log in first: { url, form = {..} or json = {..}, token_path } — the session (cookies or token) goes with every request
    login: Option<Login>,
    /// More requests on the same session, each { url, method, headers, body, conditions }
    #[serde(default)]
    follow: Vec<Probe>,
}

/// How to log in: a form or a JSON body POSTed to `url`; the session is the
/// cookies it sets, or the token at `token_path` in its JSON answer.
#[derive(Deserialize, JsonSchema)]
struct Login {
    url: String,
    #[serde(default)]
    form: BTreeMap<String, String>,
    json: Option<bosun_sdk::serde_json::Value>,
    token_path: Option<String>,
    #[serde(default = "default_token_header")]
    token_header: String,
    #[serde(default = "default_token_prefix")]
    token_prefix: String,
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

fn default_token_header() -> String {
    "authorization".into()
}

fn default_token_prefix() -> String {
    "Bearer ".into()
}

/// What one probe found.
struct Probed {
    conditions: Vec<ConditionResult>,
    failed: Vec<String>,
    summary: String,
    response: Option<bosun_sdk::http::Response>,
    error: Option<String>,
}

/// How many redirects a probe follows unless `ignore_redirect`.
const MAX_REDIRECTS: u8 = 10;

/// Request settings shared by every probe of one check.
struct Client<'a> {
    session: &'a [(String, String)],
    timeout_ms: u64,
    redirects: u8,
}

/// Milliseconds left on the certificate `url`'s server presents (0 on plain
/// http, as in Gatus), or why that is unknown.
fn certificate_expiration_ms(url: &str, timeout_ms: u64) -> Result<Result<i64, String>, Error> {
    let parsed = parse_url("url", url)?;
    if !parsed.is_https() {
        return Ok(Ok(0));
    }
    match net::tls_certificate(parsed.host(), parsed.port(), timeout_ms.min(u32::MAX.into()) as u32) {
        Ok(cert) => {
            let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            Ok(Ok(cert.not_after - now_ms))
        }
        Err(bosun_sdk::HostError::Failed(why) | bosun_sdk::HostError::TimedOut(why)) => Ok(Err(why)),
        Err(e) => Err(e.into()),
    }
}

/// The probe's conditions, parsed; the error names every condition that does
/// not parse, with its column.
fn parse_conditions(p: &Probe) -> Result<Vec<conditions::Condition>, Error> {
    let conds = conditions::parse_all(&p.conditions).map_err(|errors| {
        let each: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Error::invalid_config(format!("config key `conditions`: {}", each.join("; ")))
    })?;
    if conds.is_empty() {
        return Err(Error::invalid_config("config key `conditions`: no conditions to check"));
    }
    Ok(conds)
}

fn parse_url(key: &str, url: &str) -> Result<Url, Error> {
    Url::parse(url).map_err(|e| Error::invalid_config(format!("config key `{key}`: invalid URL `{url}`: {e}")))
}

fn probe(p: &Probe, client: &Client, label: Option<&str>) -> Result<Probed, Error> {
    let Client { session, timeout_ms, redirects } = *client;
    let conds = parse_conditions(p)?;
    let mut req = Request::new(p.method.to_ascii_uppercase(), &p.url).timeout_ms(timeout_ms).follow_redirects(redirects);
    for (name, value) in p.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(session.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        req = req.header(name, value);
    }
    if let Some(body) = &p.body {
        req = req.body(body.as_bytes());
    }
    let what = format!("{} {}", p.method.to_ascii_uppercase(), p.url);
    // Denied and invalid-config errors mean the check could not run; a
    // failed request is a failed check.
    let (response, error) = match req.send() {
        Ok(resp) => (Some(resp), None),
        Err(Error::Failed(msg)) => (None, Some(msg)),
        Err(e) => return Err(e),
    };
    let body = response.as_ref().map(|r| r.text());
    let certificate_expiration_ms = match conds.iter().any(|c| c.needs_certificate()) {
        true => Some(certificate_expiration_ms(&p.url, timeout_ms)?),
        false => None,
    };
    let obs = Observed {
        status: response.as_ref().map(|r| r.status),
        response_time_ms: response.as_ref().map(|r| r.elapsed.as_millis() as u64),
        headers: response.as_ref().map(|r| r.headers.as_slice()).unwrap_or(&[]),
        body: body.as_deref(),
        error: error.as_deref(),
        certificate_expiration_ms,
    };
    let (mut failed, mut results) = (Vec::new(), Vec::new());
    for cond in &conds {
        let out = cond.evaluate(&obs);
        if !out.passed {
            failed.push(out.message.clone().unwrap_or_else(|| cond.text.clone()));
        }
        let text = match label {
            Some(label) => format!("{label}: {}", cond.text),
            None => cond.text.clone(),
        };
        let mut r = ConditionResult::new(text, out.actual, out.passed);
        r.message = out.message;
        results.push(r);
    }
    let mut summary = match (&response, &error) {
        (Some(r), _) if r.url != p.url => format!("{what} -> {} -> {} in {}ms", r.url, r.status, r.elapsed.as_millis()),
        (Some(r), _) => format!("{what} -> {} in {}ms", r.status, r.elapsed.as_millis()),
        // The SDK's message already starts with the method and URL.
        (None, Some(e)) => e.clone(),
        (None, None) => what.clone(),
    };
    if !failed.is_empty() && response.is_some() {
        summary.push_str(&format!("; {} of {} conditions failed: {}", failed.len(), conds.len(), failed.join("; ")));
    }
    Ok(Probed { conditions: results, failed, summary, response, error })
}

/// Logs in; the headers that carry the session, or why logging in failed.
fn log_in(login: &Login, timeout_ms: u64) -> Result<Result<Vec<(String, String)>, String>, Error> {
    let mut req = Request::post(&login.url).timeout_ms(timeout_ms);
    req = match &login.json {
        Some(json) => req.json(json),
        None => {
            let form: Vec<String> = login.form.iter().map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v))).collect();
            req.header("content-type", "application/x-www-form-urlencoded").body(form.join("&"))
        }
    };
    let resp = match req.send() {
        Ok(resp) => resp,
        Err(Error::Failed(msg)) => return Ok(Err(format!("login: {msg}"))),
        Err(e) => return Err(e),
    };
    // A login commonly answers with a redirect; that is success too.
    if !(200..400).contains(&resp.status) {
        return Ok(Err(format!("login at {} answered {}: {}", login.url, resp.status, resp.text().chars().take(120).collect::<String>())));
    }
    if let Some(path) = &login.token_path {
        let answer: bosun_sdk::serde_json::Value = resp.json().unwrap_or_default();
        return Ok(match json_at(&answer, path).and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|n| n.to_string()))) {
            Some(token) => Ok(vec![(login.token_header.clone(), format!("{}{token}", login.token_prefix))]),
            None => Err(format!("login at {} answered {} without a token at `{path}`", login.url, resp.status)),
        });
    }
    let cookies: Vec<&str> = resp
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.split(';').next())
        .collect();
    if cookies.is_empty() {
        return Ok(Err(format!("login at {} set no cookie; set `token_path` if it answers with a token", login.url)));
    }
    Ok(Ok(vec![("cookie".into(), cookies.join("; "))]))
}

/// `a.b[0].c` in a JSON value.
fn json_at<'a>(value: &'a bosun_sdk::serde_json::Value, path: &str) -> Option<&'a bosun_sdk::serde_json::Value> {
    path.split('.').filter(|s| !s.is_empty()).try_fold(value, |v, segment| {
        let (key, indexes) = segment.split_once('[').map_or((segment, ""), |(k, rest)| (k, rest));
        let mut v = if key.is_empty() { v } else { v.get(key)? };
        for index in indexes.split('[').map(|i| i.trim_end_matches(']')).filter(|i| !i.is_empty()) {
            v = v.get(index.parse::<usize>().ok()?)?;
        }
        Some(v)
    })
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Http;

impl Check for Http {
    fn validate(ctx: &Context) -> Result<(), Error> {
        let cfg: Config = ctx.config()?;
        for (key, probe) in std::iter::once(("url", &cfg.probe)).chain(cfg.follow.iter().map(|p| ("follow.url", p))) {
            parse_url(key, &probe.url)?;
            parse_conditions(probe)?;
        }
        if let Some(login) = &cfg.login {
            parse_url("login.url", &login.url)?;
        }
        Ok(())
    }

    fn reaches(ctx: &Context) -> Result<Vec<String>, Error> {
        let cfg: Config = ctx.config()?;
        let login = cfg.login.iter().map(|l| l.url.clone());
        Ok(login.chain(std::iter::once(cfg.probe.url)).chain(cfg.follow.into_iter().map(|p| p.url)).collect())
    }

    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        let session = match &cfg.login {
            Some(login) => match log_in(login, cfg.timeout_ms)? {
                Ok(session) => session,
                Err(why) => {
                    return Ok(CheckResult::fail(why).with_suggestion("check the login URL and credentials in bosun.toml, and that the login works in a browser"));
                }
            },
            None => Vec::new(),
        };
        let client = Client { session: &session, timeout_ms: cfg.timeout_ms, redirects: if cfg.ignore_redirect { 0 } else { MAX_REDIRECTS } };
        let mut first = probe(&cfg.probe, &client, None)?;
        let mut follow = Vec::new();
        for step in &cfg.follow {
            follow.push(probe(step, &client, Some(&format!("{} {}", step.method.to_ascii_uppercase(), step.url)))?);
        }
        let passed = first.failed.is_empty() && follow.iter().all(|f| f.failed.is_empty());
        let mut summary = first.summary.clone();
        for step in follow.iter().filter(|f| !f.failed.is_empty()) {
            summary.push_str(&format!("; then {}", step.summary));
        }
        if cfg.login.is_some() {
            summary = format!("logged in; {summary}");
        }
        let mut result = CheckResult::new(passed, summary);
        result.conditions = std::mem::take(&mut first.conditions);
        for step in &mut follow {
            result.conditions.append(&mut step.conditions);
        }
        if let Some(r) = &first.response {
            result = result
                .with_metric("response-time-ms", r.elapsed.as_millis())
                .with_metric("status", r.status)
                .with_metric("body-bytes", r.body.len());
        }
        if !passed {
            let failing = std::iter::once(&first).chain(follow.iter()).find(|f| !f.failed.is_empty()).unwrap_or(&first);
            let url = &cfg.probe.url;
            result.suggestion = Some(match &failing.response {
                None if failing.error.as_deref().is_some_and(|e| e.contains("timed out")) => format!(
                    "no complete answer within {} ms: is the service overloaded or stuck? (raise timeout_ms if it is just slow)",
                    cfg.timeout_ms
                ),
                None => format!("nothing answered at {url}: is the container running and publishing that port?"),
                Some(r) if r.status >= 500 => "the service answered with a server error: look at the container's logs".into(),
                Some(_) => "the service answered but not as the conditions expect: compare the actual values above".into(),
            });
        }
        Ok(result)
    }
}

bosun_sdk::export_check!(Http, config = Config);
