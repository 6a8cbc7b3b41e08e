//! `keybrake-mock-vendors`: serves the vendor mocks until Ctrl-C.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use keybrake_mock_vendors::{serve_stripe, DEFAULT_STRIPE_KEY};
use tokio::net::TcpListener;

/// Local stand-ins for Stripe (and later Twilio and Resend) that answer like the real APIs.
///
/// Every request is logged at GET /__mock/requests on each mock's port (DELETE clears it).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Address for the Stripe mock.
    #[arg(long, env = "MOCK_STRIPE_LISTEN", default_value = "127.0.0.1:12111")]
    stripe_listen: SocketAddr,

    /// The only Stripe secret key the mock accepts.
    #[arg(long, env = "MOCK_STRIPE_KEY", default_value = DEFAULT_STRIPE_KEY, hide_env_values = true)]
    stripe_key: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();

    let stripe = TcpListener::bind(cli.stripe_listen)
        .await
        .with_context(|| format!("binding the Stripe mock to {}", cli.stripe_listen))?;
    println!(
        "mock stripe listening on http://{}",
        stripe
            .local_addr()
            .context("reading the Stripe mock's address")?
    );

    let (stop, stopped) = tokio::sync::watch::channel(());
    let stripe_task = tokio::spawn(serve_stripe(stripe, cli.stripe_key, wait_for(stopped)));

    stop_signal().await?;
    tracing::info!("shutting down");
    drop(stop);
    stripe_task
        .await
        .context("the Stripe mock task failed")?
        .context("serving the Stripe mock")?;
    Ok(())
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("listening for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}

/// Resolves when the sender side of `stopped` is dropped.
async fn wait_for(mut stopped: tokio::sync::watch::Receiver<()>) {
    while stopped.changed().await.is_ok() {}
}
