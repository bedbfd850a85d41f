//! An engine reached over ssh, the way the docker CLI reaches one: the
//! system `ssh` (the user's keys, agent, `~/.ssh/config` and known_hosts)
//! runs `docker system dial-stdio` on the far side, and the engine's HTTP
//! goes over that process's stdin and stdout. bollard has no such transport
//! of its own that refuses unknown host keys, so bosun carries it: ssh runs
//! with `BatchMode=yes` and `StrictHostKeyChecking=yes`, so an unknown or
//! changed host key is refused, never accepted silently; when the engine
//! cannot be reached, [`SshConnector::diagnose`] asks ssh alone why (it names
//! the known_hosts line of a changed key).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Where the engine is: `user@host` (or a name from `~/.ssh/config`) and a port.
#[derive(Clone)]
pub struct SshConnector {
    destination: String,
    port: Option<u16>,
    /// `ssh -F`: a configuration file instead of `~/.ssh/config`.
    config: Option<std::path::PathBuf>,
}

impl SshConnector {
    pub fn new(destination: &str, port: Option<u16>, config: Option<std::path::PathBuf>) -> SshConnector {
        SshConnector { destination: destination.to_string(), port, config }
    }

    /// `ssh` to the host running `remote`.
    fn ssh(&self, remote: &[&str]) -> Command {
        let mut command = Command::new("ssh");
        command.args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10"]);
        if let Some(port) = self.port {
            command.args(["-p", &port.to_string()]);
        }
        if let Some(config) = &self.config {
            command.arg("-F").arg(config);
        }
        // `--` ends ssh's options: the destination is never read as one.
        command.arg("--").arg(&self.destination).args(remote);
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
        command
    }

    /// Why the engine cannot be reached, in ssh's words (one line): a
    /// refused host key, a refused login, an engine the far side lacks.
    pub async fn diagnose(&self) -> Option<String> {
        let mut command = self.ssh(&["docker", "version", "--format", "{{.Server.Version}}"]);
        command.stderr(Stdio::piped());
        let out = tokio::time::timeout(std::time::Duration::from_secs(20), command.output()).await.ok()?.ok()?;
        let said: Vec<&str> = std::str::from_utf8(&out.stderr).ok()?.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("@@@")).collect();
        (!said.is_empty()).then(|| said.join(" "))
    }

    /// A bollard client speaking over this connector.
    pub fn client(&self, timeout: u64, version: &bollard::ClientVersion) -> Result<bollard::Docker, bollard::errors::Error> {
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(self.clone());
        let transport = move |request: bollard::BollardRequest| {
            let http = http.clone();
            async move { http.request(request).await.map_err(|err| bollard::errors::Error::HyperLegacyError { err }) }
        };
        bollard::Docker::connect_with_custom_transport(transport, Some("http://ssh-engine"), timeout, version)
    }
}

impl tower_service::Service<hyper::Uri> for SshConnector {
    type Response = SshStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<SshStream>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let mut command = self.ssh(&["docker", "system", "dial-stdio"]);
        Box::pin(async move {
            let mut child = command.spawn().map_err(|e| io::Error::new(e.kind(), format!("cannot run ssh: {e}")))?;
            let (stdin, stdout) = (child.stdin.take().expect("piped"), child.stdout.take().expect("piped"));
            Ok(SshStream { _child: child, stdin: TokioIo::new(stdin), stdout: TokioIo::new(stdout) })
        })
    }
}

/// One `docker system dial-stdio` over ssh: its stdout read, its stdin written.
pub struct SshStream {
    _child: Child,
    stdin: TokioIo<ChildStdin>,
    stdout: TokioIo<ChildStdout>,
}

impl Connection for SshStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for SshStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: hyper::rt::ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for SshStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}
