//! A throwaway PostgreSQL server for tests: `initdb` into a temp folder, started on a free
//! port with `fsync=off`, stopped and removed on drop. A watchdog stops it too if the test
//! process dies first. Root runs the server as the `postgres` user (initdb refuses root).

use crate::process::free_port;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A running server. Each test takes a database of its own with [`Postgres::create_database`].
pub struct Postgres {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
}

/// Where PostgreSQL's server binaries are: `KEYBRAKE_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's `postgresql` package).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KEYBRAKE_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"), |(_, p)| p)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Postgres {
    /// initdb + start on a free port (about a second).
    pub fn start() -> Postgres {
        let bin = bin_dir();
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "keybrake-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:").arg(&dir);
                    c
                },
                "chown the PostgreSQL folder",
            );
        }
        let port = free_port();
        let mut initdb = as_owner(&bin.join("initdb"));
        initdb.arg("-D").arg(dir.join("data")).args([
            "-U",
            "kb",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb");
        let pg = Postgres { dir, port, bin };
        pg.start_server();
        pg.watchdog();
        pg
    }

    fn start_server(&self) {
        let mut start = as_owner(&self.bin.join("pg_ctl"));
        start
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("pg.log"))
            .args(["-w", "-o"])
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=400",
                self.port,
                self.dir.display()
            ))
            .arg("start");
        run(start, "pg_ctl start");
    }

    /// Stops the server at once (`pg_ctl -m immediate`): every connection drops, as in a crash.
    pub fn stop_now(&self) {
        let mut stop = as_owner(&self.bin.join("pg_ctl"));
        stop.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"]);
        run(stop, "pg_ctl stop");
    }

    /// Starts a stopped server again on the same port, with the same data.
    pub fn start_again(&self) {
        self.start_server();
    }

    /// One server for the whole test process (the in-process control-plane tests).
    pub fn shared() -> &'static Postgres {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(Postgres::start)
    }

    /// Stops the server and removes its folder once this process is gone, however it ends.
    fn watchdog(&self) {
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {owner}{pg_ctl} -D {data} -m immediate -w stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            owner = if is_root() { "runuser -u postgres -- " } else { "" },
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.dir.join("data").display(),
            dir = self.dir.display(),
        );
        let _ = Command::new("setsid")
            .args(["sh", "-c", &stop])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a fresh database and returns its `postgres://` URL.
    pub fn create_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "kb_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut c = Command::new(self.bin.join("createdb"));
        c.args(["-h", "127.0.0.1", "-U", "kb", "-p"])
            .arg(self.port.to_string())
            .arg(&name);
        run(c, "createdb");
        self.url(&name)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://kb@127.0.0.1:{}/{database}", self.port)
    }

    /// The server's own folder (its data files, for tests that look for secrets in them).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut stop = as_owner(&self.bin.join("pg_ctl"));
        stop.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = stop.status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
