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

/// Checks that a required artifact exists, with a message that says how to build it.
pub fn require(path: &std::path::Path) {
    assert!(
        path.exists(),
        "{} is missing: run the tests through `make test`, which builds and installs everything",
        path.display()
    );
}
