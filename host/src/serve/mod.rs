//! `bosun serve`: the long-running bosun. It answers the HTTP API (`api`)
//! and runs the pipelines that have a schedule (`scheduler`), in one process,
//! until Ctrl-C.

pub mod api;
pub mod scheduler;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::app::App;
use crate::failure::Failure;

/// Where `bosun serve` listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";

pub async fn run(app: Arc<App>, listen: SocketAddr) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| Failure::bad_input(format!("cannot listen on {listen}: {}; pass --listen with a free address", crate::words::io_words(&e))))?;
    eprintln!("listening on http://{}", listener.local_addr().map_err(|e| Failure::failed(e.to_string()))?);
    let http = async {
        axum::serve(listener, api::router(app.clone()).into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| Failure::failed(format!("serving HTTP: {e}")))
    };
    let (http, schedules) = tokio::join!(http, scheduler::run(&app));
    http.and(schedules)
}
