//! `[watch] heartbeat_url`: a GET after every collection, healthchecks.io
//! style, so that someone learns when bosun itself has stopped watching.

use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long one ping may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Pings `url`; the status, or why it failed.
pub async fn ping(url: &str) -> Result<u16, String> {
    tokio::time::timeout(TIMEOUT, get(url)).await.map_err(|_| format!("no answer within {}", crate::time::elapsed(TIMEOUT)))?
}

async fn get(url: &str) -> Result<u16, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().ok_or_else(|| format!("{url}: no host"))?.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_else(|| host.clone());
    let request = hyper::Request::get(path).header(hyper::header::HOST, authority).header(hyper::header::USER_AGENT, "bosun").body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
    let status = match https {
        true => {
            let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| format!("{host}: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(crate::capability::tls::public_config()).connect(name, tcp).await.map_err(|e| format!("TLS with {host}: {e}"))?;
            send(TokioIo::new(tls), request).await?
        }
        false => send(TokioIo::new(tcp), request).await?,
    };
    Ok(status)
}

async fn send<T>(io: TokioIo<T>, request: hyper::Request<Empty<Bytes>>) -> Result<u16, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}
