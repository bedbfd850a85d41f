//! `bosun serve`: the long-running bosun. It answers the HTTP API (`api`)
//! and runs the pipelines that have a schedule (`scheduler`), in one process,
//! until Ctrl-C.

pub mod api;
pub mod scheduler;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::failure::Failure;

/// Where `bosun serve` listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";

/// Answers the API and runs the schedules until Ctrl-C or SIGTERM; then
/// stops accepting, gives the runs it started `grace` to end, and cancels
/// the rest (each winds down and is recorded as cancelled).
pub async fn run(app: Arc<App>, listen: SocketAddr, grace: Duration) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| Failure::bad_input(format!("cannot listen on {listen}: {}; pass --listen with a free address", crate::words::io_words(&e))))?;
    eprintln!("listening on http://{}", listener.local_addr().map_err(|e| Failure::failed(e.to_string()))?);
    let api = api::Api::new(app.clone());
    let (stopping, stop) = crate::ops::cancel::pair();
    let scheduler_stop = stop.clone();
    let http = async {
        let service = api::router(api.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let stopped = async move { stop.cancelled().await };
        axum::serve(listener, service).with_graceful_shutdown(stopped).await.map_err(|e| Failure::failed(format!("serving HTTP: {e}")))
    };
    let signals = async {
        shutdown_signal().await;
        eprintln!("stopping: no new requests; {} run(s) get {} to end", api.runs_going(), crate::time::elapsed(grace));
        stopping.cancel();
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
    let (http, schedules, ()) = tokio::join!(http, scheduler::run(&app, scheduler_stop), signals);
    http.and(schedules)
}

/// Ctrl-C, or SIGTERM (what systemd and `docker stop` send).
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
