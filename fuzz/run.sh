#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS (default 20). Called by `make fuzz`.
#
# cargo fuzz needs nightly compiler flags (-Zsanitizer). Nightly from rustup when it is there
# or can be installed; otherwise the pinned stable toolchain with RUSTC_BOOTSTRAP=1, which
# accepts the same flags.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-20}"
targets=(path authorization form_cost json_cost)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

toolchain=()
if rustup run nightly rustc --version >/dev/null 2>&1 \
    || rustup toolchain install nightly --profile minimal >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  echo "fuzz: no nightly toolchain; using the pinned stable with RUSTC_BOOTSTRAP=1" >&2
  export RUSTC_BOOTSTRAP=1
fi

for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "fuzz: $t for ${seconds}s"
  cargo "${toolchain[@]}" fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -max_len=8192
done
