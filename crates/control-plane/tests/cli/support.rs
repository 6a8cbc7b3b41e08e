//! A control plane served in process on port 0, and the `keybrake` binary run against it.

use keybrake_control_plane::{serve, AppState, Clock, Settings};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::process::Command;

pub struct Server {
    pub url: String,
    pub admin_key: String,
    pub dir: PathBuf,
    /// The PostgreSQL database when the tests run on it, else `None` (SQLite in `dir`).
    database_url: Option<String>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A [`Server`] stopped, its data and address kept for [`Stopped::start_again`].
pub struct Stopped {
    dir: PathBuf,
    database_url: Option<String>,
    addr: SocketAddr,
}

impl Server {
    pub async fn start() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("keybrake-cli-test-{}-{n}", std::process::id()));
        let database_url = (std::env::var("KEYBRAKE_TEST_DATABASE").as_deref() == Ok("postgres"))
            .then(|| keybrake_e2e::postgres::Postgres::shared().create_database());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(dir, database_url, listener).await
    }

    async fn serve(
        dir: PathBuf,
        database_url: Option<String>,
        listener: tokio::net::TcpListener,
    ) -> Self {
        let settings = Settings {
            database_url: database_url.clone(),
            ..Settings::new(&dir)
        };
        let state = AppState::open(settings, Clock::system()).await.unwrap();
        let admin_key = state.admin_key.expose().to_owned();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, async {
            let _ = rx.await;
        }));
        let health = format!("{url}/healthz");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while reqwest::get(&health)
            .await
            .map(|r| r.status().as_u16())
            .ok()
            != Some(200)
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "server never became healthy"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Self {
            url,
            admin_key,
            dir,
            database_url,
            addr,
            stop: Some(tx),
            task,
        }
    }

    /// Stops serving (gracefully) and keeps the data for [`Stopped::start_again`].
    pub async fn stopped(mut self) -> Stopped {
        let stopped = Stopped {
            dir: std::mem::take(&mut self.dir),
            database_url: self.database_url.take(),
            addr: self.addr,
        };
        self.stop().await;
        stopped
    }

    pub fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keybrake"));
        cmd.args(args)
            .env("KEYBRAKE_URL", &self.url)
            .env("KEYBRAKE_ADMIN_KEY", &self.admin_key)
            .env_remove("KEYBRAKE_DATA_DIR")
            .kill_on_drop(true);
        cmd
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.cli(args).output().await.unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let task = &mut self.task;
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("graceful shutdown within 5 s")
            .unwrap()
            .unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Empty once handed to a `Stopped`.
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

// === impl Stopped ===

impl Stopped {
    /// Serves the same data on the same address again (clients configured for it reconnect).
    pub async fn start_again(self) -> Server {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "{} stays taken: {e}",
                        self.addr
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        Server::serve(self.dir, self.database_url, listener).await
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
