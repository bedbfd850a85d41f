//! TLS client settings shared by the http and net capabilities: the system's
//! trusted roots plus the CAs an operator adds, and a lenient mode that
//! completes any handshake while noting why the certificate is not trusted.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Deserialize;

/// `[plugins.<name>.tls]` in bosun.toml: how the plugin's HTTPS requests
/// judge certificates. Without it, the public roots (webpki-roots) decide.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM files of CAs to trust besides the public roots (an internal CA).
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    /// `https://host[:port]` origins whose certificate is not checked at all
    /// (a self-signed staging box). Narrow on purpose: there is no global switch.
    #[serde(default)]
    pub insecure: Vec<String>,
}

/// [`TlsSettings`] loaded: the CA certificates read, the origins parsed.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    extra_roots: Vec<CertificateDer<'static>>,
    insecure: super::http::Grant,
}

impl Trust {
    /// Reads the CA files (`resolve` makes paths relative to bosun.toml absolute).
    /// The error names the file or entry and what is wrong with it.
    pub fn load(settings: &TlsSettings, resolve: impl Fn(&Path) -> PathBuf) -> Result<Trust, String> {
        let mut extra_roots = Vec::new();
        for file in &settings.ca_files {
            let path = resolve(file);
            let certs = CertificateDer::pem_file_iter(&path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("ca_files: {}: not a readable PEM file ({e})", path.display()))?;
            if certs.is_empty() {
                return Err(format!("ca_files: {}: holds no CERTIFICATE block", path.display()));
            }
            extra_roots.extend(certs);
        }
        if let Some(entry) = settings.insecure.iter().find(|e| !e.starts_with("https://")) {
            return Err(format!("insecure: {entry:?} is not an https:// origin"));
        }
        let insecure = super::http::Grant::parse(&settings.insecure).map_err(|e| format!("insecure: {e}"))?;
        Ok(Trust { extra_roots, insecure })
    }

    /// The client configuration for an HTTPS request to `host:port`, when it
    /// differs from the default (public roots only); `None` means the default.
    pub fn client_config(&self, host: &str, port: u16) -> Option<Arc<ClientConfig>> {
        if self.insecure.allows("https", host, port) {
            return lenient_config(&[]).ok().map(|(config, _)| Arc::new(config));
        }
        if self.extra_roots.is_empty() {
            return None;
        }
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(&self.extra_roots)), provider()).build().ok()?;
        let config = ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().ok()?;
        Some(Arc::new(config.with_webpki_verifier(verifier).with_no_client_auth()))
    }
}

/// Public roots only: what bosun's own requests (a heartbeat ping) trust.
pub fn public_config() -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().expect("ring supports the default versions");
    Arc::new(config.with_root_certificates(roots(&[])).with_no_client_auth())
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(extra: &[CertificateDer<'static>]) -> RootCertStore {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
    roots.add_parsable_certificates(extra.iter().cloned());
    roots
}

/// A configuration that completes the handshake whatever the certificate,
/// and the observer that remembers why the roots would have refused it.
pub fn lenient_config(extra_roots: &[CertificateDer<'static>]) -> Result<(ClientConfig, Arc<Observer>), String> {
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(extra_roots)), provider()).build().map_err(|e| e.to_string())?;
    let observer = Arc::new(Observer { webpki, verdict: Mutex::new(None) });
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(observer.clone())
        .with_no_client_auth();
    Ok((config, observer))
}

/// Verifies like a browser would, remembers the verdict, and lets the
/// handshake go on either way (handshake signatures are still checked).
#[derive(Debug)]
pub struct Observer {
    webpki: Arc<WebPkiServerVerifier>,
    verdict: Mutex<Option<String>>,
}

impl Observer {
    /// Why the certificate is not trusted, if it is not.
    pub fn untrusted(&self) -> Option<String> {
        self.verdict.lock().expect("verdict lock").clone()
    }
}

impl ServerCertVerifier for Observer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Err(e) = self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            *self.verdict.lock().expect("verdict lock") = Some(e.to_string());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
