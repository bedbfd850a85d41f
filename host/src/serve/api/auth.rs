//! Who is calling: a bearer token with at least the role a route needs.
//! A handler says which by the type it takes (`Caller<Operator>`); the
//! check runs before anything else the request carries is looked at. A
//! dashboard session (its cookie) stands for its token on reads only
//! (GET), so a page can follow a run's events; everything that changes
//! something takes the header, or a dashboard form with its CSRF token.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};

use super::session::Session;
use super::{Api, Problem};
use crate::state::{Role, TokenRecord};

/// Failed token attempts a client may make in [`FAILURE_WINDOW`].
const MAX_FAILURES: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// A token's `last_used_at` is written at most this often (a busy client
/// would otherwise write the store on every request).
const USE_RECORDED_EVERY: Duration = Duration::from_secs(60);

/// The role a route needs, as a type.
pub trait Needs {
    const ROLE: Role;
}

/// Reads.
pub struct Viewer;
/// Runs pipelines, deploys, rolls back, backs up, checks, approves.
pub struct Operator;
/// Manages tokens, plugins and locks.
pub struct Admin;

impl Needs for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl Needs for Operator {
    const ROLE: Role = Role::Operator;
}
impl Needs for Admin {
    const ROLE: Role = Role::Admin;
}

/// Who made a request: the token, the client's address, what it asked.
pub struct Requester {
    pub token: TokenRecord,
    pub from: IpAddr,
    /// The method and path, as the audit log records them.
    pub action: String,
}

impl Requester {
    /// Who, as records name a caller: `token NAME`.
    pub fn who(&self) -> String {
        format!("token {}", self.token.name)
    }
}

/// A caller whose token has at least `R`'s role.
pub struct Caller<R> {
    pub by: Requester,
    role: PhantomData<R>,
}

impl<R> std::ops::Deref for Caller<R> {
    type Target = Requester;

    fn deref(&self) -> &Requester {
        &self.by
    }
}

impl<R: Needs> FromRequestParts<Arc<Api>> for Caller<R> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Self, Problem> {
        let from = client_addr(parts);
        let reads = matches!(parts.method, Method::GET | Method::HEAD);
        let session = if reads && !parts.headers.contains_key(header::AUTHORIZATION) { super::session::find(&api.app, &parts.headers) } else { None };
        let token = match session {
            Some(session) => api.guard.admit_session(&api.app, from, &session, R::ROLE)?,
            None => api.guard.admit(&api.app, from, &parts.headers, R::ROLE)?,
        };
        Ok(Caller { by: Requester { token, from, action: format!("{} {}", parts.method, parts.uri.path()) }, role: PhantomData })
    }
}

/// The client's address (loopback when the server was not told it).
pub fn client_addr(parts: &Parts) -> IpAddr {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip())
}

/// The client's address, as a handler takes it.
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts)))
    }
}

/// Failed attempts per client address, and when each token's use was last written.
#[derive(Default)]
pub struct Guard {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    used: Mutex<HashMap<String, Instant>>,
}

impl Guard {
    /// The caller's token, if it has at least `role`: 401 without a live
    /// token, 403 naming the role needed, 429 after too many failures.
    pub(super) fn admit(&self, app: &crate::app::App, from: IpAddr, headers: &HeaderMap, role: Role) -> Result<TokenRecord, Problem> {
        self.refuse_if_limited(from)?;
        let found = self.token_of(app, headers, role);
        if matches!(&found, Err(p) if p.status == StatusCode::UNAUTHORIZED) {
            self.failed(from);
        }
        found
    }

    /// 429 for a client that failed too often in the last minute.
    pub fn refuse_if_limited(&self, from: IpAddr) -> Result<(), Problem> {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.retain(|_, (_, first)| first.elapsed() < FAILURE_WINDOW);
        match failures.get(&from).is_some_and(|(count, _)| *count >= MAX_FAILURES) {
            true => Err(Problem::new(StatusCode::TOO_MANY_REQUESTS, format!("too many failed credentials from {from}; wait a minute"))),
            false => Ok(()),
        }
    }

    /// Counts a failed credential (an unknown token, a bad signature) from `from`.
    pub fn failed(&self, from: IpAddr) {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner).entry(from).or_insert((0, Instant::now())).0 += 1;
    }

    /// The token behind a dashboard session, if it is still live and has at least `role`.
    pub fn admit_session(&self, app: &crate::app::App, from: IpAddr, session: &Session, role: Role) -> Result<TokenRecord, Problem> {
        self.refuse_if_limited(from)?;
        let token = app.state()?.live_token(&session.token_name)?.ok_or_else(|| Problem::new(StatusCode::UNAUTHORIZED, "the token this session was made with is revoked or expired; sign in again"))?;
        self.used(app, enough(token, role)?)
    }

    fn token_of(&self, app: &crate::app::App, headers: &HeaderMap, role: Role) -> Result<TokenRecord, Problem> {
        let unknown = || Problem::new(StatusCode::UNAUTHORIZED, "missing or unknown token: send `Authorization: Bearer TOKEN` with one from `bosun token create NAME --role viewer`");
        let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).ok_or_else(unknown)?;
        let token = app.state()?.token(presented.trim())?.ok_or_else(unknown)?;
        self.used(app, enough(token, role)?)
    }

    /// `token`, its use recorded (at most once a minute).
    fn used(&self, app: &crate::app::App, token: TokenRecord) -> Result<TokenRecord, Problem> {
        let state = app.state()?;
        let due = {
            let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
            let due = used.get(&token.name).is_none_or(|at| at.elapsed() >= USE_RECORDED_EVERY);
            if due {
                used.insert(token.name.clone(), Instant::now());
            }
            due
        };
        if due {
            state.token_used(&token.name)?;
        }
        Ok(token)
    }
}

/// `token` if its role is at least `role`; else 403 naming the role needed.
pub fn enough(token: TokenRecord, role: Role) -> Result<TokenRecord, Problem> {
    match token.role >= role {
        true => Ok(token),
        false => Err(Problem::new(StatusCode::FORBIDDEN, format!("this needs the {} role; token {} has {}", role.as_str(), token.name, token.role.as_str()))),
    }
}
