#!/usr/bin/env bash
# `make oci`: the filter as an OCI image in the layout Istio's WasmPlugin fetches (Istio's
# "compat" variant: one layer, a gzipped tar holding /plugin.wasm), written to an OCI layout
# directory and tagged with the crate version. Built offline with buildah; no daemon, no registry.
#
# Prints the layout reference, the image (manifest) digest and the .wasm's sha256:
#   - for `url: oci://…` in a WasmPlugin, `sha256` is the image digest (hex, without
#     `sha256:`): istio-agent compares it with the manifest digest it pulled;
#   - for `url: http(s)://…` (a plain .wasm download) and for Envoy's own `code.remote.sha256`,
#     it is the .wasm's sha256.
# The build is reproducible (timestamps set to 0): the same .wasm gives the same digest.
#
# Environment: WASM (default the release build), OCI_LAYOUT (default target/oci/keybrake-filter),
# OCI_TAG (default the crate version).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wasm="${WASM:-$repo_root/target/wasm32-wasip1/release/keybrake_filter.wasm}"
layout="${OCI_LAYOUT:-$repo_root/target/oci/keybrake-filter}"
if [[ -z "${OCI_TAG:-}" ]]; then
    # `path+file:///…#keybrake-filter@0.1.0`
    pkgid="$(cd "$repo_root" && cargo pkgid -p keybrake-filter)"
    OCI_TAG="${pkgid##*[#@]}"
fi

[[ -f "$wasm" ]] || { echo "error: $wasm missing; run 'make wasm'" >&2; exit 1; }
command -v buildah >/dev/null || { echo "error: buildah missing; run 'make oci-tools' (Debian: apt-get install buildah)" >&2; exit 1; }

rm -rf "$layout"
mkdir -p "$(dirname "$layout")"
ctr="$(buildah from scratch)"
trap 'buildah rm "$ctr" >/dev/null' EXIT
buildah copy --quiet --chmod 0644 "$ctr" "$wasm" /plugin.wasm >/dev/null
buildah config --label "org.opencontainers.image.title=keybrake-filter" \
    --label "org.opencontainers.image.version=$OCI_TAG" "$ctr"
# Without --disable-compression=false buildah writes the layer uncompressed (media type
# …layer.v1.tar) to an OCI layout, and istio-agent refuses that layer.
buildah commit --quiet --format oci --disable-compression=false --timestamp 0 \
    "$ctr" "oci:$layout:$OCI_TAG" >/dev/null

digest="$(python3 - "$layout" "$OCI_TAG" <<'EOF'
import json, sys
index = json.load(open(f"{sys.argv[1]}/index.json"))
refs = [m["digest"] for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]]
if len(refs) != 1:
    sys.exit(f"error: {sys.argv[1]}/index.json has {len(refs)} manifests tagged {sys.argv[2]}")
print(refs[0])
EOF
)"
wasm_sha="$(sha256sum "$wasm" | cut -d' ' -f1)"

echo "image   oci:${layout#"$repo_root"/}:$OCI_TAG"
echo "digest  $digest"
echo "wasm    sha256:$wasm_sha  ($(stat -c %s "$wasm") bytes, plugin.wasm)"
echo "WasmPlugin with url oci://REGISTRY/keybrake/filter:$OCI_TAG -> sha256: ${digest#sha256:}"
echo "push:   skopeo copy --preserve-digests oci:${layout#"$repo_root"/}:$OCI_TAG docker://REGISTRY/keybrake/filter:$OCI_TAG"
