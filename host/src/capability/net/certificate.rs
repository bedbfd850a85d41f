//! Reading a TLS server's certificate: the handshake accepts any certificate
//! (the point is to report on it, e.g. its expiry) and notes why the trusted
//! roots would refuse it, when they would.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use x509_parser::extensions::GeneralName;

use crate::capability::tls;
use crate::bindings::net::Certificate;

pub async fn read(host: &str, port: u16) -> Result<Certificate, String> {
    let (config, observer) = tls::lenient_config(&[])?;
    let server_name = ServerName::try_from(host.to_string()).map_err(|e| format!("{host:?} is not a host name or IP address: {e}"))?;
    let tcp = TcpStream::connect((host, port)).await.map_err(|e| e.to_string())?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(server_name, tcp).await.map_err(|e| e.to_string())?;
    let leaf = stream.get_ref().1.peer_certificates().and_then(|chain| chain.first()).ok_or("the server presented no certificate")?;
    describe(leaf, observer.untrusted())
}

fn describe(der: &CertificateDer<'_>, untrusted: Option<String>) -> Result<Certificate, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| format!("the server's certificate does not parse: {e}"))?;
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_string()),
                GeneralName::IPAddress(bytes) => ip_text(bytes),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Certificate {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_before: cert.validity().not_before.timestamp().saturating_mul(1000),
        not_after: cert.validity().not_after.timestamp().saturating_mul(1000),
        untrusted,
    })
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}
