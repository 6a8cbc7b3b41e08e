//! `keybrake serve`.

use crate::duration;
use crate::secrets::SecretSource;
use crate::state::{Limits, Settings};
use crate::{AppState, Clock};
use anyhow::Context as _;
use clap::Args;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Run the control plane: the admin API, the operator console (/ui), the gateways' snapshot
/// long-poll and budget leases, /healthz and /metrics.
///
/// Every option can also be given in the environment (shown in brackets). Secrets are best
/// given there, not as flags, so that they stay out of process listings.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "KEYBRAKE_LISTEN", default_value = "127.0.0.1:8484")]
    pub listen: String,

    /// Directory for the database and the generated secrets; created (mode 0700) if missing.
    #[arg(long, env = "KEYBRAKE_DATA_DIR", default_value = "./keybrake-data")]
    pub data_dir: PathBuf,

    /// PostgreSQL to keep the state in, shared by any number of control planes
    /// (`postgres://user:password@host:5432/keybrake`). If not given, SQLite in DATA_DIR
    /// (one control plane). Each control plane still needs the same admin key, data-plane token
    /// and master key (set them through their environment variables).
    #[arg(long, env = "KEYBRAKE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// The admin key. If not given, one is generated on first start into DATA_DIR/admin.key
    /// (mode 0600) and reused afterwards.
    #[arg(long, env = "KEYBRAKE_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,

    /// The token gateways present to fetch snapshots. If not given, one is generated into
    /// DATA_DIR/dataplane.token (mode 0600) and reused.
    #[arg(long, env = "KEYBRAKE_DATAPLANE_TOKEN", hide_env_values = true)]
    pub dataplane_token: Option<String>,

    /// Key that seals vendor credentials at rest: 64 hex digits or base64 of 32 bytes. If not
    /// given, one is generated into DATA_DIR/master.key (mode 0600) and reused.
    #[arg(long, env = "KEYBRAKE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,

    /// Longest `expires_in` a vault key may ask for ("30d", "12h", or seconds).
    #[arg(long, env = "KEYBRAKE_MAX_EXPIRES_IN", default_value = "30d", value_parser = duration::parse)]
    pub max_expires_in: Duration,

    /// How long issuing, revoking or setting a credential waits for every live gateway to hold
    /// the change before answering, in milliseconds; 0 answers at once.
    #[arg(long, env = "KEYBRAKE_PROPAGATION_WAIT_MS", default_value_t = 2_000)]
    pub propagation_wait_ms: u64,

    /// A gateway instance (one Envoy process) not heard from for this long, in milliseconds,
    /// counts as gone: whatever lease it held and did not report back counts as spent.
    #[arg(long, env = "KEYBRAKE_INSTANCE_TTL_MS", default_value_t = 30_000)]
    pub instance_ttl_ms: u64,

    /// How long a gateway's lease request that the cap has no room for waits for other
    /// gateways to give back unused lease, in milliseconds; 0 answers at once. Keep it well
    /// below the gateways' `lease_timeout_ms` (3000), which bounds the whole request.
    #[arg(long, env = "KEYBRAKE_RECLAIM_WAIT_MS", default_value_t = 2_000)]
    pub reclaim_wait_ms: u64,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "KEYBRAKE_MAX_BODY_BYTES", default_value_t = crate::state::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Days audit records are kept, counted from the call; older ones are deleted at start and
    /// every hour. 0 keeps them forever.
    #[arg(long, env = "KEYBRAKE_AUDIT_RETENTION_DAYS", default_value_t = crate::audit::DEFAULT_RETENTION_DAYS)]
    pub audit_retention_days: u32,

    /// How long an operator console session (/ui) lasts after signing in ("8h", "30m", or
    /// seconds); then the console asks for the admin key again.
    #[arg(long, env = "KEYBRAKE_UI_SESSION_TTL", default_value = "8h", value_parser = duration::parse)]
    pub ui_session_ttl: Duration,

    /// Mark the console's session cookie Secure on every answer. Without it the cookie is
    /// Secure when a TLS-terminating proxy says the request came over https
    /// (X-Forwarded-Proto or Forwarded).
    #[arg(long, env = "KEYBRAKE_UI_SECURE_COOKIES", default_value_t = false)]
    pub ui_secure_cookies: bool,
}

/// An empty variable counts as unset, as in the shell scripts that export it.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let settings = Settings {
        database_url: args.database_url,
        data_dir: args.data_dir,
        admin_key: given(args.admin_key),
        dataplane_token: given(args.dataplane_token),
        master_key: given(args.master_key),
        limits: Limits {
            max_expires_in: args.max_expires_in,
            max_body_bytes: args.max_body_bytes,
        },
        propagation_wait: Duration::from_millis(args.propagation_wait_ms),
        instance_ttl: Duration::from_millis(args.instance_ttl_ms),
        reclaim_wait: Duration::from_millis(args.reclaim_wait_ms),
        audit_retention_days: args.audit_retention_days,
        ui: crate::ui::UiSettings {
            session_ttl: args.ui_session_ttl,
            always_secure_cookies: args.ui_secure_cookies,
        },
    };
    let state = AppState::open(settings, Clock::system()).await?;
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let admin = match &state.admin_key.source {
        SecretSource::Environment => "admin key from KEYBRAKE_ADMIN_KEY".to_owned(),
        SecretSource::Generated(p) => format!("admin key generated in {}", p.display()),
        SecretSource::File(p) => format!("admin key in {}", p.display()),
    };
    tracing::info!(
        %addr,
        data_dir = %state.data_dir.display(),
        admin_key = %state.admin_key.location(),
        dataplane_token = %state.dataplane_token.location(),
        snapshot_version = state.version(),
        "control plane ready"
    );
    // A server keeps serving when no one reads its stdout any more.
    let _ = writeln!(
        std::io::stdout(),
        "keybrake control plane listening on {addr} (data dir {}, {admin})",
        state.data_dir.display()
    );
    crate::serve(listener, state, shutdown_signal()).await?;
    Ok(())
}
