//! keybrake's control plane: issues and revokes vault keys, holds the vendors' real
//! credentials sealed at rest, long-polls policy snapshots out to the gateways, and keeps the
//! ledger of record: budget leases per gateway instance, so that daily caps hold exactly.
//!
//! [`app`] builds the router without a socket (tests drive it in process); [`serve`] runs it on
//! a listener the caller bound, so tests can use port 0.

pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod crypto;
pub mod duration;
pub mod error;
pub mod extract;
pub mod gateways;
pub mod leases;
pub mod ledger;
pub mod prices;
pub mod retention;
pub mod secrets;
pub mod snapshot;
pub mod state;
pub mod store;
pub mod ui;
pub mod wire;

pub use clock::Clock;
pub use state::{AppState, Limits, Settings, StartError};

use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;

/// The control plane's router: the API and the operator console at `/ui`, behind
/// [`catch_panics`].
pub fn app(state: AppState) -> Router {
    catch_panics(api::router(state.clone()).merge(ui::router(state)))
}

/// Answers a request whose handler panicked with `500` and our error shape (the panic's
/// message stays in the log, never in the answer) and keeps serving every other request: the
/// control plane never aborts on a panic (the release profile unwinds; only the wasm filter's
/// target aborts).
pub fn catch_panics(router: Router) -> Router {
    router.layer(tower_http::catch_panic::CatchPanicLayer::custom(
        |cause: Box<dyn std::any::Any + Send + 'static>| {
            let what = cause
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| cause.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            axum::response::IntoResponse::into_response(error::ApiError::internal(anyhow::anyhow!(
                "a request handler panicked: {what}"
            )))
        },
    ))
}

/// Serves [`app`] on `listener` until `shutdown` completes, then answers waiting long-polls at
/// once and drains in-flight requests. Audit retention runs beside it (see [`retention`]).
///
/// HTTP/1.1 only (gateways and the CLI speak it), on its own accept loop rather than
/// `axum::serve`, for one setting: half-close. A client
/// that closes its side right after sending (a gateway whose timeout fired while this process
/// was paused or busy) would otherwise have its request dropped unread; with half-close the
/// request is still handled, so an audit batch in flight is stored and its counters known.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper::server::conn::http1;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let retention = retention::spawn(state.clone());
    let router = app(state.clone());
    let mut builder = http1::Builder::new();
    builder.half_close(true).timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    state.begin_shutdown();
    graceful.shutdown().await;
    retention.abort();
    Ok(())
}
