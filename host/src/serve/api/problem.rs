//! RFC 9457 problem documents, and the extractors whose bad input becomes
//! one: a query string, a JSON body.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::failure::{BAD_INPUT, Failure, LOCKED};

/// An RFC 9457 problem document, carrying the CLI's one-line message.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem { status, detail: detail.into() }
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = super::ProblemDocument {
            kind: "about:blank".into(),
            title: self.status.canonical_reason().unwrap_or("error").into(),
            status: self.status.as_u16(),
            detail: crate::secrets::mask(&self.detail).into_owned(),
        };
        let body = serde_json::to_string(&body).expect("a problem serializes");
        (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response()
    }
}

impl From<Failure> for Problem {
    fn from(failure: Failure) -> Problem {
        let status = match failure.code {
            BAD_INPUT => StatusCode::BAD_REQUEST,
            LOCKED => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Problem::new(status, failure.message)
    }
}

impl From<crate::state::StateError> for Problem {
    fn from(e: crate::state::StateError) -> Problem {
        Failure::from(e).into()
    }
}

/// A query string as `T`; a bad one is a 400 problem naming the parameter.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(e) => Err(Problem::bad_request(format!("the query string: {}", e.body_text()))),
        }
    }
}

/// A request body a route takes: JSON, unknown fields refused, an empty
/// body meaning the default.
pub trait RequestBody: Default + serde::de::DeserializeOwned {
    /// What a good body looks like, shown when one is not.
    const EXAMPLE: &'static str;
}

/// A JSON body as `T`: 400 naming what is wrong and showing an example, 413
/// over the body limit.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: RequestBody> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(unread)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(T::default()));
        }
        serde_json::from_slice(&bytes).map(Body).map_err(|e| Problem::bad_request(format!("the body is not what this route takes ({e}); send e.g. {}", T::EXAMPLE)))
    }
}

/// Why a body could not be read, as a problem: 413 over the body limit.
pub fn unread(e: axum::extract::rejection::BytesRejection) -> Problem {
    match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "the body is larger than this server takes (serve.body_limit in bosun.toml)"),
        status => Problem::new(status, format!("reading the body: {}", e.body_text())),
    }
}
