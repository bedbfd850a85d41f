//! The connection to a Docker engine: where it is and which API version to
//! speak. An engine is at a unix socket, over ssh (the `ssh` module) or at
//! a tcp address with or without TLS; `ops::hosts` turns a `[hosts.<name>]`
//! into an [`Endpoint`]. Without hosts, the engine is the environment's:
//!
//! The endpoint follows the docker CLI's environment: `DOCKER_HOST`
//! (`unix:///path`, `tcp://host:port`, `http://`, `https://`), TLS when
//! `DOCKER_TLS_VERIFY` is set (or the scheme is `https://`) with `ca.pem`,
//! `cert.pem` and `key.pem` from `DOCKER_CERT_PATH` (default `~/.docker`),
//! and the local socket when `DOCKER_HOST` is unset.
//!
//! bollard speaks its newest API version by default and engines older than
//! that refuse every request, so [`open`] first asks the engine which version
//! it speaks and uses the older of the two.

mod address;
mod ssh;

pub use address::Address;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};

/// How long to wait for the engine when connecting or pinging.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// bollard's own per-request limit. Every caller bounds its waits itself (a
/// plugin call by its deadline), so this is only a backstop; bollard's default
/// of two minutes would cut short a `stop` with a longer grace period.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

/// The oldest API version engines up to 28.x accept; asked when an engine
/// refuses bollard's newest one.
const OLDEST_API: ClientVersion = ClientVersion { major_version: 1, minor_version: 24 };

const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

pub const HINT: &str = "set DOCKER_HOST to the engine's address (unix:///var/run/docker.sock, tcp://HOST:2375, \
                    or tcp://HOST:2376 with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH=DIR holding ca.pem, cert.pem, key.pem)";

/// Where an engine is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(String),
    Tcp(String),
    Tls { addr: String, ca: PathBuf, cert: PathBuf, key: PathBuf },
    Ssh { destination: String, port: Option<u16>, config: Option<PathBuf> },
}

impl Endpoint {
    pub fn from_env() -> anyhow::Result<Endpoint> {
        Endpoint::from_vars(|name| std::env::var(name).ok())
    }

    /// The endpoint the variables name (`var` looks one up; empty counts as unset).
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Endpoint> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let Some(host) = var("DOCKER_HOST") else {
            return Ok(Endpoint::Unix(DEFAULT_SOCKET.to_string()));
        };
        let tls = |addr: &str| -> anyhow::Result<Endpoint> {
            let cert_dir = match (var("DOCKER_CERT_PATH"), var("HOME")) {
                (Some(dir), _) => PathBuf::from(dir),
                (None, Some(home)) => PathBuf::from(home).join(".docker"),
                (None, None) => bail!("DOCKER_HOST={host} uses TLS but neither DOCKER_CERT_PATH nor HOME is set; {HINT}"),
            };
            let [ca, cert, key] = ["ca.pem", "cert.pem", "key.pem"].map(|f| cert_dir.join(f));
            Ok(Endpoint::Tls { addr: addr.to_string(), ca, cert, key })
        };
        if host.starts_with("unix://") {
            Ok(Endpoint::Unix(host))
        } else if host.starts_with("ssh://") {
            match Address::parse(&host) {
                Ok(Address::Ssh { destination, port }) => Ok(Endpoint::Ssh { destination, port, config: None }),
                _ => bail!("DOCKER_HOST={host} is not an ssh address; write ssh://user@host[:port]"),
            }
        } else if let Some(addr) = host.strip_prefix("https://") {
            tls(addr)
        } else if let Some(addr) = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("http://")) {
            // Like the docker CLI: any non-empty DOCKER_TLS_VERIFY turns TLS on.
            match var("DOCKER_TLS_VERIFY") {
                Some(_) => tls(addr),
                None => Ok(Endpoint::Tcp(addr.to_string())),
            }
        } else {
            bail!("DOCKER_HOST={host} is not supported: bosun speaks unix://, ssh://, tcp://, http:// and https://; {HINT}")
        }
    }

    /// A client speaking `version`. Makes no request.
    fn client(&self, version: &ClientVersion) -> anyhow::Result<Docker> {
        let timeout = REQUEST_TIMEOUT.as_secs();
        let docker = match self {
            Endpoint::Unix(socket) => Docker::connect_with_unix(socket, timeout, version),
            Endpoint::Tcp(addr) => Docker::connect_with_http(addr, timeout, version),
            Endpoint::Tls { addr, ca, cert, key } => {
                if let Some(missing) = [ca, cert, key].into_iter().find(|p| std::fs::File::open(p).is_err()) {
                    bail!("cannot use the Docker engine at {self}: {} cannot be read; {HINT}", missing.display());
                }
                Docker::connect_with_ssl(addr, key, cert, ca, timeout, version)
            }
            Endpoint::Ssh { destination, port, config } => ssh::SshConnector::new(destination, *port, config.clone()).client(timeout, version),
        };
        docker.map_err(|e| self.unreachable(causes(&e)))
    }

    fn unreachable(&self, cause: impl std::fmt::Display) -> anyhow::Error {
        let cause = cause.to_string().replace('\n', " ");
        anyhow!("cannot reach the Docker engine at {self}: {cause}; {HINT}")
    }

    /// The API version to speak: the engine's, capped at bollard's newest.
    /// An ssh engine that cannot be reached says why in ssh's words.
    async fn api_version(&self) -> anyhow::Result<ClientVersion> {
        let agreed = self.agree_version().await;
        match (&agreed, self) {
            (Err(e), Endpoint::Ssh { destination, port, config }) => match ssh::SshConnector::new(destination, *port, config.clone()).diagnose().await {
                Some(said) => Err(anyhow!("{e}; ssh says: {said}")),
                None => agreed,
            },
            _ => agreed,
        }
    }

    async fn agree_version(&self) -> anyhow::Result<ClientVersion> {
        for asked in [API_DEFAULT_VERSION, &OLDEST_API] {
            let probe = self.client(asked)?;
            match tokio::time::timeout(PROBE_TIMEOUT, probe.version()).await {
                Err(_) => return Err(self.unreachable(format!("no answer within {}s", PROBE_TIMEOUT.as_secs()))),
                // The engine refuses a version it does not speak with a 400.
                Ok(Err(bollard::errors::Error::DockerResponseServerError { status_code: 400, .. })) => continue,
                Ok(Err(e)) => return Err(self.unreachable(causes(&e))),
                Ok(Ok(reply)) => {
                    let spoken = reply.api_version.as_deref().and_then(parse_api_version).ok_or_else(|| {
                        self.unreachable(format!("the engine reported no usable API version ({:?})", reply.api_version))
                    })?;
                    return Ok(if spoken < *API_DEFAULT_VERSION { spoken } else { *API_DEFAULT_VERSION });
                }
            }
        }
        Err(self.unreachable(format!("the engine accepts neither API {API_DEFAULT_VERSION} nor {OLDEST_API}")))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(socket) if socket.starts_with("unix://") => write!(f, "{socket}"),
            Endpoint::Unix(socket) => write!(f, "unix://{socket}"),
            Endpoint::Tcp(addr) => write!(f, "tcp://{addr}"),
            Endpoint::Tls { addr, cert, .. } => write!(f, "tcp://{addr} (TLS, client certificate {})", cert.display()),
            Endpoint::Ssh { destination, port: Some(port), .. } => write!(f, "ssh://{destination}:{port}"),
            Endpoint::Ssh { destination, port: None, .. } => write!(f, "ssh://{destination}"),
        }
    }
}

/// An error with its sources, one line: hyper's top-level message alone
/// ("client error (Connect)") does not say what went wrong.
pub(crate) fn causes(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// Whether the distribution endpoint's error means "the registry has no such
/// image" (as opposed to an unreachable registry or refused credentials).
pub fn unknown_to_registry(error: &bollard::errors::Error) -> bool {
    match error {
        bollard::errors::Error::DockerResponseServerError { status_code: 404, .. } => true,
        bollard::errors::Error::DockerResponseServerError { message, .. } => {
            let message = message.to_ascii_lowercase();
            ["manifest unknown", "not found", "name unknown"].iter().any(|m| message.contains(m))
        }
        _ => false,
    }
}

fn parse_api_version(text: &str) -> Option<ClientVersion> {
    let (major, minor) = text.split_once('.')?;
    Some(ClientVersion { major_version: major.parse().ok()?, minor_version: minor.parse().ok()? })
}

/// A client and the endpoint it speaks to (an image save on a local socket
/// bypasses the client).
#[derive(Clone)]
pub struct Connection {
    pub client: Docker,
    pub endpoint: Endpoint,
}

/// Connects to the engine the environment names and agrees on an API version.
/// Errors are one line naming the endpoint and how to set `DOCKER_HOST`.
pub async fn connect() -> anyhow::Result<Connection> {
    let endpoint = Endpoint::from_env()?;
    let version = endpoint.api_version().await?;
    Ok(Connection { client: endpoint.client(&version)?, endpoint })
}

/// Connects to the engine at `endpoint`; errors are one line naming it,
/// ending with `hint` (what to change) instead of the `DOCKER_HOST` advice.
pub async fn connect_to(endpoint: Endpoint, hint: &str) -> anyhow::Result<Connection> {
    let hinted = |e: anyhow::Error| anyhow!("{}", e.to_string().replace(HINT, hint));
    let version = endpoint.api_version().await.map_err(hinted)?;
    Ok(Connection { client: endpoint.client(&version).map_err(hinted)?, endpoint })
}

/// [`connect`], for callers that need only the client.
pub async fn open() -> anyhow::Result<Docker> {
    Ok(connect().await?.client)
}

/// The engine's version (e.g. `27.3.1`), for `bosun doctor`.
pub async fn ping(docker: &Docker) -> anyhow::Result<String> {
    let unreachable = |cause: String| match Endpoint::from_env() {
        Ok(endpoint) => endpoint.unreachable(cause),
        Err(e) => e,
    };
    let reply = tokio::time::timeout(PROBE_TIMEOUT, docker.version())
        .await
        .map_err(|_| unreachable(format!("no answer within {}s", PROBE_TIMEOUT.as_secs())))?
        .map_err(|e| unreachable(causes(&e)))?;
    reply.version.context("the Docker engine did not report its version")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_misses_are_told_apart_from_failures() {
        let server = |status_code, message: &str| bollard::errors::Error::DockerResponseServerError { status_code, message: message.into() };
        assert!(unknown_to_registry(&server(404, "x")));
        assert!(unknown_to_registry(&server(500, "manifest unknown: manifest unknown")));
        assert!(!unknown_to_registry(&server(500, "Get \"https://127.0.0.1:1/v2/\": dial tcp: connection refused")));
    }

    #[test]
    fn parses_api_versions() {
        let v = parse_api_version("1.41").unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        assert!(parse_api_version("1").is_none());
        assert!(parse_api_version("x.y").is_none());
        assert!(v < *API_DEFAULT_VERSION);
    }

    #[test]
    fn endpoints_display_as_docker_host_values() {
        assert_eq!(Endpoint::Unix("/run/docker.sock".into()).to_string(), "unix:///run/docker.sock");
        assert_eq!(Endpoint::Unix("unix:///run/docker.sock".into()).to_string(), "unix:///run/docker.sock");
        assert_eq!(Endpoint::Tcp("10.0.0.2:2375".into()).to_string(), "tcp://10.0.0.2:2375");
    }

    fn endpoint(vars: &[(&str, &str)]) -> anyhow::Result<Endpoint> {
        Endpoint::from_vars(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn endpoints_follow_the_docker_cli_environment() {
        assert_eq!(endpoint(&[]).unwrap(), Endpoint::Unix(DEFAULT_SOCKET.into()));
        assert_eq!(endpoint(&[("DOCKER_HOST", "")]).unwrap(), Endpoint::Unix(DEFAULT_SOCKET.into()));
        assert_eq!(endpoint(&[("DOCKER_HOST", "unix:///run/user/1000/docker.sock")]).unwrap(), Endpoint::Unix("unix:///run/user/1000/docker.sock".into()));
        assert_eq!(endpoint(&[("DOCKER_HOST", "tcp://10.0.0.2:2375")]).unwrap(), Endpoint::Tcp("10.0.0.2:2375".into()));
        let tls = endpoint(&[("DOCKER_HOST", "tcp://10.0.0.2:2376"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/certs")]).unwrap();
        let files = |dir: &str| ["ca.pem", "cert.pem", "key.pem"].map(|f| PathBuf::from(dir).join(f));
        let [ca, cert, key] = files("/certs");
        assert_eq!(tls, Endpoint::Tls { addr: "10.0.0.2:2376".into(), ca, cert, key });
        assert_eq!(tls.to_string(), "tcp://10.0.0.2:2376 (TLS, client certificate /certs/cert.pem)");
        let home = endpoint(&[("DOCKER_HOST", "https://d:2376"), ("HOME", "/home/ops")]).unwrap();
        let [ca, cert, key] = files("/home/ops/.docker");
        assert_eq!(home, Endpoint::Tls { addr: "d:2376".into(), ca, cert, key });
        assert_eq!(endpoint(&[("DOCKER_HOST", "ssh://ops@d:2222")]).unwrap(), Endpoint::Ssh { destination: "ops@d".into(), port: Some(2222), config: None });
        let bad = endpoint(&[("DOCKER_HOST", "npipe:////./pipe/docker")]).unwrap_err().to_string();
        assert!(bad.contains("DOCKER_HOST=npipe:////./pipe/docker is not supported") && bad.contains("set DOCKER_HOST"), "{bad}");
    }

    #[test]
    fn missing_tls_certificates_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let [ca, cert, key] = ["ca.pem", "cert.pem", "key.pem"].map(|f| dir.path().join(f));
        let endpoint = Endpoint::Tls { addr: "127.0.0.1:1".into(), ca, cert, key };
        let err = endpoint.client(API_DEFAULT_VERSION).unwrap_err().to_string();
        assert!(err.contains(&format!("{}/ca.pem cannot be read", dir.path().display())), "{err}");
        assert!(err.starts_with("cannot use the Docker engine at tcp://127.0.0.1:1 (TLS"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_tcp_endpoint_is_one_line_naming_it() {
        let err = Endpoint::Tcp("127.0.0.1:1".into()).api_version().await.unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.starts_with("cannot reach the Docker engine at tcp://127.0.0.1:1: "), "{err}");
        assert!(err.contains("Connection refused"), "the cause is spelled out: {err}");
        assert!(err.contains("set DOCKER_HOST"), "{err}");
    }

    #[test]
    fn a_missing_socket_is_one_line_naming_it() {
        let endpoint = Endpoint::Unix("unix:///nonexistent/docker.sock".into());
        let err = endpoint.client(API_DEFAULT_VERSION).unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("unix:///nonexistent/docker.sock"), "{err}");
        assert!(err.contains("set DOCKER_HOST"), "{err}");
    }
}
