//! Outgoing HTTP (`wasi:http/outgoing-handler`), checked per request against
//! `scheme://host[:port]` grants. wasmtime-wasi-http does the protocol work;
//! bosun decides whether a request may leave and, for HTTPS with an
//! operator's `[plugins.<name>.tls]`, which certificates it trusts.

mod send;

use std::future::Future;
use std::sync::{Arc, Mutex};

use wasmtime::component::{HasData, Linker};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpCtxView, WasiHttpHooks};

use super::{CallScope, Capability, Denial, HostState, PlannedCall, Policy, Side, held};

/// The capability: wasi:http's outgoing handler, seen through its own view
/// (whose hooks carry this call's policy).
pub struct Http;

impl HasData for Http {
    type Data<'a> = WasiHttpCtxView<'a>;
}

impl Capability for Http {
    const NAME: &'static str = "http";
    type Grant = Grant;

    fn parse(entries: &[String], _: Side) -> Result<Grant, String> {
        Grant::parse(entries)
    }

    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
    }
}

/// One allowed origin. `host` may be `*` or start with `*.`; no port means the
/// scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

/// Origins a plugin may send requests to: `scheme://host[:port]`, the host
/// may start with `*.`; `*` for any.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    any: bool,
    origins: Vec<Origin>,
}

impl Grant {
    pub fn parse(entries: &[String]) -> Result<Grant, String> {
        let mut grant = Grant::default();
        for entry in entries {
            if entry == "*" {
                grant.any = true;
                continue;
            }
            grant.origins.push(parse_origin(entry)?);
        }
        Ok(grant)
    }

    pub fn extend(&mut self, entries: &[String]) -> Result<(), String> {
        for entry in entries {
            self.origins.push(parse_origin(entry)?);
        }
        Ok(())
    }

    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.any
            || self.origins.iter().any(|o| {
                o.scheme == scheme
                    && o.port.unwrap_or_else(|| default_port(scheme)) == port
                    && host_matches(&o.host, host)
            })
    }
}

fn parse_origin(entry: &str) -> Result<Origin, String> {
    let bad = |why: &str| format!("{entry:?} {why}; expected scheme://host[:port], e.g. \"https://api.example.com\"");
    let (scheme, rest) = entry.split_once("://").ok_or_else(|| bad("has no scheme"))?;
    if scheme != "http" && scheme != "https" {
        return Err(bad("is not http or https"));
    }
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        return Err(bad("has a path; grants are per origin"));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
            (host, Some(port.parse::<u16>().map_err(|_| bad("has an invalid port"))?))
        }
        _ => (rest, None),
    };
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    Ok(Origin { scheme: scheme.into(), host: host.to_ascii_lowercase(), port })
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

pub(super) fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        _ if pattern == "*" => true,
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => pattern == host,
    }
}

/// The per-call request check handed to wasmtime-wasi-http, and the size of
/// what it buffers of an outgoing body.
pub struct Hooks {
    policy: Arc<Policy>,
    denials: Arc<Mutex<Vec<Denial>>>,
    dry_run: bool,
    planned: Arc<Mutex<Vec<PlannedCall>>>,
    last_status: Arc<Mutex<Option<u16>>>,
}

impl Hooks {
    pub fn new(call: &CallScope) -> Hooks {
        Hooks {
            policy: call.policy.clone(),
            denials: call.denials.clone(),
            dry_run: call.dry_run,
            planned: call.planned.clone(),
            last_status: Default::default(),
        }
    }

    /// The status of the last answer the plugin got.
    pub fn last_status(&self) -> Option<u16> {
        *self.last_status.lock().expect("last status lock")
    }

    fn check(&self, request: &http::Request<WasiBody>) -> Result<(), Denial> {
        check_request(&self.policy, &format!("{} {}", request.method(), request.uri()), request.uri())
    }
}

/// Whether `policy` lets its plugin send a request (`target`, for the denial)
/// to `uri`'s origin; the denial quotes that origin as the grant entry.
pub fn check_request(policy: &Policy, target: &str, uri: &http::Uri) -> Result<(), Denial> {
    let scheme = uri.scheme_str().unwrap_or("http").to_string();
    let host = uri.host().unwrap_or_default().to_string();
    let port = uri.port_u16().unwrap_or_else(|| default_port(&scheme));
    let entry = match uri.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    };
    policy.check("http.request", target, "http", entry, |g| g.http.allows(&scheme, &host, port))
}

/// The planned-call name of a request a dry run did not send.
pub const PLANNED_CALL: &str = "http.request";

/// The methods a dry run sends, as they only read: GET, HEAD and OPTIONS,
/// spelled exactly (`get`, `TRACE` or a made-up method is held back).
fn is_safe(method: &http::Method) -> bool {
    [http::Method::GET, http::Method::HEAD, http::Method::OPTIONS].contains(method)
}

pub(crate) type IoFuture = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), wasmtime_wasi_http::Error>> + Send>;

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        if let Err(denial) = self.check(&request) {
            super::scope::record_denial(&self.denials, denial);
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        if self.dry_run && !is_safe(request.method()) {
            let detail = format!("{} {}", request.method(), request.uri());
            self.planned.lock().expect("planned lock").push(PlannedCall { call: PLANNED_CALL.into(), detail });
            // An error, not a made-up answer: the plugin cannot judge anything by it.
            let why = "not sent: this is a dry run, and bosun sends only GET, HEAD and OPTIONS requests in one";
            return Box::new(async move { Err(wasmtime_wasi_http::Error::InternalError(Some(why.into()))) });
        }
        let uri = request.uri();
        let tls = match (uri.scheme_str(), uri.host()) {
            (Some("https"), Some(host)) => self.policy.tls.client_config(host.trim_start_matches('[').trim_end_matches(']'), uri.port_u16().unwrap_or(443)),
            _ => None,
        };
        let last_status = self.last_status.clone();
        Box::new(async move {
            use http_body_util::BodyExt;
            let sent = match tls {
                Some(config) => send::send_with(config, request, options).await,
                None => wasmtime_wasi_http::default_send_request(request, options)
                    .await
                    .map(|(response, io)| (response.map(BodyExt::boxed_unsync), Box::new(io) as IoFuture)),
            };
            if let Ok((response, _)) = &sent {
                *last_status.lock().expect("last status lock") = Some(response.status().as_u16());
            }
            sent
        })
    }

    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        held::BODY_BUFFERED_CHUNKS
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        held::BODY_CHUNK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(entries: &[&str]) -> Grant {
        Grant::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn origins_match_scheme_host_and_port() {
        let g = grant(&["http://127.0.0.1:8080", "https://*.example.com"]);
        assert!(g.allows("http", "127.0.0.1", 8080));
        assert!(!g.allows("http", "127.0.0.1", 8081));
        assert!(!g.allows("https", "127.0.0.1", 8080));
        assert!(g.allows("https", "api.example.com", 443));
        assert!(!g.allows("https", "example.com.evil.net", 443));
        assert!(!g.allows("http", "api.example.com", 80));
        assert!(grant(&["*"]).allows("https", "anything", 1));
    }

    #[test]
    fn malformed_origins_are_explained() {
        let err = Grant::parse(&["ftp://x".to_string()]).unwrap_err();
        assert!(err.contains("not http or https"), "{err}");
        let err = Grant::parse(&["http://x/path".to_string()]).unwrap_err();
        assert!(err.contains("has a path"), "{err}");
    }
}
