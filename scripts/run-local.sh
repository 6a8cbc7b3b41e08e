#!/usr/bin/env bash
# Runs the local keybrake stack in the foreground (what `make run` runs):
#   mock vendors   127.0.0.1:12111 (Stripe), :12112 (Twilio), :12113 (Resend)
#   control plane  127.0.0.1:8484
#   Envoy          127.0.0.1:10000, admin 127.0.0.1:9901
# and registers the mocks' credentials with the control plane. Ctrl-C stops all of it.
#
# Expects everything built and Envoy installed (the Makefile does both).
#
# Environment:
#   KEYBRAKE_DATA_DIR         control-plane data, rendered Envoy config and logs (default .data)
#   KEYBRAKE_ADMIN_KEY        admin key; if unset the control plane generates DATA_DIR/admin.key
#   KEYBRAKE_DATAPLANE_TOKEN  data-plane token; if unset read from DATA_DIR/dataplane.token
#   KEYBRAKE_ACCESS_LOG_FIELDS each (default), record or none: the filter's access_log_fields
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

# === Settings ===

CONTROL_PLANE_PORT=8484
LISTEN_PORT=10000
ADMIN_PORT=9901
STARTUP_DEADLINE_SECS=30

keybrake_bin="$repo_root/target/debug/keybrake"
mock_bin="$repo_root/target/debug/keybrake-mock-vendors"
wasm="$repo_root/target/wasm32-wasip1/release/keybrake_filter.wasm"
envoy_bin="$repo_root/.tools/bin/envoy"

data_dir="${KEYBRAKE_DATA_DIR:-$repo_root/.data}"
mkdir -p "$data_dir"
data_dir="$(cd "$data_dir" && pwd)"
export KEYBRAKE_DATA_DIR="$data_dir"

control_plane_url="http://127.0.0.1:$CONTROL_PLANE_PORT"

# === Helpers ===

script_name=run-local
# shellcheck source=scripts/stack-lib.sh
source "$repo_root/scripts/stack-lib.sh"

# === Preflight ===

for f in "$keybrake_bin" "$mock_bin" "$envoy_bin"; do
    [[ -x "$f" ]] || die "$f is missing; run 'make run', which builds it first"
done
[[ -f "$wasm" ]] || die "$wasm is missing; run 'make run', which builds it first"

refuse_busy_ports "$CONTROL_PLANE_PORT" "$LISTEN_PORT" "$ADMIN_PORT" "$STRIPE_PORT" "$TWILIO_PORT" "$RESEND_PORT"

# === Mock vendors ===

mock_log="$data_dir/mock-vendors.log"
start_mocks "$mock_bin" "$mock_log"

# === Control plane ===

cp_log="$data_dir/control-plane.log"
say "starting control plane on $control_plane_url (log: $cp_log)"
start control-plane "$cp_log" env KEYBRAKE_LISTEN="127.0.0.1:$CONTROL_PLANE_PORT" "$keybrake_bin" serve
wait_http control-plane "${pids[-1]}" "$cp_log" "$control_plane_url/healthz"

if [[ -n "${KEYBRAKE_ADMIN_KEY:-}" ]]; then
    admin_key="$KEYBRAKE_ADMIN_KEY"
    admin_key_source="from KEYBRAKE_ADMIN_KEY"
else
    wait_file "$data_dir/admin.key"
    admin_key="$(<"$data_dir/admin.key")"
    admin_key_source="in $data_dir/admin.key"
fi

if [[ -n "${KEYBRAKE_DATAPLANE_TOKEN:-}" ]]; then
    dataplane_token="$KEYBRAKE_DATAPLANE_TOKEN"
else
    wait_file "$data_dir/dataplane.token"
    dataplane_token="$(<"$data_dir/dataplane.token")"
fi

register_mocks "$control_plane_url" "$admin_key"

# === Envoy ===

envoy_config="$data_dir/envoy.yaml"
access_log="$data_dir/access.log"
envoy_log="$data_dir/envoy.log"
LISTEN_PORT="$LISTEN_PORT" ADMIN_PORT="$ADMIN_PORT" CONTROL_PLANE_PORT="$CONTROL_PLANE_PORT" \
    STRIPE_PORT="$STRIPE_PORT" TWILIO_PORT="$TWILIO_PORT" RESEND_PORT="$RESEND_PORT" \
    WASM_PATH="$wasm" ACCESS_LOG_PATH="$access_log" GATEWAY_ID=local \
    "$repo_root/scripts/render-envoy-config.sh" "$envoy_config"

say "starting Envoy on 127.0.0.1:$LISTEN_PORT (log: $envoy_log)"
# --file-flush-interval-msec: Envoy buffers file access logs for 10 s by default; locally we
# want each line to show up right away.
start envoy "$envoy_log" env KEYBRAKE_DATAPLANE_TOKEN="$dataplane_token" \
    "$envoy_bin" -c "$envoy_config" --concurrency 2 --disable-hot-restart --log-level warn \
    --file-flush-interval-msec 250
wait_http envoy "${pids[-1]}" "$envoy_log" "http://127.0.0.1:$ADMIN_PORT/ready"

# === Ready ===

cat <<EOF

keybrake is running. Ctrl-C stops all of it.

  control plane  $control_plane_url
  gateway        http://127.0.0.1:$LISTEN_PORT  (/stripe/..., /twilio/..., /resend/...)
  Envoy admin    http://127.0.0.1:$ADMIN_PORT
  mock Stripe    http://127.0.0.1:$STRIPE_PORT  (GET /__mock/requests shows what it received)
  mock Twilio    http://127.0.0.1:$TWILIO_PORT
  mock Resend    http://127.0.0.1:$RESEND_PORT

  admin key      $admin_key_source
  access log     $access_log
  process logs   $mock_log
                 $cp_log
                 $envoy_log

Try it from another shell in $repo_root:

  export KEYBRAKE_URL=$control_plane_url
EOF
if [[ "$admin_key_source" == "from KEYBRAKE_ADMIN_KEY" ]]; then
    echo '  # KEYBRAKE_ADMIN_KEY: use the value you started with'
else
    echo "  export KEYBRAKE_ADMIN_KEY=\"\$(cat $data_dir/admin.key)\""
fi
cat <<EOF

  # issue a vault key (HTTP API)
  VAULT_KEY=\$(curl -fsS -X POST \$KEYBRAKE_URL/vault/keys \\
    -H "Authorization: Bearer \$KEYBRAKE_ADMIN_KEY" -H 'content-type: application/json' \\
    -d '{"vendor":"stripe","daily_usd_cap":500,"allowed_endpoints":["POST /v1/payment_intents","GET /v1/payment_intents/*"],"expires_in":"30m","agent_run_label":"demo/1"}' \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["vault_key"])')

  # or the same with the CLI
  target/debug/keybrake keys issue --vendor stripe --daily-usd-cap 500 \\
    --allow "POST /v1/payment_intents" --expires-in 30m --label demo/1

  # call Stripe (the mock) through the gateway with the vault key
  curl http://127.0.0.1:$LISTEN_PORT/stripe/v1/payment_intents -u "\$VAULT_KEY:" -d amount=1000 -d currency=usd

  # the same from stripe-python
  import stripe
  stripe.api_key, stripe.api_base = VAULT_KEY, "http://127.0.0.1:$LISTEN_PORT/stripe"
  stripe.PaymentIntent.create(amount=1000, currency="usd")

EOF

# Run until Ctrl-C, or until one of the processes exits (then stop the rest).
status=0
wait -n "${pids[@]}" || status=$?
for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[i]}" 2>/dev/null; then
        echo "run-local: ${names[i]} exited (status $status); stopping the rest" >&2
    fi
done
exit $((status == 0 ? 1 : status))
