//! Sending one HTTPS request with bosun's own TLS client configuration (an
//! operator's CA, or an origin marked insecure); everything else goes through
//! wasmtime-wasi-http's default sender.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::IoFuture;

const NO_LIMIT: Duration = Duration::from_secs(600);

pub async fn send_with(
    config: Arc<ClientConfig>,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let uri = request.uri().clone();
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = uri.port_u16().unwrap_or(443);
    let connect_timeout = options.and_then(|o| o.connect_timeout).unwrap_or(NO_LIMIT);
    let first_byte_timeout = options.and_then(|o| o.first_byte_timeout).unwrap_or(NO_LIMIT);

    let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    let server_name = ServerName::try_from(host)?;
    let stream = tokio_rustls::TlsConnector::from(config).connect(server_name, tcp).await.map_err(Error::Tls)?;
    let (mut sender, connection) = tokio::time::timeout(connect_timeout, hyper::client::conn::http1::handshake(TokioIo::new(stream)))
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
    // The connection is driven on its own task until the body is read; the
    // call's deadline bounds it like any other request.
    tokio::spawn(connection);
    // Origin-form on the wire: the scheme and authority went into connecting.
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = http::Uri::builder().path_and_query(path).build().map_err(|_| Error::HttpRequestUriInvalid)?;
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request)).await.map_err(|_| Error::ConnectionReadTimeout)??;
    let response = response.map(|body| body.map_err(Error::from).boxed_unsync());
    Ok((response, Box::new(async { Ok(()) }) as IoFuture))
}
