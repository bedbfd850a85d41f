//! An HTTPS server on loopback whose certificate (for `127.0.0.1` and
//! `localhost`, valid for a chosen number of days) is issued by a CA made for
//! the test, answering every request `200 ok`: the stand-in for an internal
//! service behind TLS.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct TlsServer {
    /// `https://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    /// The issuing CA's certificate, PEM: what an operator hands bosun.
    pub ca_pem: String,
}

impl TlsServer {
    pub fn start(valid_days: i64) -> TlsServer {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "bosun test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let day = |offset: i64| {
            let date = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(24 * offset)).unwrap().to_zoned(jiff::tz::TimeZone::UTC).date();
            rcgen::date_time_ymd(date.year().into(), date.month() as u8, date.day() as u8)
        };
        params.not_before = day(-1);
        params.not_after = day(valid_days);
        params.distinguished_name.push(rcgen::DnType::CommonName, "bosun test");
        let cert = params.signed_by(&key, &*ca).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(cert.der().to_vec())], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (tcp, _) = listener.accept().await.unwrap();
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        // A client that only reads the certificate hangs up after the handshake.
                        let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                        let mut request = Vec::new();
                        let mut buf = [0u8; 4096];
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                            match tls.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => request.extend_from_slice(&buf[..n]),
                            }
                        }
                        let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                        let _ = tls.shutdown().await;
                    });
                }
            });
        });
        TlsServer { url: format!("https://127.0.0.1:{port}"), port, ca_pem: ca.pem() }
    }
}
