//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! ```no_run
//! use bosun_sdk::http::Request;
//! # fn f() -> Result<(), bosun_sdk::Error> {
//! let resp = Request::get("http://127.0.0.1:8080/health")
//!     .header("accept", "application/json")
//!     .timeout_ms(2_000)
//!     .send()?;
//! assert!(resp.status == 200, "{}", resp.text());
//! # Ok(()) }
//! ```
//!
//! The host checks every request against the plugin's `http` grant
//! (`scheme://host:port` patterns). A refused request is
//! [`Error::Denied`] naming the URL (without its query
//! string, which often holds tokens) and the origin to grant. Invalid URLs are
//! [`Error::InvalidConfig`]; everything else that
//! goes wrong (connection refused, timeout, oversized body) is
//! [`Error::Failed`].

use std::time::Duration;

use crate::Error;
use crate::bindings::host::wasi::clocks::monotonic_clock;
use crate::bindings::host::wasi::http::outgoing_handler;
use crate::bindings::host::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::host::wasi::io::poll;
use crate::bindings::host::wasi::io::streams::StreamError;

/// Largest chunk `blocking-write-and-flush` accepts.
const WRITE_CHUNK: usize = 4096;
/// Largest read asked of the body stream at once.
const READ_CHUNK: u64 = 64 * 1024;

/// An HTTP request being built; [`send`](Request::send) performs it.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
    max_body: usize,
    max_redirects: u8,
}

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code, e.g. 200.
    pub status: u16,
    /// Headers in the order received; names as sent by the server, values
    /// decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
    /// From sending the request to having read the whole body (of the last
    /// answer, when redirects were followed).
    pub elapsed: Duration,
    /// The URL that gave this answer: the request's, or where redirects led.
    pub url: String,
}

impl Request {
    /// A request with any method (`GET`, `POST`, `PROPFIND`, ...).
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(30),
            max_body: 16 << 20,
            max_redirects: 0,
        }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// `POST url`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// `PUT url`.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }

    /// Add a header (repeat the call for repeated headers).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The request body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body, with `content-type: application/json`.
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.header("content-type", "application/json").body(value.to_string())
    }

    /// Give up after this long, from sending to the end of the body
    /// (default 30 s). Also bounded by the plugin call's deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// [`timeout`](Request::timeout) in milliseconds.
    pub fn timeout_ms(self, ms: u64) -> Self {
        self.timeout(Duration::from_millis(ms))
    }

    /// Fail when the response body is larger than this (default 16 MiB).
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body = max;
        self
    }

    /// Follow up to `max` redirects (301, 302, 303, 307, 308), as a browser
    /// does: 303, and 301/302 after a POST, become a body-less GET; cookies and
    /// authorization are not sent to another origin. Each hop needs the http
    /// grant of its origin. Default 0: a redirect is the answer.
    pub fn follow_redirects(mut self, max: u8) -> Self {
        self.max_redirects = max;
        self
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Perform the request (following redirects when asked) and read the
    /// whole response.
    pub fn send(mut self) -> Result<Response, Error> {
        let started = monotonic_clock::now();
        let mut hops = 0;
        loop {
            let mut resp = self.send_once()?;
            let location = resp.header("location").filter(|_| matches!(resp.status, 301 | 302 | 303 | 307 | 308));
            let Some(location) = location.filter(|_| hops < self.max_redirects) else {
                resp.elapsed = Duration::from_nanos(monotonic_clock::now().saturating_sub(started));
                return Ok(resp);
            };
            let from = Url::parse(&self.url).map_err(Error::invalid_config)?;
            let to = from.join(location);
            let next = Url::parse(&to).map_err(|e| Error::failed(format!("{} redirected to `{location}`: {e}", from.redacted())))?;
            if next.origin() != from.origin() {
                self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization") && !k.eq_ignore_ascii_case("cookie"));
            }
            if resp.status == 303 || (matches!(resp.status, 301 | 302) && self.method.eq_ignore_ascii_case("POST")) {
                self.method = "GET".into();
                self.body.clear();
                self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type") && !k.eq_ignore_ascii_case("content-length"));
            }
            self.url = to;
            hops += 1;
        }
    }

    fn send_once(&self) -> Result<Response, Error> {
        let url = Url::parse(&self.url)
            .map_err(|e| Error::invalid_config(format!("invalid URL `{}`: {e}", self.url)))?;
        let what = format!("{} {}", self.method, url.redacted());
        self.send_parsed(&url).map_err(|e| match e {
            Fail::Denied => Error::denied(format!(
                "{what}: the host refused the request; it is outside this plugin's http grant \
                 (grant.http = [\"{}\"] would allow it)",
                url.origin()
            )),
            Fail::Config(m) => Error::invalid_config(format!("{what}: {m}")),
            Fail::Other(m) => Error::failed(format!("{what}: {m}")),
        })
    }

    fn send_parsed(&self, url: &Url) -> Result<Response, Fail> {
        let start = monotonic_clock::now();
        let deadline = start.saturating_add(duration_ns(self.timeout));

        let mut entries: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
            .collect();
        // A known length rather than chunked encoding, which some servers refuse.
        if !self.body.is_empty() && !self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
            entries.push(("content-length".into(), self.body.len().to_string().into_bytes()));
        }
        let headers = Fields::from_list(&entries)
            .map_err(|e| Fail::Config(format!("bad request header: {}", debug_words(&format!("{e:?}")))))?;
        let req = OutgoingRequest::new(headers);
        req.set_method(&method(&self.method))
            .map_err(|()| Fail::Config(format!("invalid method `{}`", self.method)))?;
        req.set_scheme(Some(&url.scheme))
            .map_err(|()| Fail::Config("invalid scheme".into()))?;
        req.set_authority(Some(&url.authority))
            .map_err(|()| Fail::Config(format!("invalid host `{}`", url.authority)))?;
        req.set_path_with_query(Some(&url.path_query))
            .map_err(|()| Fail::Config(format!("invalid path `{}`", url.path_query)))?;
        // Only take the body resource when there is something to send: a body
        // that is taken must also be finished.
        let body = if self.body.is_empty() {
            None
        } else {
            Some(req.body().map_err(|()| Fail::Other("request body unavailable".into()))?)
        };

        let opts = RequestOptions::new();
        let t = Some(duration_ns(self.timeout));
        // A host may not support some of these; the overall deadline below
        // still applies.
        let _ = opts.set_connect_timeout(t);
        let _ = opts.set_first_byte_timeout(t);
        let _ = opts.set_between_bytes_timeout(t);

        let future = outgoing_handler::handle(req, Some(opts)).map_err(Fail::from_code)?;

        // If sending the body fails, the response future usually says why (the
        // host refused the request, the server answered early): prefer that.
        let mut write_error = None;
        if let Some(body) = body {
            let sent = (|| {
                let out = body.write().map_err(|()| Fail::Other("request body unavailable".into()))?;
                for chunk in self.body.chunks(WRITE_CHUNK) {
                    out.blocking_write_and_flush(chunk).map_err(stream_error)?;
                }
                Ok(())
            })();
            match sent {
                Ok(()) => {
                    if let Err(code) = OutgoingBody::finish(body, None) {
                        write_error = Some(Fail::from_code(code));
                    }
                }
                Err(e) => write_error = Some(e),
            }
        }

        let timer = monotonic_clock::subscribe_instant(deadline);
        let ready = future.subscribe();
        let incoming = loop {
            if let Some(res) = future.get() {
                break res
                    .map_err(|()| Fail::Other("response already taken".into()))?
                    .map_err(Fail::from_code)?;
            }
            if monotonic_clock::now() >= deadline {
                return Err(write_error.unwrap_or_else(|| self.timed_out()));
            }
            poll::poll(&[&ready, &timer]);
        };
        drop(ready);

        let status = incoming.status();
        let headers = incoming
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();

        let body_res = incoming
            .consume()
            .map_err(|()| Fail::Other("response body unavailable".into()))?;
        let mut body = Vec::new();
        {
            let stream = body_res
                .stream()
                .map_err(|()| Fail::Other("response body unavailable".into()))?;
            let readable = stream.subscribe();
            loop {
                match stream.read(READ_CHUNK) {
                    Ok(bytes) if bytes.is_empty() => {
                        poll::poll(&[&readable, &timer]);
                        if monotonic_clock::now() >= deadline {
                            return Err(self.timed_out());
                        }
                    }
                    Ok(bytes) => {
                        if body.len() + bytes.len() > self.max_body {
                            return Err(Fail::Other(format!(
                                "response body larger than {} bytes",
                                self.max_body
                            )));
                        }
                        body.extend_from_slice(&bytes);
                    }
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(stream_error(e)),
                }
            }
        }
        drop(IncomingBody::finish(body_res));

        let elapsed = Duration::from_nanos(monotonic_clock::now().saturating_sub(start));
        Ok(Response { status, headers, body, elapsed, url: self.url.clone() })
    }

    fn timed_out(&self) -> Fail {
        Fail::Other(format!("timed out after {} ms", self.timeout.as_millis()))
    }
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::failed(format!("response body is not the expected JSON: {e}")))
    }

    /// Status in 200..=299.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

enum Fail {
    Denied,
    Config(String),
    Other(String),
}

impl Fail {
    fn from_code(code: ErrorCode) -> Fail {
        match code {
            ErrorCode::HttpRequestDenied => Fail::Denied,
            other => Fail::Other(describe(&other)),
        }
    }
}

fn stream_error(e: StreamError) -> Fail {
    match e {
        StreamError::Closed => Fail::Other("connection closed".into()),
        StreamError::LastOperationFailed(err) => {
            match crate::bindings::host::wasi::http::types::http_error_code(&err) {
                Some(code) => Fail::from_code(code),
                None => Fail::Other(debug_words(&err.to_debug_string())),
            }
        }
    }
}

fn describe(code: &ErrorCode) -> String {
    match code {
        ErrorCode::DnsTimeout => "DNS lookup timed out".into(),
        ErrorCode::DnsError(p) => match &p.rcode {
            Some(r) => format!("DNS lookup failed ({r})"),
            None => "DNS lookup failed".into(),
        },
        ErrorCode::ConnectionRefused => "connection refused".into(),
        ErrorCode::ConnectionTerminated => "connection closed by the server".into(),
        ErrorCode::ConnectionTimeout => "connect timed out".into(),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            "timed out waiting for the response".into()
        }
        ErrorCode::TlsCertificateError => "TLS certificate not accepted".into(),
        ErrorCode::TlsProtocolError => "TLS protocol error (is it really https?)".into(),
        ErrorCode::HttpProtocolError => "HTTP protocol error".into(),
        ErrorCode::HttpResponseIncomplete => "incomplete response".into(),
        ErrorCode::InternalError(Some(m)) => m.clone(),
        other => debug_words(&format!("{other:?}")),
    }
}

/// A host error's debug text as words: `Os { code: 111, kind:
/// ConnectionRefused, message: "Connection refused" }` reads "connection
/// refused", and a bare variant name such as `DestinationNotFound`
/// "destination not found".
fn debug_words(debug: &str) -> String {
    if let Some((_, rest)) = debug.split_once("message: \"") {
        return rest.split('"').next().unwrap_or_default().to_lowercase();
    }
    let name = debug.split_once("kind: ").map_or(debug, |(_, rest)| rest.split([',', ' ', '}']).next().unwrap_or_default());
    let name = name.rsplit('(').next().unwrap_or_default().trim_end_matches(')');
    let mut words = String::new();
    for c in name.chars().filter(|c| c.is_alphanumeric()) {
        if c.is_uppercase() && !words.is_empty() {
            words.push(' ');
        }
        words.extend(c.to_lowercase());
    }
    if words.is_empty() { debug.to_string() } else { words }
}

fn method(m: &str) -> Method {
    match m.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        _ => Method::Other(m.to_string()),
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The parts of an `http(s)://` URL that wasi:http wants.
pub struct Url {
    scheme: Scheme,
    authority: String,
    /// `/path?query`, never empty.
    path_query: String,
}

impl Url {
    /// Parse an `http://` or `https://` URL; the error says what is wrong.
    pub fn parse(url: &str) -> Result<Url, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or("expected scheme://host[:port]/path")?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(format!("unsupported scheme `{other}` (use http or https)")),
        };
        let rest = rest.split('#').next().unwrap_or("");
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_query) = rest.split_at(end);
        if authority.is_empty() {
            return Err("missing host".into());
        }
        if authority.contains('@') {
            return Err("credentials in the URL are not supported; send an authorization header".into());
        }
        if authority.contains(char::is_whitespace) {
            return Err("whitespace in host".into());
        }
        let path_query = match path_query {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(Url { scheme, authority: authority.to_string(), path_query })
    }

    /// `https`?
    pub fn is_https(&self) -> bool {
        matches!(self.scheme, Scheme::Https)
    }

    /// The host, without brackets around an IPv6 address.
    pub fn host(&self) -> &str {
        let host = match self.authority.rfind(':') {
            Some(i) if !self.authority[i..].contains(']') => &self.authority[..i],
            _ => &self.authority,
        };
        host.trim_start_matches('[').trim_end_matches(']')
    }

    /// The port, or the scheme's default.
    pub fn port(&self) -> u16 {
        match self.authority.rfind(':') {
            Some(i) if !self.authority[i..].contains(']') => self.authority[i + 1..].parse().unwrap_or(0),
            _ if self.is_https() => 443,
            _ => 80,
        }
    }

    /// Where `location` (a redirect's `Location`: absolute, `//host/...`,
    /// `/path` or relative) points, seen from this URL.
    pub fn join(&self, location: &str) -> String {
        let scheme = self.scheme_str();
        if location.contains("://") {
            location.to_string()
        } else if let Some(rest) = location.strip_prefix("//") {
            format!("{scheme}://{rest}")
        } else if location.starts_with('/') {
            format!("{scheme}://{}{location}", self.authority)
        } else {
            let path = self.path_query.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{scheme}://{}{dir}{location}", self.authority)
        }
    }

    fn scheme_str(&self) -> &'static str {
        match self.scheme {
            Scheme::Https => "https",
            _ => "http",
        }
    }

    /// The URL without its query string (which often holds secrets).
    fn redacted(&self) -> String {
        let path = self.path_query.split('?').next().unwrap_or("/");
        format!("{}://{}{}", self.scheme_str(), self.authority, path)
    }

    /// `scheme://host:port`, the form of an http grant.
    fn origin(&self) -> String {
        let has_port = match self.authority.rfind(':') {
            // `[::1]` has colons but no port.
            Some(i) => !self.authority[i..].contains(']'),
            None => false,
        };
        if has_port {
            format!("{}://{}", self.scheme_str(), self.authority)
        } else {
            let port = if matches!(self.scheme, Scheme::Https) { 443 } else { 80 };
            format!("{}://{}:{port}", self.scheme_str(), self.authority)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Url, debug_words};

    #[test]
    fn host_errors_read_as_words() {
        let io = r#"Os { code: 111, kind: ConnectionRefused, message: "Connection refused" }"#;
        assert_eq!(debug_words(io), "connection refused");
        assert_eq!(debug_words("Kind(UnexpectedEof)"), "unexpected eof");
        assert_eq!(debug_words("Custom { kind: TimedOut, error: \"x\" }"), "timed out");
        assert_eq!(debug_words("DestinationNotFound"), "destination not found");
    }

    #[test]
    fn parses_urls() {
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.authority.as_str(), u.path_query.as_str()), ("127.0.0.1:8080", "/"));
        assert_eq!(u.origin(), "http://127.0.0.1:8080");
        let u = Url::parse("HTTPS://example.com?x=1#frag").unwrap();
        assert_eq!(u.path_query, "/?x=1");
        assert_eq!(u.origin(), "https://example.com:443");
        assert_eq!(u.redacted(), "https://example.com/");
        let u = Url::parse("http://[::1]/a/b?token=s").unwrap();
        assert_eq!(u.origin(), "http://[::1]:80");
        assert_eq!(u.redacted(), "http://[::1]/a/b");
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("http:///x").is_err());
        assert!(Url::parse("http://u:p@x/").is_err());
        assert!(Url::parse("127.0.0.1:80").is_err());
    }

    #[test]
    fn hosts_ports_and_redirect_targets() {
        let u = Url::parse("https://example.com/a/b?x=1").unwrap();
        assert_eq!((u.host(), u.port(), u.is_https()), ("example.com", 443, true));
        let u6 = Url::parse("http://[::1]:8080/").unwrap();
        assert_eq!((u6.host(), u6.port()), ("::1", 8080));
        assert_eq!(u.join("/login"), "https://example.com/login");
        assert_eq!(u.join("c?y=2"), "https://example.com/a/c?y=2");
        assert_eq!(u.join("//cdn.example.com/x"), "https://cdn.example.com/x");
        assert_eq!(u.join("http://other:81/"), "http://other:81/");
    }
}
