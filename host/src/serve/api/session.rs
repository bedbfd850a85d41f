//! Dashboard sessions: signing in with a token gives a random session id in
//! an HttpOnly, SameSite=Strict cookie; the token itself never reaches the
//! browser again. A session holds the token's name (it ends when the token
//! is revoked or expires, or after [`LIFETIME`]) and a CSRF token every
//! form carries. Kept in memory: a restart signs everyone out.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "bosun_session";
/// How long a session lasts, however busy.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

#[derive(Clone)]
pub struct Session {
    pub token_name: String,
    /// What each form must send back.
    pub csrf: String,
    started: Instant,
}

/// Sessions by the hash of their id.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's randomness");
    hex::encode(bytes)
}

fn key(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

impl Sessions {
    /// A new session for token `token_name`: the cookie that carries it.
    pub fn start(&self, token_name: &str, secure: bool) -> String {
        let id = random_hex();
        let session = Session { token_name: token_name.to_string(), csrf: random_hex(), started: Instant::now() };
        let mut sessions = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.retain(|_, s| s.started.elapsed() < LIFETIME);
        sessions.insert(key(&id), session);
        let secure = if secure { "; Secure" } else { "" };
        format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", LIFETIME.as_secs())
    }

    /// The session the request's cookie names, while it lasts.
    pub fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers)?;
        let sessions = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.get(&key(&id)).filter(|s| s.started.elapsed() < LIFETIME).cloned()
    }

    /// Ends the request's session; the cookie that clears it.
    pub fn end(&self, headers: &HeaderMap) -> String {
        if let Some(id) = cookie(headers) {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&key(&id));
        }
        format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }
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

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends() {
        let sessions = Sessions::default();
        let set = sessions.start("dash", false);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"), "{set}");
        let id = set.split(';').next().unwrap().to_string();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, format!("other=1; {id}").parse().unwrap());
        assert_eq!(sessions.find(&headers).unwrap().token_name, "dash");
        sessions.end(&headers);
        assert!(sessions.find(&headers).is_none());
        headers.insert(header::COOKIE, format!("{COOKIE}=guess").parse().unwrap());
        assert!(sessions.find(&headers).is_none());
        assert!(sessions.start("dash", true).contains("; Secure"));
    }
}
