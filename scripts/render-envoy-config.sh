#!/usr/bin/env bash
# Renders envoy/local.yaml.tmpl into a runnable Envoy config.
#
# Usage: scripts/render-envoy-config.sh OUTPUT_FILE
#
# Each placeholder {{NAME}} in the template is replaced by the environment variable NAME, or by
# its default:
#   LISTEN_PORT=10000  ADMIN_PORT=9901  CONTROL_PLANE_PORT=8484
#   STRIPE_PORT=12111  TWILIO_PORT=12112  RESEND_PORT=12113
#   WASM_PATH=<repo>/target/wasm32-wasip1/release/keybrake_filter.wasm
#   ACCESS_LOG_PATH=/dev/stdout  GATEWAY_ID=local
# KEYBRAKE_ACCESS_LOG_FIELDS (each, record or none), when set, goes into the HTTP filter's
# configuration as "access_log_fields" (README, "The access log"); unset, the filter's default.
# The Rust test harness renders the same template by plain string replacement; keep the two in
# step (no other templating syntax in the template).
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTPUT_FILE" >&2
    exit 2
fi
out="$1"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
template="$repo_root/envoy/local.yaml.tmpl"

: "${LISTEN_PORT:=10000}"
: "${ADMIN_PORT:=9901}"
: "${CONTROL_PLANE_PORT:=8484}"
: "${STRIPE_PORT:=12111}"
: "${TWILIO_PORT:=12112}"
: "${RESEND_PORT:=12113}"
: "${WASM_PATH:=$repo_root/target/wasm32-wasip1/release/keybrake_filter.wasm}"
: "${ACCESS_LOG_PATH:=/dev/stdout}"
: "${GATEWAY_ID:=local}"
# A second control-plane endpoint (make run-cluster); one control plane renders its port twice.
: "${CONTROL_PLANE_PORT_B:=$CONTROL_PLANE_PORT}"

# Escape a value for the replacement side of a sed s||| command.
sed_escape() {
    printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'
}

script=""
for name in LISTEN_PORT ADMIN_PORT CONTROL_PLANE_PORT CONTROL_PLANE_PORT_B STRIPE_PORT TWILIO_PORT RESEND_PORT \
    WASM_PATH ACCESS_LOG_PATH GATEWAY_ID; do
    value="${!name}"
    if [[ "$value" == *$'\n'* ]]; then
        echo "error: $name must be a single line" >&2
        exit 2
    fi
    script+="s|{{$name}}|$(sed_escape "$value")|g;"
done

mkdir -p "$(dirname "$out")"
tmp="$(mktemp "$out.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
sed -e "$script" "$template" >"$tmp"

if [[ -n "${KEYBRAKE_ACCESS_LOG_FIELDS:-}" ]]; then
    case "$KEYBRAKE_ACCESS_LOG_FIELDS" in
    each | record | none) ;;
    *)
        echo "error: KEYBRAKE_ACCESS_LOG_FIELDS must be each, record or none (got '$KEYBRAKE_ACCESS_LOG_FIELDS')" >&2
        exit 2
        ;;
    esac
    filter_config="'{\"max_snapshot_age_ms\":60000}'"
    if [[ "$(grep -c -F "$filter_config" "$tmp")" != 1 ]]; then
        echo "error: $template changed shape: expected the filter configuration $filter_config once" >&2
        exit 1
    fi
    sed -i -e "s|$filter_config|'{\"max_snapshot_age_ms\":60000,\"access_log_fields\":\"$KEYBRAKE_ACCESS_LOG_FIELDS\"}'|" "$tmp"
fi

if leftover="$(grep -o '{{[A-Za-z_]*}}' "$tmp" | sort -u | tr '\n' ' ')" && [[ -n "$leftover" ]]; then
    echo "error: unknown placeholders left in $template: $leftover" >&2
    exit 1
fi
mv "$tmp" "$out"
trap - EXIT
