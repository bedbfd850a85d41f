//! bosun's built-in `upload` check: POST a generated payload of `size` bytes
//! (nothing is read from disk) and fail when the server refuses it with 413,
//! naming the size. With `bisect`, it then halves its way to the largest
//! size the server accepts — the number to put in the proxy's body limit.

use std::collections::BTreeMap;

use bosun_sdk::http::Request;
use bosun_sdk::{Check, CheckResult, ConditionResult, Context, Error};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// Where to upload
    url: String,
    /// Payload size: bytes, or with k/m (e.g. 10m)
    size: String,
    /// HTTP method (default POST)
    #[serde(default = "default_method")]
    method: String,
    /// Send multipart/form-data with the payload as this file field (default: a raw application/octet-stream body)
    field: Option<String>,
    /// On 413, find the largest size accepted (default false)
    #[serde(default)]
    bisect: bool,
    /// Request headers, name = value
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Give up after this many milliseconds (default 30000)
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_method() -> String {
    "POST".into()
}

fn default_timeout_ms() -> u64 {
    30_000
}

/// Halvings before bisection settles (the answer is within size / 2^steps).
const BISECT_STEPS: u32 = 12;

fn parse_size(text: &str) -> Result<usize, Error> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, shift) = match lower.strip_suffix('k').map(|d| (d, 10)).or_else(|| lower.strip_suffix('m').map(|d| (d, 20))) {
        Some(found) => found,
        None => (lower.as_str(), 0),
    };
    digits.parse::<usize>().map(|n| n << shift).map_err(|_| Error::invalid_config(format!("config key `size`: `{text}` is not a size; write bytes or e.g. 512k, 10m")))
}

fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// Uploads `size` bytes; the status the server answered.
fn upload(cfg: &Config, size: usize) -> Result<u16, Error> {
    let payload = vec![b'x'; size];
    let mut request = Request::new(cfg.method.to_ascii_uppercase(), &cfg.url).timeout_ms(cfg.timeout_ms).max_body_bytes(4096);
    for (name, value) in &cfg.headers {
        request = request.header(name, value);
    }
    request = match &cfg.field {
        Some(field) => {
            let boundary = "bosun-upload-check-7d1f0c";
            let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"bosun-check.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes();
            body.extend_from_slice(&payload);
            body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            request.header("content-type", format!("multipart/form-data; boundary={boundary}")).body(body)
        }
        None => request.header("content-type", "application/octet-stream").body(payload),
    };
    Ok(request.send()?.status)
}

struct Upload;

impl Check for Upload {
    fn validate(ctx: &Context) -> Result<(), Error> {
        parse_size(&ctx.config::<Config>()?.size).map(drop)
    }

    fn reaches(ctx: &Context) -> Result<Vec<String>, Error> {
        Ok(vec![ctx.config::<Config>()?.url])
    }

    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        let size = parse_size(&cfg.size)?;
        let status = upload(&cfg, size)?;
        let accepted = status != 413 && status < 500;
        let condition = ConditionResult::new(format!("{} upload not refused", human(size)), format!("HTTP {status}"), accepted);
        let mut result = CheckResult::new(accepted, format!("{} {} of {} -> {status}", cfg.method.to_ascii_uppercase(), cfg.url, human(size))).with_condition(condition);
        if status == 413 {
            result.summary = format!("{} refused with 413 Payload Too Large at {} ({size} bytes)", cfg.url, human(size));
            let mut hint = "raise the body limit in front of the app (nginx client_max_body_size, the app's own upload limit)".to_string();
            if cfg.bisect {
                let (mut good, mut bad) = (0usize, size);
                for _ in 0..BISECT_STEPS {
                    let mid = good + (bad - good) / 2;
                    if mid == good {
                        break;
                    }
                    if upload(&cfg, mid)? == 413 { bad = mid } else { good = mid }
                }
                result = result.with_metric("largest-accepted-bytes", good);
                result.summary.push_str(&format!("; the largest accepted is about {} ({good} bytes; {bad} refused)", human(good)));
                hint.push_str(&format!("; today it lets through about {}", human(good)));
            }
            result = result.with_suggestion(hint);
        } else if !accepted {
            result = result.with_suggestion(format!("the server failed with {status}: look at its log"));
        }
        Ok(result)
    }
}

bosun_sdk::export_check!(Upload, config = Config);
