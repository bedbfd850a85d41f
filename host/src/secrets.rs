//! The one registry of secret values this bosun process has loaded, and the
//! masker every output goes through, as CI systems mask theirs.
//!
//! Values are registered where they are loaded: `${VAR}` expansions, a
//! channel's `url_file`, the tokens, keys, secrets and passwords in channel
//! URLs (chat services keep theirs in the path), passwords in URLs anywhere in
//! bosun.toml, `env_files` values. They are replaced by [`MASK`] in bosun's log
//! (a writer the tracing subscriber writes through), error messages, run
//! records, notification text and every printed result, `--json` included.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{Arc, PoisonError, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};

pub const MASK: &str = "***";

/// Shorter values are not masked: they would hide ordinary words and numbers
/// (`prod`, `8080`) everywhere, and are no secret anyway.
pub const MIN_LEN: usize = 6;

struct Registry {
    values: Vec<String>,
    matcher: Option<Arc<AhoCorasick>>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry { values: Vec::new(), matcher: None });

/// Masks `value` from now on, and its percent-encoded form (as it appears in
/// a URL).
pub fn register(value: &str) {
    let encoded: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let mut registry = REGISTRY.write().unwrap_or_else(PoisonError::into_inner);
    let before = registry.values.len();
    for value in [value, encoded.as_str()] {
        if value.chars().count() >= MIN_LEN && !registry.values.iter().any(|v| v == value) {
            registry.values.push(value.to_string());
        }
    }
    if registry.values.len() > before {
        // Leftmost-longest: a secret that contains another is masked whole.
        let matcher = AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&registry.values).expect("literal patterns build");
        registry.matcher = Some(Arc::new(matcher));
    }
}

/// Registers the password of a URL (`scheme://user:password@host/…`) found in
/// `text`, if it is one.
pub fn register_url_password(text: &str) {
    let Some((_, rest)) = text.split_once("://") else { return };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if let Some((userinfo, _host)) = authority.rsplit_once('@')
        && let Some((_user, password)) = userinfo.split_once(':')
    {
        register(password);
        register(&percent_encoding::percent_decode_str(password).decode_utf8_lossy());
    }
}

/// `text` with every registered secret replaced by [`MASK`].
pub fn mask(text: &str) -> Cow<'_, str> {
    let matcher = REGISTRY.read().unwrap_or_else(PoisonError::into_inner).matcher.clone();
    match matcher {
        Some(matcher) if matcher.is_match(text) => {
            let mut masked = String::with_capacity(text.len());
            matcher.replace_all_with(text, &mut masked, |_, _, out| {
                out.push_str(MASK);
                true
            });
            Cow::Owned(masked)
        }
        _ => Cow::Borrowed(text),
    }
}

/// `value` as pretty JSON with every string (keys too) masked. Masked before
/// it is serialized, so a secret holding a quote is matched as it is, not as
/// JSON escapes it; serialized first to see whether anything needs masking.
pub fn masked_json<T: serde::Serialize>(value: &T) -> String {
    masked_as(value, serde_json::to_string_pretty)
}

/// [`masked_json`] on one line, for what the state store keeps.
pub fn masked_json_line<T: serde::Serialize>(value: &T) -> String {
    masked_as(value, serde_json::to_string)
}

fn masked_as<T: serde::Serialize>(value: &T, write: impl Fn(&serde_json::Value) -> serde_json::Result<String>) -> String {
    let value = serde_json::to_value(value).expect("serializable");
    let text = write(&value).expect("serializable");
    let escaped_secrets = REGISTRY.read().unwrap_or_else(PoisonError::into_inner).values.iter().any(|v| v.contains(['"', '\\']) || v.chars().any(char::is_control));
    if !escaped_secrets && matches!(mask(&text), Cow::Borrowed(_)) {
        return text;
    }
    write(&mask_json(value)).expect("serializable")
}

fn mask_json(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let mask = |text: String| match mask(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(masked) => masked,
    };
    match value {
        Value::String(s) => Value::String(mask(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(mask_json).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (mask(k), mask_json(v))).collect()),
        other => other,
    }
}

/// Panic messages masked too: the default hook prints them as they are.
pub fn mask_panics() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        eprintln!("thread '{}' {}", thread.name().unwrap_or("<unnamed>"), mask(&info.to_string()));
    }));
}

/// A tracing writer that masks each formatted line before it reaches `inner`.
pub struct MaskingWriter<M>(pub M);

impl<'a, M: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a> for MaskingWriter<M> {
    type Writer = Masked<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Masked(self.0.make_writer())
    }
}

pub struct Masked<W>(W);

impl<W: Write> Write for Masked<W> {
    // The fmt layer writes each event whole, in one call.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(mask(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_everywhere_and_short_ones_never() {
        register("s3cr3t-token:AB/cd");
        register("s3cr3t-token:AB/cd-and-more");
        register("prod");
        assert_eq!(mask("url /bots3cr3t-token:AB/cd/send failed"), "url /bot***/send failed");
        assert_eq!(mask("s3cr3t-token:AB/cd-and-more"), "***", "the longest match wins");
        assert_eq!(mask("s3cr3t-token%3AAB%2Fcd"), "***", "the URL-encoded form too");
        assert_eq!(mask("prod is fine"), "prod is fine");
        let json = masked_json(&serde_json::json!({"error": "x s3cr3t-token:AB/cd y", "n": 1}));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&json).unwrap(), serde_json::json!({"error": "x *** y", "n": 1}));
        register("quote\"d-secret");
        let json = masked_json(&serde_json::json!({"error": "x quote\"d-secret"}));
        assert!(json.contains("x ***") && !json.contains("d-secret"), "{json}");
        register_url_password("smtp://ops:pa%24sw0rd@mail.example:25/?to=a@b");
        assert_eq!(mask("auth pa$sw0rd refused"), "auth *** refused");
        let mut out = Masked(Vec::new());
        out.write_all(b"WARN notifying x: s3cr3t-token:AB/cd\n").unwrap();
        assert_eq!(String::from_utf8(out.0).unwrap(), "WARN notifying x: ***\n");
    }
}
