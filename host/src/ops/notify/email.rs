//! Email notifications, sent by bosun itself (a sandboxed plugin has no
//! sockets): STARTTLS by default, implicit TLS on request, plain only when
//! the URL says `tls=none`.

use std::collections::BTreeMap;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

const TIMEOUT: Duration = Duration::from_secs(15);

/// Sends `title`/`body` as a plain-text mail; returns the server's answer.
pub async fn send(params: &BTreeMap<String, String>, title: &str, body: &str) -> Result<String, String> {
    let get = |key: &str| params.get(key).map(String::as_str).unwrap_or_default();
    let mut message = Message::builder().subject(title).header(ContentType::TEXT_PLAIN);
    message = message.from(get("from").parse().map_err(|e| format!("from address `{}`: {e}", get("from")))?);
    for to in get("to").split(',').map(str::trim).filter(|t| !t.is_empty()) {
        message = message.to(to.parse().map_err(|e| format!("to address `{to}`: {e}"))?);
    }
    let message = message.body(body.to_string()).map_err(|e| format!("building the mail: {e}"))?;
    let host = get("host");
    let builder = match get("tls") {
        "implicit" => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
        "none" => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)),
        _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
    }
    .map_err(|e| format!("smtp://{host}: {e}"))?;
    let port: u16 = get("port").parse().map_err(|_| format!("smtp:// port `{}` is not a number", get("port")))?;
    let mut builder = builder.port(port).timeout(Some(TIMEOUT));
    if !get("user").is_empty() {
        builder = builder.credentials(Credentials::new(get("user").to_string(), get("password").to_string()));
    }
    let response = builder.build().send(message).await.map_err(|e| format!("smtp://{host}:{port}: {}", crate::docker::causes(&e)))?;
    Ok(format!("SMTP {}: {}", response.code(), response.message().collect::<Vec<_>>().join(" ")))
}
