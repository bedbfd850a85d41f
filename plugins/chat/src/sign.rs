//! The robots' signatures: HMAC-SHA256, base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// DingTalk: key = secret, message = `"{timestamp_ms}\n{secret}"`.
pub fn dingtalk(secret: &str, timestamp_ms: u64) -> String {
    hmac_base64(secret.as_bytes(), format!("{timestamp_ms}\n{secret}").as_bytes())
}

/// Feishu: key = `"{timestamp_s}\n{secret}"`, empty message.
pub fn feishu(secret: &str, timestamp_s: u64) -> String {
    hmac_base64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

/// Percent-encodes everything but unreserved characters (for a query value).
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
