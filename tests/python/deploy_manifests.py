"""Checks the Istio manifests in deploy/istio/ and renders their Envoy configuration.

Run by tests/tests/deploy_manifests.rs:

    deploy_manifests.py --crds CRDS --base BASE --wasm WASM --version V --out DIR DEPLOY_ISTIO_DIR

1. Every Istio resource is validated against the openAPIV3Schema of its kind and version in
   istio/api's CRD file (CRDS), made strict the way the API server is with strict field
   validation: an unknown field is an error. (CEL rules, `x-kubernetes-validations`, are not
   evaluated.) ConfigMaps are checked for shape; `*patch*.yaml` files are Deployment patches.
2. For each variant folder (one with a bootstrap ConfigMap holding custom_bootstrap.json) it
   writes DIR/<variant>.yaml, BASE with the variant's HTTP filter added the way Istio adds it,
   and DIR/<variant>.override.json, the bootstrap fragment pilot-agent passes to Envoy with
   --config-yaml. The Rust test runs `envoy --mode validate` on each pair.
   - EnvoyFilter patches are applied as istiod applies them (MERGE: protobuf merge, lists
     appended; INSERT_BEFORE the sub-filter).
   - A WasmPlugin is rendered as istiod renders it (istio/istio pilot/pkg/model/extensions.go:
     name `<namespace>.<name>`, root_id = pluginName, configuration = pluginConfig as a JSON
     StringValue, runtime v8, failure_policy from failStrategy, no vm_id, no
     allow_on_headers_stop_iteration) after istio-agent replaced the OCI download with the
     local file (here WASM).
3. Invariants keybrake relies on: the filter and the sync service share one vm_id; the data-plane
   token is exposed to the sync VM only; nothing logs Authorization; the image tag is the crate
   version; the bootstrapOverride annotation names the bootstrap ConfigMap.

Prints one `ok` line per checked resource; exits 1 with every problem found.
"""

import argparse
import copy
import json
import pathlib
import re
import sys

import jsonschema
from ruamel.yaml import YAML

HCM = "envoy.filters.network.http_connection_manager"
ROUTER = "envoy.filters.http.router"
WASM_FILTER = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
STRING_VALUE = "type.googleapis.com/google.protobuf.StringValue"
FAIL_POLICY = {"FAIL_CLOSE": "FAIL_CLOSED", "FAIL_OPEN": "FAIL_OPEN", "FAIL_RELOAD": "FAIL_RELOAD"}

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def strict(schema):
    """The schema with additionalProperties: false wherever Kubernetes would prune or refuse."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def load_crd_schemas(path):
    schemas = {}
    for crd in YAML(typ="safe").load_all(pathlib.Path(path).read_text()):
        if not crd:
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
            for field in ("apiVersion", "kind"):
                schema["properties"][field] = {"type": "string"}
            schema["properties"]["metadata"] = {
                "type": "object",
                "required": ["name"],
                "x-kubernetes-preserve-unknown-fields": True,
            }
            schemas[(f"{group}/{version['name']}", kind)] = strict(schema)
    return schemas


def validate_resource(where, doc, schemas):
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key == ("v1", "ConfigMap"):
        data = doc.get("data")
        if not doc.get("metadata", {}).get("name") or not isinstance(data, dict) or not all(
            isinstance(v, str) for v in data.values()
        ):
            problem(where, "a ConfigMap needs metadata.name and string values in data")
        return
    if key == ("autoscaling/v2", "HorizontalPodAutoscaler"):
        spec = doc.get("spec", {})
        target = spec.get("scaleTargetRef", {})
        if (target.get("apiVersion"), target.get("kind")) != ("apps/v1", "Deployment") or not target.get("name"):
            problem(where, "the autoscaler must scale the gateway Deployment (apps/v1 Deployment, by name)")
        low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
        if not isinstance(high, int) or not isinstance(low, int) or not 1 <= low <= high:
            problem(where, "the autoscaler needs 1 <= minReplicas <= maxReplicas")
        if not spec.get("metrics"):
            problem(where, "the autoscaler needs at least one metric")
        return
    schema = schemas.get(key)
    if schema is None:
        problem(where, f"no Istio schema for {key[0]} {key[1]}")
        return
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    for e in errors:
        problem(where, f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}")


def merge(into, value):
    """Protobuf merge on JSON: messages merge, lists append, scalars replace."""
    for k, v in value.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        elif isinstance(v, list) and isinstance(into.get(k), list):
            into[k].extend(copy.deepcopy(v))
        else:
            into[k] = copy.deepcopy(v)


def listener_hcm(base, port):
    for listener in base["static_resources"]["listeners"]:
        if listener["address"]["socket_address"]["port_value"] == port:
            for chain in listener["filter_chains"]:
                for f in chain["filters"]:
                    if f["name"] == HCM:
                        return f
    raise SystemExit(f"the base bootstrap has no {HCM} on port {port}")


def insert_before_router(hcm, http_filter):
    filters = hcm["typed_config"]["http_filters"]
    at = next(i for i, f in enumerate(filters) if f["name"] == ROUTER)
    filters.insert(at, http_filter)


def apply_envoyfilter(where, base, ef):
    for n, p in enumerate(ef["spec"]["configPatches"]):
        match, patch = p["match"], p["patch"]
        hcm = listener_hcm(base, match["listener"]["portNumber"])
        op = (p["applyTo"], patch["operation"])
        if op == ("NETWORK_FILTER", "MERGE"):
            merge(hcm, patch["value"])
        elif op == ("HTTP_FILTER", "INSERT_BEFORE"):
            sub = match["listener"]["filterChain"]["filter"]["subFilter"]["name"]
            if sub != ROUTER:
                problem(where, f"configPatches[{n}]: the renderer handles INSERT_BEFORE {ROUTER} only")
            insert_before_router(hcm, copy.deepcopy(patch["value"]))
        else:
            problem(where, f"configPatches[{n}]: {op} is not handled by this renderer")


def render_wasmplugin(where, base, wp, wasm):
    meta, spec = wp["metadata"], wp["spec"]
    config = {
        "name": f"{meta.get('namespace', 'default')}.{meta['name']}",
        "root_id": spec.get("pluginName", ""),
        "vm_config": {"runtime": "envoy.wasm.runtime.v8", "code": {"local": {"filename": wasm}}},
        "failure_policy": FAIL_POLICY[spec.get("failStrategy", "FAIL_CLOSE")],
    }
    if spec.get("pluginConfig"):
        text = json.dumps(spec["pluginConfig"], separators=(",", ":"))
        config["configuration"] = {"@type": STRING_VALUE, "value": text}
    host_env = [e["name"] for e in spec.get("vmConfig", {}).get("env", []) if e.get("valueFrom") == "HOST"]
    if host_env:
        config["vm_config"]["environment_variables"] = {"host_env_keys": host_env}
    ports = {p["number"] for m in spec.get("match", []) for p in m.get("ports", [])}
    for port in ports or {8080}:
        insert_before_router(listener_hcm(base, port), {"name": config["name"], "typed_config": {"@type": WASM_FILTER, "config": config}})


def wasm_configs(node):
    """Every Wasm PluginConfig (filter or WasmService) in a config tree."""
    if isinstance(node, dict):
        if "vm_config" in node and "root_id" in node:
            yield node
        for v in node.values():
            yield from wasm_configs(v)
    elif isinstance(node, list):
        for v in node:
            yield from wasm_configs(v)


def check_invariants(where, rendered, override, version, docs):
    configs = list(wasm_configs(rendered)) + list(wasm_configs(override))
    roles = {c["root_id"]: c for c in configs}
    if set(roles) != {"keybrake_filter", "keybrake_sync"}:
        problem(where, f"expected root_ids keybrake_filter and keybrake_sync, found {sorted(roles)}")
        return
    vm_ids = {r: c["vm_config"].get("vm_id", "") for r, c in roles.items()}
    if len(set(vm_ids.values())) != 1:
        problem(where, f"the filter and the sync service must share one vm_id to share data: {vm_ids}")
    token_vms = [r for r, c in roles.items() if "KEYBRAKE_DATAPLANE_TOKEN" in json.dumps(c.get("vm_config", {}))]
    if token_vms != ["keybrake_sync"]:
        problem(where, f"KEYBRAKE_DATAPLANE_TOKEN must reach the sync VM only, not {token_vms}")
    if "%REQ(AUTHORIZATION)%" in json.dumps(rendered).upper():
        problem(where, "the access log prints Authorization (after the swap: the real vendor key)")
    for doc in docs:
        if doc.get("kind") == "WasmPlugin":
            url = doc["spec"]["url"]
            if not url.endswith(f":{version}"):
                problem(where, f"WasmPlugin url {url} is not tagged with the crate version {version}")


def local_wasm(config, wasm):
    """The config as JSON, with the in-pod path of every .wasm pointed at the local build."""
    text = json.dumps(config, indent=1)
    return re.sub(r'"filename": "[^"]*\.wasm"', json.dumps({"filename": wasm})[1:-1], text)


def check_patch(where, patch, configmaps):
    annotations = patch["spec"]["template"].get("metadata", {}).get("annotations", {})
    name = annotations.get("sidecar.istio.io/bootstrapOverride")
    if name is not None and name not in configmaps:
        problem(where, f"bootstrapOverride names ConfigMap {name}, which this folder does not define")
    if "replicas" in patch["spec"]:
        problem(where, "the patch must not pin a replica count: autoscaler.yaml scales the gateway")
    containers = [c["name"] for c in patch["spec"]["template"]["spec"]["containers"]]
    if containers != ["istio-proxy"]:
        problem(where, f"the patch must target the istio-proxy container, not {containers}")


def main():
    ap = argparse.ArgumentParser()
    for a in ("--crds", "--base", "--wasm", "--version", "--out"):
        ap.add_argument(a, required=True)
    ap.add_argument("deploy_dir")
    args = ap.parse_args()
    schemas = load_crd_schemas(args.crds)
    base = YAML(typ="safe").load(pathlib.Path(args.base).read_text())
    root = pathlib.Path(args.deploy_dir)
    out = pathlib.Path(args.out)
    variants = 0

    for folder in sorted({p.parent for p in root.rglob("*.yaml")}):
        docs, configmaps, patches = [], {}, []
        for path in sorted(folder.glob("*.yaml")):
            for n, doc in enumerate(YAML(typ="safe").load_all(path.read_text())):
                where = f"{path}[{n}]"
                if not doc:
                    continue
                if "patch" in path.name:
                    patches.append((where, doc))
                    continue
                validate_resource(where, doc, schemas)
                docs.append(doc)
                if doc.get("kind") == "ConfigMap":
                    configmaps[doc["metadata"]["name"]] = doc
                print(f"ok   {where} {doc.get('kind')}/{doc.get('metadata', {}).get('name')}")
        for where, patch in patches:
            check_patch(where, patch, configmaps)
            print(f"ok   {where} Deployment patch")
        fragments = [cm["data"]["custom_bootstrap.json"] for cm in configmaps.values() if "custom_bootstrap.json" in cm["data"]]
        if not fragments or problems:
            # Nothing to render, or resources that Kubernetes would refuse: report those first.
            continue
        variant, where = folder.name, str(folder)
        rendered = copy.deepcopy(base)
        for doc in docs:
            if doc.get("kind") == "EnvoyFilter":
                apply_envoyfilter(where, rendered, doc)
            elif doc.get("kind") == "WasmPlugin":
                render_wasmplugin(where, rendered, doc, args.wasm)
        override = json.loads(fragments[0])
        check_invariants(where, rendered, override, args.version, docs)
        (out / f"{variant}.yaml").write_text(local_wasm(rendered, args.wasm))
        (out / f"{variant}.override.json").write_text(local_wasm(override, args.wasm))
        print(f"rendered {variant}: {out / variant}.yaml + {variant}.override.json")
        variants += 1

    if variants == 0 and not problems:
        problem(str(root), "no variant folder with a bootstrap ConfigMap found")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
