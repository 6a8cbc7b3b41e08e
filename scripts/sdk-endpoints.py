#!/usr/bin/env python3
"""Lists every endpoint the official Python SDKs in .venv can call, one per line, sorted.

Output (stdout, or the files named with --write): `METHOD /path` for Stripe and Resend,
`METHOD /path host` for Twilio (its SDK calls several domains; the gateway routes only
api.twilio.com). A path parameter becomes `*`; Twilio's `{Sid}.json` becomes `*.json`.

The lists are checked in under crates/core/sdk-endpoints/ and read by the core's tests: every
endpoint must have an explicit cost class (crates/core/src/cost/catalog.rs). After an SDK
upgrade (tests/requirements.txt), run `make sdk-endpoints` and classify what is new.

Reads the SDKs' source text only; imports nothing from them.
"""
import argparse
import pathlib
import re
import sys

PARAM = re.compile(r"\{[^{}]*(\{[^{}]*\}[^{}]*)*\}")


def site_packages(venv: pathlib.Path) -> pathlib.Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        sys.exit(f"no site-packages under {venv}: run `make venv` first")
    return found[-1]


def normalize(path: str) -> str:
    return PARAM.sub("*", path)


def stripe(sp: pathlib.Path) -> list[str]:
    # `self._request("post", "/v1/payment_intents/{intent}/capture".format(...))` and the same
    # shape in the resource classes (`cls._static_request(...)`).
    call = re.compile(r'"(get|post|delete)",\s*f?"(/v[12]/[^"]*)"', re.S)
    out = set()
    for f in (sp / "stripe").rglob("*.py"):
        for method, path in call.findall(f.read_text()):
            out.add(f"{method.upper()} {normalize(path)}")
    return sorted(out)


def twilio(sp: pathlib.Path) -> list[str]:
    rest = sp / "twilio" / "rest"
    domain_host = {}
    for d in rest.iterdir():
        if not d.is_dir():
            continue
        for base in d.glob("*Base.py"):
            m = re.search(r'"https://([^"]+)"', base.read_text())
            if m:
                domain_host[d.name] = m.group(1)
    out = set()
    for d in rest.iterdir():
        if not d.is_dir() or d.name not in domain_host:
            continue
        for vdir in d.iterdir():
            vinit = vdir / "__init__.py"
            if not vdir.is_dir() or not vinit.exists():
                continue
            m = re.search(r'super\(\).__init__\(domain, "([^"]+)"\)', vinit.read_text())
            if not m:
                continue
            version = m.group(1)
            for f in vdir.rglob("*.py"):
                # One class per block: its `_uri` and the methods it sends to that uri.
                for block in re.split(r"\nclass ", f.read_text()):
                    uri = re.search(r'self\._uri = "([^"]*)"', block)
                    if not uri:
                        continue
                    methods = set(re.findall(r'method="(GET|POST|DELETE|PUT)",\s*uri=self\._uri', block))
                    for method in methods:
                        path = normalize(f"/{version}{uri.group(1)}")
                        out.add(f"{method} {path} {domain_host[d.name]}")
    return sorted(out)


def resend(sp: pathlib.Path) -> list[str]:
    out = set()
    for f in (sp / "resend").rglob("*.py"):
        text = f.read_text()
        for fn in re.split(r"\n\s*(?:async )?def ", text):
            path = re.search(r'\b(?:base_)?path = (f?"[^"]*"|f"\{inbox_path\([^)]*\)\}[^"]*"|inbox_path\([^)]*\))', fn)
            verb = re.search(r'verb="(\w+)"', fn)
            if not path or not verb:
                continue
            raw = path.group(1)
            raw = re.sub(r"\{inbox_path\([^)]*\)\}|inbox_path\([^)]*\)", "/inboxes/{id}", raw)
            raw = raw.lstrip("f").strip('"')
            out.add(f"{verb.group(1).upper()} {normalize(raw)}")
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--venv", default=".venv", type=pathlib.Path)
    ap.add_argument("--write", type=pathlib.Path, help="directory for stripe.txt, twilio.txt, resend.txt")
    args = ap.parse_args()
    sp = site_packages(args.venv)
    lists = {"stripe": stripe(sp), "twilio": twilio(sp), "resend": resend(sp)}
    for vendor, lines in lists.items():
        if not lines:
            sys.exit(f"found no {vendor} endpoints: has the SDK's source layout changed?")
        if args.write:
            args.write.mkdir(parents=True, exist_ok=True)
            (args.write / f"{vendor}.txt").write_text("\n".join(lines) + "\n")
        else:
            print("\n".join(f"{vendor} {line}" for line in lines))


if __name__ == "__main__":
    main()
