#!/usr/bin/env bash
# Checks the shipped Envoy configurations with the real Envoy binary (`envoy --mode validate`):
#   - envoy/local.yaml.tmpl, rendered by scripts/render-envoy-config.sh;
#   - envoy/envoy.yaml, with its wasm path pointed at the locally built filter.
#
# Validate mode loads the HTTP filter's wasm into V8 and runs its on_vm_start and on_configure
# with the configured JSON, so the .wasm must exist and accept that configuration. It does not
# start bootstrap extensions: the sync singleton's configuration is not exercised here (the
# end-to-end tests start it for real).
#
# Environment: ENVOY (default .tools/bin/envoy), WASM_PATH (default the release build).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
envoy="${ENVOY:-$repo_root/.tools/bin/envoy}"
wasm="${WASM_PATH:-$repo_root/target/wasm32-wasip1/release/keybrake_filter.wasm}"

[[ -x "$envoy" ]] || { echo "error: $envoy missing; run 'make envoy'" >&2; exit 1; }
[[ -f "$wasm" ]] || { echo "error: $wasm missing; run 'make wasm'" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

validate() {
    local name="$1" file="$2"
    if ! "$envoy" --mode validate --disable-hot-restart --log-level warn -c "$file" >"$tmp/validate.log" 2>&1; then
        echo "FAIL $name" >&2
        cat "$tmp/validate.log" >&2
        exit 1
    fi
    echo "ok   $name"
}

WASM_PATH="$wasm" ACCESS_LOG_PATH="$tmp/access.log" GATEWAY_ID=validate \
    "$repo_root/scripts/render-envoy-config.sh" "$tmp/local.yaml"
validate envoy/local.yaml.tmpl "$tmp/local.yaml"

# The production config names the in-container path of the wasm; point it at the local build.
prod_wasm=/etc/envoy/keybrake_filter.wasm
grep -qF "$prod_wasm" "$repo_root/envoy/envoy.yaml" ||
    { echo "error: envoy/envoy.yaml no longer mentions $prod_wasm" >&2; exit 1; }
sed "s|$prod_wasm|$wasm|g" "$repo_root/envoy/envoy.yaml" >"$tmp/envoy.yaml"
validate envoy/envoy.yaml "$tmp/envoy.yaml"
