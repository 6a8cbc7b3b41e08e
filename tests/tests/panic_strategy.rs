//! The control plane unwinds on a panic (a handler's panic is answered 500 and the process
//! keeps serving, see `keybrake_control_plane::catch_panics`); the wasm filter aborts (a
//! panicking VM must not go on with half-updated shared data). Both come from the targets'
//! defaults, since the workspace's release profile sets no `panic`: checked here with the
//! toolchain the workspace pins.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::paths::workspace_root;
use std::process::Command;

fn panic_cfg(target: Option<&str>) -> String {
    let mut cmd = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()));
    cmd.current_dir(workspace_root()).args(["--print", "cfg"]);
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    let out = cmd.output().expect("rustc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("panic="))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_release_profile_leaves_panics_to_each_target() {
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let release = manifest
        .split("[profile.release]")
        .nth(1)
        .expect("a [profile.release] section")
        .split("\n[")
        .next()
        .unwrap();
    assert!(
        !release.lines().any(|l| l.trim_start().starts_with("panic")),
        "[profile.release] must not set panic: the control plane would abort on a handler's panic\n{release}"
    );
    assert_eq!(
        panic_cfg(Some("wasm32-wasip1")),
        "panic=\"abort\"",
        "the filter aborts"
    );
    assert_eq!(
        panic_cfg(None),
        "panic=\"unwind\"",
        "the control plane unwinds"
    );
}
