//! HTTPS for `bosun serve`: the certificate and key from `[serve.tls]`,
//! read again on SIGHUP (a renewed certificate needs no restart; a bad one
//! is refused and the old one kept).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::failure::Failure;

pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    pub config: RustlsConfig,
}

impl Tls {
    pub fn load(cert: PathBuf, key: PathBuf) -> Result<Tls, Failure> {
        let config = RustlsConfig::from_config(Arc::new(server_config(&cert, &key).map_err(|e| Failure::bad_input(format!("serve.tls: {e}")))?));
        Ok(Tls { cert, key, config })
    }

    /// Reads the files again each time SIGHUP comes; never ends (serve stops it).
    pub async fn reload_on_hangup(&self) {
        let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(e) => {
                eprintln!("serve.tls: no SIGHUP handler ({e}); restart serve to read a renewed certificate");
                return std::future::pending().await;
            }
        };
        while hangups.recv().await.is_some() {
            match server_config(&self.cert, &self.key) {
                Ok(config) => {
                    self.config.reload_from_config(Arc::new(config));
                    eprintln!("serve.tls: read {} again", self.cert.display());
                }
                Err(e) => eprintln!("serve.tls: {e}; still serving the certificate read before"),
            }
        }
        std::future::pending().await
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cert {}: not a readable PEM file ({e})", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("cert {}: holds no CERTIFICATE block", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("key {}: not a readable PEM private key ({e})", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions().map_err(|e| e.to_string())?;
    let mut config = config.with_no_client_auth().with_single_cert(certs, key).map_err(|e| format!("the certificate and key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
