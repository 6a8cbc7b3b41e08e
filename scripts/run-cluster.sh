#!/usr/bin/env bash
# Runs a local keybrake cluster in the foreground (what `make run-cluster` runs):
#   PostgreSQL      127.0.0.1:5432 by default (PG_PORT), data in DATA_DIR/postgres
#   control planes  127.0.0.1:8484 and :8485, both on that PostgreSQL
#   Envoy gateways  127.0.0.1:10000 (admin :9901) and :10001 (admin :9902), each listing both
#                   control planes as its control-plane cluster
#   mock vendors    127.0.0.1:12111 (Stripe), :12112 (Twilio), :12113 (Resend)
# all sharing one admin key, data-plane token and master key, with the mocks' credentials
# registered. Ctrl-C stops all of it. `make run` (one control plane on SQLite) is unchanged.
#
# Environment:
#   KEYBRAKE_DATA_DIR         data, rendered configs and logs (default .data-cluster)
#   KEYBRAKE_ADMIN_KEY        admin key; if unset, generated once into DATA_DIR/admin.key
#   PG_PORT                   PostgreSQL's port (default 5432)
#   PG_BIN                    PostgreSQL's server binaries (default: newest /usr/lib/postgresql/*/bin)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

CP_PORTS=(8484 8485)
LISTEN_PORTS=(10000 10001)
ADMIN_PORTS=(9901 9902)
PG_PORT="${PG_PORT:-5432}"
STARTUP_DEADLINE_SECS=30

keybrake_bin="$repo_root/target/debug/keybrake"
mock_bin="$repo_root/target/debug/keybrake-mock-vendors"
wasm="$repo_root/target/wasm32-wasip1/release/keybrake_filter.wasm"
envoy_bin="$repo_root/.tools/bin/envoy"
pg_bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"

data_dir="${KEYBRAKE_DATA_DIR:-$repo_root/.data-cluster}"
mkdir -p "$data_dir"
# The folder holds the keys: only its owner lists it. As root, the postgres account may pass
# through it (711) to its own cluster and log, not list or change it. Set before anything can
# stop this script, and the same every time: a second run-cluster that stops at the checks
# below must not take the running one's PostgreSQL out of its own reach.
if [[ "$(id -u)" == 0 ]]; then
    chown root: "$data_dir"
    chmod 711 "$data_dir"
else
    chmod 700 "$data_dir"
fi
data_dir="$(cd "$data_dir" && pwd)"

script_name=run-cluster
# shellcheck source=scripts/stack-lib.sh
source "$repo_root/scripts/stack-lib.sh"

# PostgreSQL's tools refuse to run as root: run them as the postgres user then.
as_pg() {
    if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_started=""
pg_data="$data_dir/postgres"

# shellcheck disable=SC2317 # called from cleanup
after_stop() {
    if [[ -n "$pg_started" ]]; then
        local out
        if out="$(as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop 2>&1)"; then
            names+=(postgresql)
        else
            echo "$script_name: could not stop PostgreSQL: $out" >&2
            echo "$script_name: stop it with: $([[ "$(id -u)" == 0 ]] && echo "runuser -u postgres -- ")$pg_bin/pg_ctl -D $pg_data -m fast stop" >&2
        fi
    fi
}

# === Preflight ===

for f in "$keybrake_bin" "$mock_bin" "$envoy_bin"; do
    [[ -x "$f" ]] || die "$f is missing; run 'make run-cluster', which builds it first"
done
[[ -f "$wasm" ]] || die "$wasm is missing; run 'make run-cluster', which builds it first"
[[ -x "$pg_bin/initdb" ]] || die "PostgreSQL is missing; run 'make postgres' (Debian's postgresql) or set PG_BIN"
refuse_busy_ports "${CP_PORTS[@]}" "${LISTEN_PORTS[@]}" "${ADMIN_PORTS[@]}" "$STRIPE_PORT" "$TWILIO_PORT" "$RESEND_PORT" "$PG_PORT"

# === Shared secrets (one admin key, data-plane token and master key for every replica) ===

secret() {
    local file="$data_dir/$1" prefix="$2"
    if [[ ! -s "$file" ]]; then
        (umask 077 && printf '%s%s\n' "$prefix" "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" >"$file")
    fi
    tr -d '\n' <"$file"
}
if [[ -n "${KEYBRAKE_ADMIN_KEY:-}" ]]; then
    admin_key="$KEYBRAKE_ADMIN_KEY"
    admin_key_source="from KEYBRAKE_ADMIN_KEY"
else
    admin_key="$(secret admin.key kba_)"
    admin_key_source="in $data_dir/admin.key"
fi
dataplane_token="$(secret dataplane.token kbd_)"
master_key="$(secret master.key '')"

# === PostgreSQL ===

pg_log="$data_dir/postgres.log"
[[ "$(id -u)" != 0 ]] || { touch "$pg_log"; chown postgres: "$pg_log"; }
if [[ ! -f "$pg_data/PG_VERSION" ]]; then
    say "creating a PostgreSQL cluster in $pg_data"
    mkdir -p "$pg_data"
    [[ "$(id -u)" != 0 ]] || chown postgres: "$pg_data"
    as_pg "$pg_bin/initdb" -D "$pg_data" -U keybrake --auth=trust -E UTF8 >"$data_dir/initdb.log" 2>&1 ||
        { cat "$data_dir/initdb.log" >&2; die "initdb failed"; }
fi
say "starting PostgreSQL on 127.0.0.1:$PG_PORT (log: $pg_log)"
as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $pg_data" start >/dev/null ||
    { tail -n 20 "$pg_log" >&2; die "PostgreSQL did not start"; }
pg_started=1
"$pg_bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U keybrake -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'keybrake'" | grep -q 1 ||
    "$pg_bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U keybrake keybrake
database_url="postgres://keybrake@127.0.0.1:$PG_PORT/keybrake"

# === Mock vendors ===

start_mocks "$mock_bin" "$data_dir/mock-vendors.log"

# === Control planes ===

for i in 0 1; do
    port="${CP_PORTS[i]}"
    log="$data_dir/control-plane-$i.log"
    mkdir -p "$data_dir/cp-$i"
    say "starting control plane $i on http://127.0.0.1:$port (log: $log)"
    start "control-plane-$i" "$log" env KEYBRAKE_LISTEN="127.0.0.1:$port" \
        KEYBRAKE_DATA_DIR="$data_dir/cp-$i" KEYBRAKE_DATABASE_URL="$database_url" \
        KEYBRAKE_ADMIN_KEY="$admin_key" KEYBRAKE_DATAPLANE_TOKEN="$dataplane_token" \
        KEYBRAKE_MASTER_KEY="$master_key" "$keybrake_bin" serve
    wait_http "control-plane-$i" "${pids[-1]}" "$log" "http://127.0.0.1:$port/healthz"
done

register_mocks "http://127.0.0.1:${CP_PORTS[0]}" "$admin_key"

# === Envoy gateways (identical but for their ports) ===

for i in 0 1; do
    config="$data_dir/envoy-$i.yaml"
    log="$data_dir/envoy-$i.log"
    LISTEN_PORT="${LISTEN_PORTS[i]}" ADMIN_PORT="${ADMIN_PORTS[i]}" \
        CONTROL_PLANE_PORT="${CP_PORTS[0]}" CONTROL_PLANE_PORT_B="${CP_PORTS[1]}" \
        STRIPE_PORT="$STRIPE_PORT" TWILIO_PORT="$TWILIO_PORT" RESEND_PORT="$RESEND_PORT" \
        WASM_PATH="$wasm" ACCESS_LOG_PATH="$data_dir/access-$i.log" GATEWAY_ID=local \
        "$repo_root/scripts/render-envoy-config.sh" "$config"
    say "starting Envoy $i on 127.0.0.1:${LISTEN_PORTS[i]} (log: $log)"
    start "envoy-$i" "$log" env KEYBRAKE_DATAPLANE_TOKEN="$dataplane_token" \
        "$envoy_bin" -c "$config" --concurrency 2 --disable-hot-restart --log-level warn \
        --file-flush-interval-msec 250
    wait_http "envoy-$i" "${pids[-1]}" "$log" "http://127.0.0.1:${ADMIN_PORTS[i]}/ready"
done

cat <<EOF

keybrake cluster is running. Ctrl-C stops all of it.

  control planes  http://127.0.0.1:${CP_PORTS[0]}  http://127.0.0.1:${CP_PORTS[1]}  (PostgreSQL: $database_url)
  gateways        http://127.0.0.1:${LISTEN_PORTS[0]}  http://127.0.0.1:${LISTEN_PORTS[1]}  (each polls and leases from both)
  Envoy admin     http://127.0.0.1:${ADMIN_PORTS[0]}  http://127.0.0.1:${ADMIN_PORTS[1]}
  mock vendors    :$STRIPE_PORT (Stripe)  :$TWILIO_PORT (Twilio)  :$RESEND_PORT (Resend)
  admin key       $admin_key_source
  logs            $data_dir/*.log

Try: issue a key through one control plane, call through either gateway, revoke through the
other control plane, and watch both gateways refuse it:

  export KEYBRAKE_ADMIN_KEY="\$(cat $data_dir/admin.key)"
  KEYBRAKE_URL=http://127.0.0.1:${CP_PORTS[0]} target/debug/keybrake keys issue --vendor stripe \\
    --daily-usd-cap 500 --allow "POST /v1/payment_intents" --expires-in 30m --label demo/1
  KEYBRAKE_URL=http://127.0.0.1:${CP_PORTS[1]} target/debug/keybrake keys revoke <key_id>

EOF

# Run until Ctrl-C. A control plane that exits is reported and the rest go on: the gateways
# use the other one (try `kill -9` on one and keep calling). Anything else exiting, or both
# control planes, stops everything.
status=0
reported=()
while true; do
    live=()
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[i]}" 2>/dev/null; then live+=("${pids[i]}"); fi
    done
    ((${#live[@]} > 0)) || break
    status=0
    # (Its stderr: bash's own "Killed" notice for a process killed by a signal; the line below
    # says it.)
    wait -n "${live[@]}" 2>/dev/null || status=$?
    stop="" cps=0
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[i]}" 2>/dev/null; then
            [[ ${names[i]} != control-plane-* ]] || cps=$((cps + 1))
        elif [[ -z ${reported[i]:-} ]]; then
            reported[i]=1
            echo "run-cluster: ${names[i]} exited (status $status)" >&2
            [[ ${names[i]} == control-plane-* ]] || stop=1
        fi
    done
    if [[ -n $stop ]] || ((cps == 0)); then
        echo "run-cluster: stopping the rest" >&2
        break
    fi
    echo "run-cluster: the gateways go on with the other control plane ($cps left); Ctrl-C stops everything" >&2
done
exit $((status == 0 ? 1 : status))
