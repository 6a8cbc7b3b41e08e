//! `keybrake-mock-vendors`: serves the vendor mocks until Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use keybrake_mock_vendors::{
    serve_resend, serve_stripe, serve_twilio, TwilioMock, DEFAULT_RESEND_KEY, DEFAULT_STRIPE_KEY,
    DEFAULT_TWILIO_ACCOUNT_SID, DEFAULT_TWILIO_AUTH_TOKEN,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Local stand-ins for Stripe, Twilio and Resend that answer like the real APIs.
///
/// Stripe is always served; Twilio and Resend only when their --*-listen address is given.
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

    /// Address for the Twilio mock (e.g. 127.0.0.1:12112); not served without it.
    #[arg(long, env = "MOCK_TWILIO_LISTEN")]
    twilio_listen: Option<SocketAddr>,

    /// The Twilio account the mock serves: the Basic user name and the SID in the paths.
    #[arg(long, env = "MOCK_TWILIO_ACCOUNT_SID", default_value = DEFAULT_TWILIO_ACCOUNT_SID)]
    twilio_account_sid: String,

    /// The account's auth token, the Basic password paired with the account SID.
    #[arg(long, env = "MOCK_TWILIO_AUTH_TOKEN", default_value = DEFAULT_TWILIO_AUTH_TOKEN, hide_env_values = true)]
    twilio_auth_token: String,

    /// An API key SID (SK…) also accepted for the account, with --twilio-api-key-secret.
    #[arg(
        long,
        env = "MOCK_TWILIO_API_KEY_SID",
        requires = "twilio_api_key_secret"
    )]
    twilio_api_key_sid: Option<String>,

    /// The secret of --twilio-api-key-sid.
    #[arg(
        long,
        env = "MOCK_TWILIO_API_KEY_SECRET",
        requires = "twilio_api_key_sid",
        hide_env_values = true
    )]
    twilio_api_key_secret: Option<String>,

    /// Address for the Resend mock (e.g. 127.0.0.1:12113); not served without it.
    #[arg(long, env = "MOCK_RESEND_LISTEN")]
    resend_listen: Option<SocketAddr>,

    /// The only Resend API key the mock accepts.
    #[arg(long, env = "MOCK_RESEND_KEY", default_value = DEFAULT_RESEND_KEY, hide_env_values = true)]
    resend_key: String,
}

type Served = JoinHandle<std::io::Result<()>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let (stop, stopped) = tokio::sync::watch::channel(());
    let mut tasks: Vec<(&str, Served)> = Vec::new();

    let stripe = bind("stripe", cli.stripe_listen).await?;
    let stripe_key = cli.stripe_key;
    tasks.push((
        "Stripe",
        spawn(serve_stripe(stripe, stripe_key, wait_for(stopped.clone()))),
    ));

    if let Some(addr) = cli.twilio_listen {
        let listener = bind("twilio", addr).await?;
        let mut mock = TwilioMock::new(cli.twilio_account_sid, cli.twilio_auth_token);
        if let (Some(sid), Some(secret)) = (cli.twilio_api_key_sid, cli.twilio_api_key_secret) {
            mock = mock.with_api_key(sid, secret);
        }
        tasks.push((
            "Twilio",
            spawn(serve_twilio(listener, mock, wait_for(stopped.clone()))),
        ));
    }
    if let Some(addr) = cli.resend_listen {
        let listener = bind("resend", addr).await?;
        let key = cli.resend_key;
        tasks.push((
            "Resend",
            spawn(serve_resend(listener, key, wait_for(stopped.clone()))),
        ));
    }
    drop(stopped);

    stop_signal().await?;
    tracing::info!("shutting down");
    drop(stop);
    for (name, task) in tasks {
        task.await
            .with_context(|| format!("the {name} mock task failed"))?
            .with_context(|| format!("serving the {name} mock"))?;
    }
    Ok(())
}

/// Binds `addr` and prints `mock <vendor> listening on http://…` once it is bound.
async fn bind(vendor: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {vendor} mock to {addr}"))?;
    let bound = listener
        .local_addr()
        .with_context(|| format!("reading the {vendor} mock's address"))?;
    println!("mock {vendor} listening on http://{bound}");
    Ok(listener)
}

fn spawn(serving: impl Future<Output = std::io::Result<()>> + Send + 'static) -> Served {
    tokio::spawn(serving)
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
