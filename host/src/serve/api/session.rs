//! Dashboard sessions: signing in with a token gives a random session id in
//! an HttpOnly, SameSite=Strict cookie; the token itself never reaches the
//! browser again. A session holds the token's name (it ends when the token
//! is revoked or expires, or after [`LIFETIME`]) and a CSRF token every
//! form carries, derived from its id. Kept in the state store by the SHA-256
//! of its id, so a restarted `bosun serve` keeps people signed in, and a
//! copy of state.db signs nobody in and forges no form.

use std::time::Duration;

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::state::{StateError, StoredSession, now_unix};

/// A signed-in session, as a request finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_name: String,
    /// What each of its forms must send back.
    pub csrf: String,
}

pub const COOKIE: &str = "bosun_session";
/// How long a session lasts, however busy.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's randomness");
    hex::encode(bytes)
}

fn key(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// The session's CSRF token: known only to whoever holds the id.
fn csrf(id: &str) -> String {
    hex::encode(Sha256::digest(format!("bosun csrf {id}").as_bytes()))
}

/// When the oldest session still lasting started.
fn oldest_kept() -> i64 {
    now_unix() - LIFETIME.as_secs() as i64
}

/// A new session for token `token_name`: the cookie that carries it.
pub fn start(app: &App, token_name: &str, secure: bool) -> Result<String, StateError> {
    let id = random_hex();
    let session = StoredSession { token_name: token_name.to_string(), started_at: now_unix() };
    app.state()?.start_session(&key(&id), &session, oldest_kept())?;
    let secure = if secure { "; Secure" } else { "" };
    Ok(format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", LIFETIME.as_secs()))
}

/// The session the request's cookie names, while it lasts.
pub fn find(app: &App, headers: &HeaderMap) -> Option<Session> {
    let id = cookie(headers)?;
    match app.state().and_then(|state| state.session(&key(&id), oldest_kept())) {
        Ok(found) => found.map(|stored| Session { token_name: stored.token_name, csrf: csrf(&id) }),
        Err(e) => {
            tracing::warn!("reading the session store: {e}");
            None
        }
    }
}

/// Ends the request's session; the cookie that clears it.
pub fn end(app: &App, headers: &HeaderMap) -> String {
    if let Some(id) = cookie(headers)
        && let Err(e) = app.state().and_then(|state| state.end_session(&key(&id)))
    {
        tracing::warn!("ending a session: {e}");
    }
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE).and_then(|rest| rest.strip_prefix('=')).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(dir: &std::path::Path) -> App {
        App::load(Some(dir.join("bosun.toml"))).unwrap()
    }

    #[test]
    fn a_session_is_found_by_its_cookie_outlives_a_restart_and_ends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bosun.toml"), "").unwrap();
        let first = app(dir.path());
        let set = start(&first, "dash", false).unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"), "{set}");
        let id = set.split(';').next().unwrap().to_string();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, format!("other=1; {id}").parse().unwrap());
        assert_eq!(find(&first, &headers).unwrap().token_name, "dash");
        // Kept by its hash only: the id itself finds nothing in the store.
        let raw = id.strip_prefix(&format!("{COOKIE}=")).unwrap();
        assert!(first.state().unwrap().session(raw, 0).unwrap().is_none());

        // Another serve (a restart) on the same state finds it; ended, it is gone.
        let restarted = app(dir.path());
        assert_eq!(find(&restarted, &headers), find(&first, &headers));
        end(&restarted, &headers);
        assert!(find(&first, &headers).is_none());
        headers.insert(header::COOKIE, format!("{COOKIE}=guess").parse().unwrap());
        assert!(find(&first, &headers).is_none());
        assert!(start(&first, "dash", true).unwrap().contains("; Secure"));

        // One older than LIFETIME is not found, and goes when the next one starts.
        let old = StoredSession { token_name: "dash".into(), started_at: now_unix() - LIFETIME.as_secs() as i64 - 1 };
        first.state().unwrap().start_session(&key("old"), &old, 0).unwrap();
        headers.insert(header::COOKIE, format!("{COOKIE}=old").parse().unwrap());
        assert!(find(&first, &headers).is_none());
        start(&first, "dash", false).unwrap();
        assert!(first.state().unwrap().session(&key("old"), 0).unwrap().is_none());
    }
}
