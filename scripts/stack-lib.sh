# Helpers shared by scripts/run-local.sh (`make run`) and scripts/run-cluster.sh
# (`make run-cluster`): start processes in the background, wait for them with a deadline, stop
# them in reverse order on exit, run the mock vendors and register their credentials.
#
# The sourcing script sets `script_name` (for messages) and STARTUP_DEADLINE_SECS first, and may
# define `after_stop` (run once everything it started is stopped).
# shellcheck shell=bash

# The mocks accept only these; the control plane holds them as the "real" vendor credentials.
MOCK_STRIPE_KEY=sk_test_keybrake_mock
MOCK_TWILIO_ACCOUNT_SID=ACkeybrakemock00000000000000000000
MOCK_TWILIO_AUTH_TOKEN=keybrakemocktwilioauthtoken00000
MOCK_RESEND_KEY=re_keybrake_mock
STRIPE_PORT=12111
TWILIO_PORT=12112
RESEND_PORT=12113

die() {
    echo "$script_name: error: $*" >&2
    exit 1
}

say() {
    echo "$script_name: $*"
}

# Short names and PIDs of what this script started, in start order; cleanup stops them in reverse.
names=()
pids=()

# shellcheck disable=SC2317 # called from the traps below
cleanup() {
    trap - INT TERM HUP EXIT
    local i running=()
    # Only what still runs is stopped (and named): a control plane killed by hand is not.
    for ((i = 0; i < ${#pids[@]}; i++)); do
        if kill -0 "${pids[i]}" 2>/dev/null; then running+=("${names[i]}"); fi
    done
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
    done
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        wait "${pids[i]}" 2>/dev/null || true
    done
    names=("${running[@]}")
    if declare -F after_stop >/dev/null; then
        after_stop
    fi
    if ((${#names[@]} > 0)); then
        say "stopped ${names[*]}"
    fi
}
trap cleanup EXIT
# Ctrl-C is how you stop it: a clean stop, not a failure.
trap 'cleanup; exit 0' INT
trap 'cleanup; exit 143' TERM
# A closed terminal: the processes below run in sessions of their own and would not get its
# hangup, so stop them here.
trap 'cleanup; exit 129' HUP

# start NAME LOGFILE COMMAND...: runs COMMAND in the background with its output in LOGFILE, in a
# session of its own: Ctrl-C reaches this script only, whose trap stops everything in order (a
# process that got the terminal's SIGINT too would exit first and read as a crash).
start() {
    local name="$1" log="$2"
    shift 2
    setsid "$@" >"$log" 2>&1 &
    names+=("$name")
    pids+=("$!")
}

# Fails with the tail of the process's log if it is no longer running.
check_alive() {
    local name="$1" pid="$2" log="$3"
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "$script_name: error: $name exited during startup; last lines of $log:" >&2
        tail -n 20 "$log" >&2 || true
        exit 1
    fi
}

# wait_http NAME PID LOG URL: polls URL until it answers 2xx, for at most STARTUP_DEADLINE_SECS.
wait_http() {
    local name="$1" pid="$2" log="$3" url="$4"
    local deadline=$((SECONDS + STARTUP_DEADLINE_SECS))
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        check_alive "$name" "$pid" "$log"
        if ((SECONDS >= deadline)); then
            echo "$script_name: error: $name not ready at $url after ${STARTUP_DEADLINE_SECS}s; last lines of $log:" >&2
            tail -n 20 "$log" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
}

# wait_tcp NAME PID LOG PORT: polls until 127.0.0.1:PORT accepts connections.
wait_tcp() {
    local name="$1" pid="$2" log="$3" port="$4"
    local deadline=$((SECONDS + STARTUP_DEADLINE_SECS))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        check_alive "$name" "$pid" "$log"
        if ((SECONDS >= deadline)); then
            echo "$script_name: error: $name not listening on 127.0.0.1:$port after ${STARTUP_DEADLINE_SECS}s; last lines of $log:" >&2
            tail -n 20 "$log" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
}

# wait_file PATH: the control plane writes its secrets on first start, before it serves.
wait_file() {
    local path="$1"
    local deadline=$((SECONDS + STARTUP_DEADLINE_SECS))
    until [[ -s "$path" ]]; do
        ((SECONDS < deadline)) || die "$path did not appear after ${STARTUP_DEADLINE_SECS}s"
        sleep 0.2
    done
}

# refuse_busy_ports PORT...: stops with a message when one is already taken.
refuse_busy_ports() {
    local port
    for port in "$@"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            die "port 127.0.0.1:$port is already in use (another 'make run' or 'make run-cluster'?); stop whatever listens there"
        fi
    done
}

# start_mocks BIN LOG: the three mock vendors on their ports, waited for.
start_mocks() {
    local bin="$1" log="$2" port
    say "starting mock vendors (log: $log)"
    start mock-vendors "$log" "$bin" \
        --stripe-listen "127.0.0.1:$STRIPE_PORT" --stripe-key "$MOCK_STRIPE_KEY" \
        --twilio-listen "127.0.0.1:$TWILIO_PORT" --twilio-account-sid "$MOCK_TWILIO_ACCOUNT_SID" \
        --twilio-auth-token "$MOCK_TWILIO_AUTH_TOKEN" \
        --resend-listen "127.0.0.1:$RESEND_PORT" --resend-key "$MOCK_RESEND_KEY"
    for port in "$STRIPE_PORT" "$TWILIO_PORT" "$RESEND_PORT"; do
        wait_tcp mock-vendors "${pids[-1]}" "$log" "$port"
    done
}

# register_mocks CONTROL_PLANE_URL ADMIN_KEY: the mocks' credentials, as the vendors' real ones.
register_mocks() {
    local url="$1" admin_key="$2" vendor body
    say "registering the mock vendors' credentials"
    for vendor in stripe twilio resend; do
        case "$vendor" in
            stripe) body="{\"api_key\":\"$MOCK_STRIPE_KEY\"}" ;;
            twilio) body="{\"account_sid\":\"$MOCK_TWILIO_ACCOUNT_SID\",\"auth_token\":\"$MOCK_TWILIO_AUTH_TOKEN\"}" ;;
            resend) body="{\"api_key\":\"$MOCK_RESEND_KEY\"}" ;;
        esac
        curl -fsS -o /dev/null -X PUT "$url/vendors/$vendor/credentials" \
            -H "Authorization: Bearer $admin_key" -H 'content-type: application/json' -d "$body" ||
            die "could not register the $vendor mock's credential with the control plane"
    done
}
