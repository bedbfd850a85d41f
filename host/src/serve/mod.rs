//! `bosun serve`: the long-running bosun. It answers the HTTP API (`api`)
//! and the web dashboard (`dashboard`) over HTTP or HTTPS (`tls`), and runs
//! the pipelines that have a schedule (`scheduler`), and samples what
//! `[watch]` picks, firing `[alerts]` (`ops::watch`, `ops::alerts`), in one
//! process, until Ctrl-C or SIGTERM.

pub mod api;
mod dashboard;
mod html;
pub mod scheduler;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::failure::Failure;

/// Where `bosun serve` listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";

/// Answers the API and runs the schedules until Ctrl-C or SIGTERM; then
/// stops accepting, gives the runs it started `grace` to end, and cancels
/// the rest (each winds down and is recorded as cancelled).
pub async fn run(app: Arc<App>, listen: Option<SocketAddr>, grace: Duration) -> Result<(), Failure> {
    let settings = app.config.serve.clone();
    let listen = listen.or(settings.listen()).unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("a valid address"));
    let listener = std::net::TcpListener::bind(listen).map_err(|e| Failure::bad_input(format!("cannot listen on {listen}: {}; pass --listen with a free address", crate::words::io_words(&e))))?;
    listener.set_nonblocking(true).map_err(|e| Failure::failed(e.to_string()))?;
    let tls = match &settings.tls {
        Some(t) => Some(tls::Tls::load(app.config.resolve(&t.cert), app.config.resolve(&t.key))?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("listening on {scheme}://{}", listener.local_addr().map_err(|e| Failure::failed(e.to_string()))?);
    let api = api::Api::new(app.clone());
    let service = api::router(api.clone())
        .merge(dashboard::routes().with_state(api.clone()))
        .layer(axum::middleware::from_fn_with_state(settings.request_timeout(), bounded))
        .layer(DefaultBodyLimit::max(settings.body_limit()))
        .into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let (stopping, stop) = crate::ops::cancel::pair();
    let http = async {
        let served = match &tls {
            Some(tls) => axum_server::from_tcp_rustls(listener, tls.config.clone()).map_err(|e| Failure::failed(e.to_string()))?.handle(handle.clone()).serve(service).await,
            None => axum_server::from_tcp(listener).map_err(|e| Failure::failed(e.to_string()))?.handle(handle.clone()).serve(service).await,
        };
        served.map_err(|e| Failure::failed(format!("serving HTTP: {e}")))
    };
    let reload = async {
        match &tls {
            Some(tls) => tls.reload_on_hangup().await,
            None => std::future::pending().await,
        }
    };
    let signals = async {
        shutdown_signal().await;
        eprintln!("stopping: no new requests; {} run(s) get {} to end", api.runs_going(), crate::time::elapsed(grace));
        stopping.cancel();
        // Open event streams would hold a graceful shutdown forever.
        handle.graceful_shutdown(Some(Duration::from_secs(1)));
        let deadline = tokio::time::Instant::now() + grace;
        while api.runs_going() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if api.runs_going() > 0 {
            eprintln!("cancelling {} run(s)", api.runs_going());
            api.cancel_all();
            while api.runs_going() > 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let watching = crate::ops::alerts::watch(&app, stop.clone(), async |_| {});
    let (http, schedules, watched) = tokio::select! {
        joined = async { tokio::join!(http, scheduler::run(&app, stop.clone()), watching, signals) } => (joined.0, joined.1, joined.2),
        () = reload => unreachable!("reloading ends only with the process"),
    };
    http.and(schedules).and(watched)
}

/// A request still unanswered after the `limit` gets 503 (a run it starts,
/// or an event stream once it has begun, is not bounded by this).
async fn bounded(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => api::Problem::new(StatusCode::SERVICE_UNAVAILABLE, format!("no answer within {} (serve.request_timeout in bosun.toml)", crate::time::elapsed(limit))).into_response(),
    }
}

/// Ctrl-C, or SIGTERM (what systemd and `docker stop` send).
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
