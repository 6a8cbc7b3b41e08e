//! keybrake's control plane: issues and revokes vault keys, holds the vendors' real
//! credentials sealed at rest, long-polls policy snapshots out to the gateways, and keeps the
//! ledger of record: budget leases per gateway instance, so that daily caps hold exactly.
//!
//! [`app`] builds the router without a socket (tests drive it in process); [`serve`] runs it on
//! a listener the caller bound, so tests can use port 0.

pub mod api;
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
pub mod secrets;
pub mod snapshot;
pub mod state;
pub mod store;
pub mod wire;

pub use clock::Clock;
pub use state::{AppState, Limits, Settings, StartError};

use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;

/// The control plane's router.
pub fn app(state: AppState) -> Router {
    api::router(state)
}

/// Serves [`app`] on `listener` until `shutdown` completes, then answers waiting long-polls at
/// once and drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let on_shutdown = state.clone();
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            on_shutdown.begin_shutdown();
        })
        .await
}
