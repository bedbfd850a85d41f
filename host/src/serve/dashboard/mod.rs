//! The web dashboard at `/`: pages rendered on the server (maud), one small
//! script of our own for live logs, nothing from elsewhere. Signing in
//! takes a token once and gives an HttpOnly, SameSite=Strict session
//! cookie; every form carries the session's CSRF token and is refused
//! without it. `pages` are the views, `actions` the forms; both call the
//! API's own code, so the dashboard can do nothing the API cannot.

mod actions;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::api::session::Session;
use super::api::{Api, ClientAddr, Problem, Requester};
use super::html::head;
use crate::state::Role;

pub fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/signin", get(sign_in_page).post(sign_in))
        .route("/signout", post(sign_out))
        .route("/assets/live.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("assets/live.js")) }))
        .route("/assets/style.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("assets/style.css")) }))
        .merge(pages::routes())
        .merge(actions::routes())
        .layer(axum::middleware::map_response(guarded))
}

/// What every dashboard answer carries: its own scripts and styles only,
/// never framed, no referrer to elsewhere.
async fn guarded(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let policy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// A signed-in person: the session's token (still live) and the request.
pub struct Signed {
    pub by: Requester,
    pub csrf: String,
}

impl FromRequestParts<Arc<Api>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to("/signin").into_response();
        let session: Session = crate::serve::api::session::find(&api.app, &parts.headers).ok_or_else(to_sign_in)?;
        let from = super::api::client_addr(parts);
        let token = api.guard_session(from, &session).map_err(|_| to_sign_in())?;
        Ok(Signed { by: Requester { token, from, action: format!("{} {}", parts.method, parts.uri.path()) }, csrf: session.csrf })
    }
}

impl Signed {
    /// Whether the session's token has `role` (403 naming it if not).
    fn needs(&self, role: Role) -> Result<(), Problem> {
        super::api::enough(self.by.token.clone(), role).map(|_| ())
    }

    /// Refuses a form that does not carry this session's CSRF token.
    fn check_form(&self, sent: &str) -> Result<(), Problem> {
        match bool::from(sent.as_bytes().ct_eq(self.csrf.as_bytes())) {
            true => Ok(()),
            false => Err(Problem::new(StatusCode::FORBIDDEN, "this form is stale or was not sent from this dashboard; reload the page and try again")),
        }
    }
}

/// A page with the navigation, for `signed`.
fn page(signed: &Signed, here: &str, title: &str, body: Markup) -> Markup {
    let nav = [("/", "Overview"), ("/runs", "Runs"), ("/releases", "Releases"), ("/backups", "Backups"), ("/checks", "Checks"), ("/schedules", "Schedules")];
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, true))
            body {
                header {
                    strong { "bosun" }
                    @for (href, name) in nav {
                        a href=(href) class=[(href == here).then_some("here")] { (name) }
                    }
                    span.who {
                        (signed.by.who()) " (" (signed.by.token.role.as_str()) ") "
                        form.inline method="post" action="/signout" {
                            input type="hidden" name="csrf" value=(signed.csrf);
                            button type="submit" { "sign out" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// The page that says what went wrong, with the API's status and message.
fn failure(signed: &Signed, problem: Problem) -> Response {
    let body = html! {
        p.problem { (crate::secrets::mask(&problem.detail)) }
        p { a href="/" { "overview" } }
    };
    (problem.status, page(signed, "", &format!("{} {}", problem.status.as_u16(), problem.status.canonical_reason().unwrap_or("")), body)).into_response()
}

/// A bare page (no navigation): signing in.
fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, false))
            body { main { h1 { (title) } (body) } }
        }
    }
}

fn sign_in_form(problem: Option<&str>) -> Markup {
    bare(
        "Sign in",
        html! {
            @if let Some(problem) = problem { p.problem { (problem) } }
            form method="post" action="/signin" {
                p { label for="token" { "API token" } br; input #token type="password" name="token" autocomplete="off" autofocus; }
                p.muted { "Make one with " code { "bosun token create NAME --role viewer" } ". It is sent once; the browser keeps only a session cookie." }
                button.act type="submit" { "Sign in" }
            }
        },
    )
}

async fn sign_in_page() -> Markup {
    sign_in_form(None)
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

async fn sign_in(State(api): State<Arc<Api>>, ClientAddr(from): ClientAddr, Form(form): Form<SignIn>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {}", form.token.trim())).unwrap_or(HeaderValue::from_static("")));
    match api.guard_token(from, &headers) {
        Ok(token) => {
            match crate::serve::api::session::start(&api.app, &token.name, api.app.config.serve.tls.is_some()) {
                Ok(cookie) => ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response(),
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, sign_in_form(Some(&format!("the session could not be kept: {e}")))).into_response(),
            }
        }
        Err(problem) => (problem.status, sign_in_form(Some(&problem.detail))).into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

async fn sign_out(State(api): State<Arc<Api>>, signed: Signed, headers: HeaderMap, Form(form): Form<CsrfOnly>) -> Response {
    if let Err(problem) = signed.check_form(&form.csrf) {
        return failure(&signed, problem);
    }
    ([(header::SET_COOKIE, crate::serve::api::session::end(&api.app, &headers))], Redirect::to("/signin")).into_response()
}
