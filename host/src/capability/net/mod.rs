//! `bosun:plugin/net`: probes the host makes on a plugin's behalf (is a port
//! open, which certificate does a TLS server present). Grant entries are
//! `host:port`; an http grant for `https://host:port` also allows reading that
//! origin's certificate, since a check may already talk to it.

mod certificate;

use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use wasmtime::component::{HasData, Linker};

use super::{CallScope, Capability, Denial, HostState, Policy, Side};
use crate::bindings::net::{self, Certificate, TcpConnection};
use crate::bindings::types::HostError;

/// One allowed `host:port`; `None` is `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: Option<u16>,
}

pub struct Net;

impl HasData for Net {
    type Data<'a> = NetView<'a>;
}

/// What the net interface sees of a call: its scope.
pub struct NetView<'a> {
    call: &'a mut CallScope,
}

impl Capability for Net {
    const NAME: &'static str = "net";
    type Grant = Grant;

    fn parse(entries: &[String], _: Side) -> Result<Grant, String> {
        Grant::parse(entries)
    }

    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        net::add_to_linker::<HostState, Net>(linker, view)
    }
}

pub(super) fn view(state: &mut HostState) -> NetView<'_> {
    NetView { call: &mut state.call }
}

/// `host:port` a plugin may probe (TCP connect, TLS certificate); `*` for
/// any host or port.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    targets: Vec<Target>,
}

impl Grant {
    pub fn parse(entries: &[String]) -> Result<Grant, String> {
        let targets = entries.iter().map(|e| parse_target(e)).collect::<Result<_, _>>()?;
        Ok(Grant { targets })
    }

    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.targets.iter().any(|t| t.port.is_none_or(|p| p == port) && super::http::host_matches(&t.host, host))
    }
}

fn parse_target(entry: &str) -> Result<Target, String> {
    let bad = |why: &str| format!("{entry:?} {why}; expected host:port, e.g. \"db.internal:5432\", \"127.0.0.1:*\" or \"*:443\"");
    if entry == "*" {
        return Ok(Target { host: "*".into(), port: None });
    }
    let (host, port) = entry.rsplit_once(':').ok_or_else(|| bad("has no port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    let port = match port {
        "*" => None,
        p => Some(p.parse::<u16>().map_err(|_| bad("has an invalid port"))?),
    };
    Ok(Target { host: host.to_ascii_lowercase(), port })
}

/// `host:port`, bracketing an IPv6 address.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// Whether `policy` lets its plugin probe `host:port` with `call`; an https
/// grant for the same origin also allows reading its certificate.
fn check_target(policy: &Policy, call: &str, host: &str, port: u16, https_too: bool) -> Result<(), Denial> {
    let target = authority(host, port);
    policy.check(call, &target, "net", target.clone(), |g| g.net.allows(host, port) || (https_too && g.http.allows("https", host, port)))
}

/// [`check_target`] for a `host:port` a check says it will connect to.
pub fn check_probe(policy: &Policy, place: &str) -> Result<(), String> {
    let bad = || format!("{place:?} is not host:port");
    let (host, port) = place.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse::<u16>().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    check_target(policy, "net.tcp-connect", host, port, false).map_err(|d| d.to_string())
}

impl NetView<'_> {
    fn net_access(&mut self, call: &str, host: &str, port: u16, https_too: bool) -> Result<(), HostError> {
        if host.is_empty() || port == 0 {
            return Err(HostError::Invalid(format!("{call}: needs a host and a port other than 0")));
        }
        let check = check_target(&self.call.policy, call, host, port, https_too);
        self.call.allow(check).map_err(|d| HostError::Denied(d.to_string()))
    }

    /// The probe's own timeout, cut to what is left of the call's deadline.
    fn probe_limit(&self, timeout_ms: u32) -> Duration {
        Duration::from_millis(timeout_ms.into()).min(self.call.remaining())
    }
}

fn timed_out(what: &str, limit: Duration) -> HostError {
    HostError::TimedOut(format!("{what}: no answer within {}ms", limit.as_millis()))
}

impl net::Host for NetView<'_> {
    async fn tcp_connect(&mut self, host: String, port: u16, timeout_ms: u32) -> Result<TcpConnection, HostError> {
        self.net_access("net.tcp-connect", &host, port, false)?;
        let limit = self.probe_limit(timeout_ms);
        let target = authority(&host, port);
        let started = Instant::now();
        let stream = tokio::time::timeout(limit, TcpStream::connect(&target))
            .await
            .map_err(|_| timed_out(&format!("connecting to {target}"), limit))?
            .map_err(|e| HostError::Failed(format!("connecting to {target}: {}", crate::words::io_words(&e))))?;
        let connect_ms = started.elapsed().as_millis() as u64;
        let address = stream.peer_addr().map(|a| a.to_string()).unwrap_or(target);
        Ok(TcpConnection { address, connect_ms })
    }

    async fn tls_certificate(&mut self, host: String, port: u16, timeout_ms: u32) -> Result<Certificate, HostError> {
        self.net_access("net.tls-certificate", &host, port, true)?;
        let limit = self.probe_limit(timeout_ms);
        let what = format!("TLS handshake with {}", authority(&host, port));
        tokio::time::timeout(limit, certificate::read(&host, port)).await.map_err(|_| timed_out(&what, limit))?.map_err(|e| HostError::Failed(format!("{what}: {e}")))
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;
    use crate::capability::GrantSpec;
    use crate::capability::scope::test_scope;
    use crate::bindings::net::Host;

    #[tokio::test]
    async fn only_granted_ports_are_probed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let spec = |e: &str| GrantSpec { net: vec![e.into()], ..Default::default() };
        let mut call = test_scope(spec("127.0.0.1:*"), spec(&format!("127.0.0.1:{port}")), false);
        let mut net = NetView { call: &mut call };
        net.tcp_connect("127.0.0.1".into(), port, 2000).await.expect("granted port");
        let other = net.tcp_connect("127.0.0.1".into(), port.wrapping_add(1).max(1), 2000).await.unwrap_err();
        assert!(matches!(&other, HostError::Denied(m) if m.contains("not granted")), "{other:?}");
        let invalid = net.tcp_connect(String::new(), port, 2000).await.unwrap_err();
        assert!(matches!(invalid, HostError::Invalid(_)), "{invalid:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(entries: &[&str]) -> Grant {
        Grant::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn targets_match_host_and_port() {
        let g = grant(&["127.0.0.1:5432", "*.internal:*", "[::1]:443"]);
        assert!(g.allows("127.0.0.1", 5432));
        assert!(!g.allows("127.0.0.1", 5433));
        assert!(g.allows("db.internal", 1));
        assert!(!g.allows("internal.evil", 1));
        assert!(g.allows("::1", 443));
        assert!(grant(&["*"]).allows("anything", 9));
        assert!(!Grant::default().allows("127.0.0.1", 80));
    }

    #[test]
    fn malformed_targets_are_explained() {
        let err = Grant::parse(&["db.internal".to_string()]).unwrap_err();
        assert!(err.contains("has no port"), "{err}");
        let err = Grant::parse(&["db:http".to_string()]).unwrap_err();
        assert!(err.contains("invalid port"), "{err}");
    }
}
