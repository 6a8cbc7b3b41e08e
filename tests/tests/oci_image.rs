//! `make oci` builds an image that Istio can pull: pushed to a real registry (Debian's
//! `docker-registry`) and fetched back the way istio-agent does, it yields the built `.wasm`
//! byte for byte, under the digest `make oci` printed.
//!
//! istio-agent (istio/istio `pkg/wasm/imagefetcher.go`): fetch the manifest; if it is not a
//! Docker schema-2 manifest, take the **last** layer, require the media type
//! `application/vnd.oci.image.layer.v1.tar+gzip`, gunzip it, walk the tar and return the first
//! entry whose base name is `plugin.wasm`. With `sha256` set on an `oci://` URL it compares that
//! value with the manifest digest (`pkg/wasm/cache.go`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keybrake_e2e::paths;
use keybrake_e2e::process::{free_port, Proc, TempDir};
use keybrake_e2e::wait_until;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::process::Command;
use std::time::Duration;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Runs `scripts/oci-image.sh` (what `make oci` runs) into `layout`; returns its stdout.
fn make_oci(layout: &std::path::Path) -> String {
    let out = Command::new(paths::workspace_root().join("scripts/oci-image.sh"))
        .env("WASM", paths::wasm())
        .env("OCI_LAYOUT", layout)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "make oci failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The value after `label` at the start of a line of `make oci`'s output.
fn printed(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("make oci printed no `{label}` line:\n{output}"))
        .to_owned()
}

/// Debian's registry on `port`, storing in `dir`, without auth.
fn start_registry(dir: &std::path::Path, port: u16) -> Proc {
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\n\
             http: {{addr: 127.0.0.1:{port}}}\n",
            dir.join("storage").display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("docker-registry");
    cmd.arg("serve").arg(&config);
    Proc::spawn("docker-registry", cmd, dir)
}

/// istio-agent's pull: manifest, last layer, gunzip, tar, `plugin.wasm`. Returns the manifest
/// digest and the module.
async fn pull_like_istio(registry: &str, repo: &str, tag: &str) -> (String, Vec<u8>) {
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{registry}/v2/{repo}/manifests/{tag}"))
        .header("accept", format!("{OCI_MANIFEST}, {DOCKER_MANIFEST}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET manifest");
    let served_digest = r
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = r.bytes().await.unwrap();
    let digest = format!("sha256:{}", sha256_hex(&body));
    assert_eq!(
        served_digest.as_deref(),
        Some(digest.as_str()),
        "Docker-Content-Digest"
    );

    let manifest: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(manifest["mediaType"], OCI_MANIFEST, "manifest media type");
    let layer = manifest["layers"]
        .as_array()
        .and_then(|l| l.last())
        .expect("the image has no layer");
    assert_eq!(
        layer["mediaType"], GZIP_LAYER,
        "media type of the last layer"
    );

    let layer_digest = layer["digest"].as_str().unwrap();
    let r = http
        .get(format!("{registry}/v2/{repo}/blobs/{layer_digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET layer blob");
    let blob = r.bytes().await.unwrap();
    assert_eq!(
        format!("sha256:{}", sha256_hex(&blob)),
        layer_digest,
        "blob digest"
    );

    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&blob[..]));
    for entry in archive.entries().expect("the layer is not a gzipped tar") {
        let mut entry = entry.expect("a broken tar entry");
        let path = entry.path().unwrap().into_owned();
        if path.file_name().is_some_and(|n| n == "plugin.wasm") {
            let mut module = Vec::new();
            entry.read_to_end(&mut module).unwrap();
            return (digest, module);
        }
    }
    panic!("plugin.wasm not found in the last layer");
}

#[tokio::test]
async fn make_oci_image_round_trips_through_a_registry_as_istio_pulls_it() {
    paths::require(&[paths::Needed::Wasm]);
    let dir = TempDir::new("keybrake-oci");
    let version = env!("CARGO_PKG_VERSION");

    // Step 1: make oci, tagged with the crate version, printing digest and wasm sha256.
    let output = make_oci(&dir.0.join("layout"));
    let digest = printed(&output, "digest");
    let wasm_sha = printed(&output, "wasm");
    let image = printed(&output, "image");
    assert!(
        image.ends_with(&format!(":{version}")),
        "EXPECTED tag {version}\nRECEIVED {image}"
    );
    let built = std::fs::read(paths::wasm()).unwrap();
    assert_eq!(
        wasm_sha,
        format!("sha256:{}", sha256_hex(&built)),
        "printed wasm sha256"
    );

    // Step 2: the same .wasm gives the same image (WasmPlugin.sha256 stays valid across rebuilds).
    let again = make_oci(&dir.0.join("layout-again"));
    assert_eq!(printed(&again, "digest"), digest, "digest of a rebuild");

    // Step 3: push to a registry on a free port, as an operator would.
    let port = free_port();
    let _registry = start_registry(&dir.0, port);
    let registry = format!("http://127.0.0.1:{port}");
    wait_until(
        Duration::from_secs(20),
        "the registry to answer /v2/",
        || {
            let url = format!("{registry}/v2/");
            async move {
                let r = reqwest::get(url).await.ok()?;
                (r.status() == 200).then_some(())
            }
        },
    )
    .await;
    let repo = "keybrake/filter";
    let push = Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--preserve-digests",
            "--dest-tls-verify=false",
        ])
        .arg(format!("oci:{}:{version}", dir.0.join("layout").display()))
        .arg(format!("docker://127.0.0.1:{port}/{repo}:{version}"))
        .output()
        .unwrap();
    assert!(
        push.status.success(),
        "skopeo copy failed:\n{}",
        String::from_utf8_lossy(&push.stderr)
    );

    // Step 4: pull it back the way istio-agent does.
    let (pulled_digest, module) = pull_like_istio(&registry, repo, version).await;
    assert_eq!(
        pulled_digest, digest,
        "the digest to put in WasmPlugin.sha256 (manifest digest as served)"
    );
    assert!(
        module.starts_with(b"\0asm"),
        "plugin.wasm is not a wasm module"
    );
    assert!(
        module == built,
        "plugin.wasm differs from the built .wasm: {} bytes, sha256 {} (built: {} bytes, {wasm_sha})",
        module.len(),
        sha256_hex(&module),
        built.len()
    );
}
