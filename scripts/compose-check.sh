#!/usr/bin/env bash
# `make compose-check`: runs docker-compose.yml for real, offline, and makes a costed call.
#
#   1. images, built here with no registry: a Debian bookworm root filesystem from mmdebstrap
#      (imported once as localhost/keybrake-check/debian:bookworm), plus the release `keybrake`,
#      `keybrake-mock-vendors` and `envoy` binaries (deploy/compose-check/Containerfile);
#   2. a throwaway CA and a certificate for api.stripe.com, api.twilio.com and api.resend.com;
#   3. `podman-compose -f docker-compose.yml -f deploy/compose-check/docker-compose.check.yml up`
#      (the overlay says what it swaps in and why; envoy/envoy.yaml and the .wasm are unchanged);
#   4. registers the mock Stripe key, issues a vault key, sends POST /stripe/v1/payment_intents
#      through the gateway on :10000, and waits for the audit record with the call's cost;
#   5. `podman-compose down` (volumes included), also on failure.
#
# Needs root, podman with runc, mmdebstrap and podman-compose (`make compose-tools` installs
# them: apt and PyPI). Publishes the compose file's ports 8484, 10000 and 127.0.0.1:9901, so run
# it where those are free (for example in its own network namespace).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
work="target/compose-check"
project=keybrake-check
compose=(.tools/compose/bin/podman-compose -p "$project" -f docker-compose.yml -f deploy/compose-check/docker-compose.check.yml)
export CONTAINERS_CONF="$repo_root/deploy/compose-check/containers.conf"
export KEYBRAKE_ADMIN_KEY="kbadmin_compose_check_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export KEYBRAKE_DATAPLANE_TOKEN="kbd_$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
STRIPE_MOCK_KEY=sk_test_keybrake_mock

step() { printf '\n== %s\n' "$*"; }
fail() { echo "compose-check FAILED: $*" >&2; exit 1; }

mkdir -p "$work/context" "$work/tls"
# The base image: the only step that needs the Debian package registry (`make compose-tools`
# runs it as `compose-check.sh base`, outside any network namespace).
if ! podman image exists localhost/keybrake-check/debian:bookworm; then
    step "base image: Debian bookworm (minbase) from mmdebstrap"
    mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
    mmdebstrap --quiet --variant=minbase bookworm "$work/rootfs.tar" "${mirror:-http://deb.debian.org/debian}"
    podman import --quiet "$work/rootfs.tar" localhost/keybrake-check/debian:bookworm >/dev/null
    rm -f "$work/rootfs.tar"
fi
podman image exists localhost/keybrake-check/debian:bookworm || fail "no base image"
[[ "${1:-}" == base ]] && exit 0

step "images (no registry)"
cp target/release/keybrake target/release/keybrake-mock-vendors "$work/context/"
cp -L .tools/bin/envoy "$work/context/envoy"
for image in control-plane mock-vendors envoy; do
    podman build --quiet --pull=never --target "$image" -t "localhost/keybrake-check/$image:latest" \
        -f deploy/compose-check/Containerfile "$work/context" >/dev/null
    echo "built localhost/keybrake-check/$image:latest"
done

step "TLS for the vendors' names (a CA of this run only)"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=keybrake compose-check CA" \
    -keyout "$work/tls/ca.key" -out "$work/tls/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=api.stripe.com" \
    -keyout "$work/tls/vendors.key" -out "$work/tls/vendors.csr" 2>/dev/null
openssl x509 -req -in "$work/tls/vendors.csr" -CA "$work/tls/ca.crt" -CAkey "$work/tls/ca.key" \
    -CAcreateserial -days 1 -out "$work/tls/vendors.crt" \
    -extfile <(printf 'subjectAltName=DNS:api.stripe.com,DNS:api.twilio.com,DNS:api.resend.com') 2>/dev/null
chmod 644 "$work/tls/"*

step "podman-compose up"
# KEEP_STACK=1 leaves the stack running for a look (stop it with the same down command).
down() { [[ -n "${KEEP_STACK:-}" ]] || "${compose[@]}" down --volumes >/dev/null 2>&1 || true; }
down
trap 'status=$?; if [[ $status -ne 0 ]]; then "${compose[@]}" logs >"$work/logs.txt" 2>&1 || true; echo "container logs: $work/logs.txt" >&2; fi; step "podman-compose down"; down' EXIT
"${compose[@]}" up -d --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "podman-compose up"; }
podman ps --filter "label=io.podman.compose.project=$project" --format '{{.Names}}  {{.Image}}  {{.Status}}'

# Polls until `curl "$@"` succeeds, for at most 60 s.
wait_for() {
    local what="$1"; shift
    local deadline=$((SECONDS + 60))
    until curl -fsS -o /dev/null "$@" 2>/dev/null; do
        ((SECONDS < deadline)) || fail "timed out waiting for $what"
        sleep 0.5
    done
    echo "ready: $what"
}
wait_for "control plane :8484/healthz" http://127.0.0.1:8484/healthz

step "a costed call through the gateway with a vault key"
cp="http://127.0.0.1:8484"
auth=(-H "Authorization: Bearer $KEYBRAKE_ADMIN_KEY" -H "content-type: application/json")
curl -fsS -X PUT "${auth[@]}" "$cp/vendors/stripe/credentials" -d "{\"api_key\":\"$STRIPE_MOCK_KEY\"}" >/dev/null
issued="$(curl -fsS -X POST "${auth[@]}" "$cp/vault/keys" -d '{"vendor":"stripe","daily_usd_cap":50,"allowed_endpoints":["POST /v1/payment_intents"],"expires_in":"10m","agent_run_label":"compose-check/1"}')"
vault_key="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["vault_key"])' <<<"$issued")"
key_id="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["key_id"])' <<<"$issued")"
echo "issued $key_id (cap 50 USD, POST /v1/payment_intents)"

# Until the sync service has the snapshot with the new key the gateway refuses it; probe with a
# free call outside the key's allowlist (refused as endpoint_not_allowed once the key is known,
# and nothing reaches the vendor), so that the one costed call below is made once: a costed call
# whose outcome is unknown stays charged.
deadline=$((SECONDS + 60))
until [[ "$(curl -sS -o /dev/null -D - -u "$vault_key:" http://127.0.0.1:10000/stripe/v1/customers 2>/dev/null |
        tr -d '\r' | sed -n 's/^x-keybrake-deny-reason: //Ip')" == endpoint_not_allowed ]]; do
    ((SECONDS < deadline)) || fail "the gateway never knew the new key"
    sleep 0.5
done
echo "the gateway has the key (a call outside its allowlist is refused: endpoint_not_allowed)"
answer="$(curl -sS -w '\n%{http_code}' -u "$vault_key:" http://127.0.0.1:10000/stripe/v1/payment_intents \
    -d amount=1999 -d currency=usd)"
[[ "${answer##*$'\n'}" == 200 ]] || fail "the costed call was answered ${answer##*$'\n'}: ${answer%$'\n'*}"
body="${answer%$'\n'*}"
python3 -c 'import json,sys; b=json.loads(sys.argv[1]); assert b["id"].startswith("pi_") and b["amount"]==1999, b; print("POST /stripe/v1/payment_intents amount=1999 usd -> 200", b["id"])' "$body"

deadline=$((SECONDS + 30))
until record="$(curl -fsS "${auth[@]}" "$cp/audit?key_id=$key_id" |
        python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin)["records"] if x["decision"]=="allow" and x["status"]==200]; print(json.dumps(r[0]) if r else "")')" && [[ -n "$record" ]]; do
    ((SECONDS < deadline)) || fail "no audit record for the call"
    sleep 0.5
done
python3 - "$record" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
assert float(r["cost_usd"]) == 19.99, r
print("audit: {method} {path} status {status} decision {decision} cost_usd {cost_usd} ({cost_source}) spend_usd {spend_usd}".format(**r))
EOF
echo "compose-check passed"
