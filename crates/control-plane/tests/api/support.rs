//! A control plane on a temporary data directory with a manual clock, driven in process.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use keybrake_control_plane::{app, AppState, Clock, Settings};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use tower::ServiceExt;

/// 2027-01-15T08:00:00Z, a fixed "now" so that timestamps can be asserted exactly.
pub const T0_MS: u64 = 1_800_000_000_000;
pub const T0_RFC3339: &str = "2027-01-15T08:00:00Z";

/// Who is calling.
#[derive(Clone, Copy, Debug)]
pub enum As {
    Admin,
    Gateway,
    Nobody,
    Token(&'static str),
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub struct TestApp {
    pub state: AppState,
    /// The PostgreSQL database, when the tests run on PostgreSQL (see [`database_url`]).
    pub database_url: Option<String>,
    pub clock: Clock,
    pub dir: PathBuf,
    /// Remove `dir` on drop; false for an instance sharing another's directory.
    owns_dir: bool,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Whether these tests run on PostgreSQL: `KEYBRAKE_TEST_DATABASE=postgres` (what `make test`
/// sets on its second run of the API and CLI tests). SQLite otherwise.
pub fn on_postgres() -> bool {
    std::env::var("KEYBRAKE_TEST_DATABASE").as_deref() == Ok("postgres")
}

/// A fresh database on the test process's PostgreSQL server when [`on_postgres`], else `None`
/// (SQLite in the data directory).
pub fn database_url() -> Option<String> {
    on_postgres().then(|| keybrake_e2e::postgres::Postgres::shared().create_database())
}

pub fn temp_data_dir() -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::env::temp_dir().join(format!(
        "keybrake-cp-test-{}-{n}-{nanos}",
        std::process::id()
    ))
}

// === impl Reply ===

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts our error shape and returns `(type, field)`.
    pub fn error(&self) -> (String, Option<String>) {
        let v = self.json();
        let e = v
            .get("error")
            .unwrap_or_else(|| panic!("no error object: {v}"));
        assert_eq!(
            e.as_object().unwrap().len(),
            3,
            "error has exactly type, message, field: {v}"
        );
        let message = e["message"].as_str().unwrap();
        assert!(!message.is_empty(), "{v}");
        (
            e["type"].as_str().unwrap().to_owned(),
            e["field"].as_str().map(str::to_owned),
        )
    }
}

// === impl TestApp ===

impl TestApp {
    /// A control plane that answers changes without waiting for gateways to confirm them.
    pub async fn new() -> Self {
        Self::with_settings(Settings {
            propagation_wait: std::time::Duration::ZERO,
            ..Settings::new(temp_data_dir())
        })
        .await
    }

    pub async fn with_settings(mut settings: Settings) -> Self {
        if settings.database_url.is_none() {
            settings.database_url = database_url();
        }
        let database_url = settings.database_url.clone();
        let dir = settings.data_dir.clone();
        let clock = Clock::manual(T0_MS);
        let state = AppState::open(settings, clock.clone()).await.unwrap();
        Self {
            state,
            database_url,
            clock,
            dir,
            owns_dir: true,
        }
    }

    /// A second control plane on the same data directory, as after a restart.
    pub async fn reopen(&self) -> Self {
        let clock = self.clock.clone();
        let settings = Settings {
            database_url: self.database_url.clone(),
            ..Settings::new(&self.dir)
        };
        let state = AppState::open(settings, clock.clone()).await.unwrap();
        Self {
            state,
            database_url: self.database_url.clone(),
            clock,
            dir: self.dir.clone(),
            owns_dir: false,
        }
    }

    pub async fn send(&self, who: As, req: Request<Body>) -> Reply {
        let (mut parts, body) = req.into_parts();
        let token = match who {
            As::Admin => Some(self.state.admin_key.expose().to_owned()),
            As::Gateway => Some(self.state.dataplane_token.expose().to_owned()),
            As::Token(t) => Some(t.to_owned()),
            As::Nobody => None,
        };
        if let Some(t) = token {
            parts.headers.insert(
                header::AUTHORIZATION,
                format!("Bearer {t}").parse().unwrap(),
            );
        }
        let resp = app(self.state.clone())
            .oneshot(Request::from_parts(parts, body))
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn call(&self, who: As, method: Method, uri: &str, body: Option<&Value>) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(who, req.body(body).unwrap()).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(As::Admin, Method::GET, uri, None).await
    }

    /// Issues a key and returns the 201 body.
    pub async fn issue(&self, body: Value) -> Value {
        let r = self
            .call(As::Admin, Method::POST, "/vault/keys", Some(&body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()
    }

    /// Issues a Stripe key labelled `label`, valid for 30 minutes.
    pub async fn issue_stripe(&self, label: &str) -> Value {
        self.issue(json!({
            "vendor": "stripe",
            "daily_usd_cap": 500,
            "allowed_endpoints": ["POST /v1/payment_intents"],
            "expires_in": "30m",
            "agent_run_label": label,
        }))
        .await
    }

    /// Polls the snapshot endpoint as a gateway.
    pub async fn poll(&self, gateway: &str, after: u64, wait_ms: u64) -> Reply {
        let uri =
            format!("/dataplane/v1/snapshot?gateway={gateway}&after={after}&wait_ms={wait_ms}");
        self.call(As::Gateway, Method::GET, &uri, None).await
    }

    /// Polls as a data plane v2 gateway, which applies deltas (`delta=1`).
    pub async fn poll_delta(&self, gateway: &str, after: u64, wait_ms: u64) -> Reply {
        let uri = format!(
            "/dataplane/v1/snapshot?gateway={gateway}&after={after}&wait_ms={wait_ms}&delta=1"
        );
        self.call(As::Gateway, Method::GET, &uri, None).await
    }

    /// Every byte the database has written: SQLite's file and its write-ahead log, or every
    /// write-ahead log file of the test PostgreSQL server (it holds each commit at once).
    pub fn db_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.database_url.is_some() {
            let mut dirs = vec![keybrake_e2e::postgres::Postgres::shared()
                .data_dir()
                .join("pg_wal")];
            while let Some(dir) = dirs.pop() {
                for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        dirs.push(path);
                    } else if let Ok(b) = std::fs::read(&path) {
                        out.extend(b);
                    }
                }
            }
        }
        for name in ["keybrake.db", "keybrake.db-wal"] {
            if let Ok(b) = std::fs::read(self.dir.join(name)) {
                out.extend(b);
            }
        }
        assert!(!out.is_empty());
        out
    }

    pub fn db_contains(&self, needle: &str) -> bool {
        let hay = self.db_bytes();
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
