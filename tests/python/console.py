"""The operator console (/ui) in a real browser: Debian's chromium driven by Playwright.

Environment: CONSOLE (http://127.0.0.1:PORT of the control plane), GATEWAY (the Envoy gateway),
ADMIN_KEY, TARGET_KEY_ID (an active key the cross-site page tries to revoke), OUT (a directory:
each page's screenshot and HTML, and every console answer's body, go there). Prints one JSON
object with what it observed; the Rust test (tests/tests/console.rs) asserts on it and scans
OUT for secrets.
"""

import http.server
import json
import os
import socketserver
import tempfile
import threading
import time

import stripe
from playwright.sync_api import expect, sync_playwright

CONSOLE = os.environ["CONSOLE"]
GATEWAY = os.environ["GATEWAY"]
ADMIN_KEY = os.environ["ADMIN_KEY"]
TARGET = os.environ["TARGET_KEY_ID"]
OUT = os.environ["OUT"]
LABEL = "console/e2e"
WAIT_MS = 20_000

stripe.api_base = GATEWAY + "/stripe"
stripe.max_network_retries = 0

seen = {"pages": {}, "headers": {}, "answers": []}
answers = []


def flush():
    """Writes the bodies of the console answers seen so far, while the browser still has them
    (it drops a page's bodies once it navigates away)."""
    while answers:
        a = answers.pop(0)
        try:
            body = a.body()
        except Exception:  # redirects and streams have none to give
            continue
        issued = a.request.method == "POST" and a.url.endswith("/ui/keys") and a.status == 201
        name = f"answer-{len(seen['answers']):03d}{'-issued' if issued else ''}.txt"
        seen["answers"].append(f"{a.status} {a.request.method} {a.url}")
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(f"{a.status} {a.request.method} {a.url}\n{a.all_headers()}\n".encode() + body)


def save(page, name):
    flush()
    page.screenshot(path=os.path.join(OUT, f"{name}.png"), full_page=True)
    with open(os.path.join(OUT, f"{name}.html"), "w") as f:
        f.write(page.content())
    seen["pages"][name] = page.url


def pay(vault_key):
    """One $10 PaymentIntent through the gateway: the intent's id, or the refusal's code."""
    stripe.api_key = vault_key
    try:
        return {"ok": stripe.PaymentIntent.create(amount=1000, currency="usd").id}
    except stripe.StripeError as e:
        return {"refused": e.error.code if e.error else e.code, "status": e.http_status}


def attacker_site():
    """A page on another site (localhost, not 127.0.0.1) whose form posts to the console."""
    html = (
        "<!doctype html><title>totally harmless</title>"
        f'<form method="post" action="{CONSOLE}/ui/keys/{TARGET}/revoke">'
        '<input type="hidden" name="csrf" value="guessed">'
        '<button id="go" type="submit">Win a prize</button></form>'
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = socketserver.TCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://localhost:{server.server_address[1]}/"


def keep_answer(response):
    skip = ("/ui/assets/", "/ui/audit/stream")  # files anyone may read; an endless stream
    if "/ui/" in response.url and not any(s in response.url for s in skip):
        answers.append(response)


with sync_playwright() as p:
    ctx = p.chromium.launch_persistent_context(
        tempfile.mkdtemp(prefix="keybrake-chromium-"),
        executable_path="/usr/bin/chromium",
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
        viewport={"width": 1360, "height": 860},
    )
    ctx.set_default_timeout(WAIT_MS)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=CONSOLE)
    page = ctx.pages[0] if ctx.pages else ctx.new_page()
    page.on("response", keep_answer)
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)

    # Signed out, /ui lands on the sign-in form.
    first = page.goto(CONSOLE + "/ui")
    seen["headers"]["login"] = dict(first.all_headers())
    save(page, "login")

    # A wrong admin key is refused.
    page.get_by_label("Admin key").fill("kba_not_the_admin_key")
    with page.expect_response(lambda r: r.url.endswith("/ui/login") and r.request.method == "POST") as r:
        page.get_by_role("button", name="Sign in").click()
    seen["wrong_key"] = {
        "status": r.value.status,
        "cookies": len(ctx.cookies()),
        "message": page.locator(".error").inner_text(),
    }
    flush()

    # The right one opens the keys page; the cookie is out of scripts' reach.
    page.get_by_label("Admin key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/keys")
    flush()
    seen["cookies"] = ctx.cookies()
    seen["document_cookie"] = page.evaluate("document.cookie")
    seen["web_storage"] = page.evaluate("JSON.stringify([localStorage, sessionStorage])")

    # Issue a key from the form; the vault key is shown once, with a copy button.
    form = page.get_by_role("region", name="Issue a key")
    form.get_by_label("Vendor").select_option("stripe")
    form.get_by_label("Daily cap (USD)").fill("50")
    form.get_by_label("Allowed endpoints, one per line").fill("POST /v1/payment_intents")
    form.get_by_label("Expires in").fill("30m")
    form.get_by_label("Agent-run label").fill(LABEL)
    with page.expect_response(lambda r: r.url.endswith("/ui/keys") and r.request.method == "POST") as r:
        page.get_by_role("button", name="Issue key").click()
    seen["issue_status"] = r.value.status
    vault_key = page.locator("#vault-key").inner_text().strip()
    key_id = page.locator("#issued-key-id").inner_text().strip()
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#vault-key-copied")).to_be_visible()
    seen["clipboard_matches"] = page.evaluate("navigator.clipboard.readText()") == vault_key
    seen["vault_key"] = vault_key
    seen["key_id"] = key_id
    save(page, "issued")
    issued_url = page.url
    flush()
    page.goto(CONSOLE + "/ui/keys")
    seen["issued_page_again"] = vault_key in page.content()

    # A call through the gateway shows up in the live tail, without a reload.
    flush()
    page.goto(CONSOLE + "/ui/audit")
    expect(page.locator("#tail-status.connected")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    started = time.monotonic()
    seen["paid"] = pay(vault_key)
    row = page.locator("#tail tr", has_text=key_id).filter(has_text="allow")
    expect(row.first).to_be_visible()
    seen["tail_ms"] = round((time.monotonic() - started) * 1000)
    seen["tail_same_document"] = page.evaluate("window.__sameDocument === true")
    seen["tail_row"] = row.first.inner_text()

    # Revoke with one click (and the confirm); the very next call is refused.
    flush()
    page.goto(CONSOLE + "/ui/keys?label_prefix=console%2F")
    key_row = page.locator(f"#key-{key_id}")
    key_row.get_by_role("button", name="Revoke").click()
    expect(key_row.locator(".badge")).to_have_text("revoked")
    seen["after_revoke"] = pay(vault_key)
    seen["dialogs"] = dialogs
    seen["revoke_buttons_left"] = key_row.get_by_role("button", name="Revoke").count()
    save(page, "keys")

    # The refusal reaches the trail, highlighted with its reason.
    flush()
    page.goto(CONSOLE + "/ui/audit")
    refused = page.locator("#tail tr.refused", has_text=key_id)
    expect(refused.first).to_be_visible()
    seen["refused_row"] = refused.first.inner_text()
    save(page, "audit")

    flush()
    page.goto(CONSOLE + f"/ui/keys/{key_id}")
    seen["key_page"] = {
        "spent": page.locator("#spent-today").inner_text(),
        "cap": page.locator("#cap").inner_text(),
        "leases": page.locator("table").first.inner_text(),
    }
    save(page, "key")

    flush()
    page.goto(CONSOLE + "/ui/spend")
    seen["spend_text"] = page.locator("main").inner_text()
    seen["spend_bars"] = page.locator("svg.chart rect.bar").count()
    save(page, "spend")

    flush()
    page.goto(CONSOLE + "/ui/gateways")
    seen["gateways_text"] = page.locator("main").inner_text()
    save(page, "gateways")

    # A form on another site posting to the console is refused, cookie or not.
    server, attack_url = attacker_site()
    attack = ctx.new_page()
    attack.goto(attack_url)
    with attack.expect_response(lambda r: "/revoke" in r.url) as r:
        attack.locator("#go").click()
    seen["cross_site"] = {"status": r.value.status, "text": attack.locator("body").inner_text()}
    attack.close()
    server.shutdown()

    # Sign out: back to the sign-in form, and the console is closed.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/login")
    flush()
    page.goto(CONSOLE + "/ui/keys")
    seen["after_sign_out_url"] = page.url
    seen["cookies_after_sign_out"] = len(ctx.cookies())

    flush()
    seen["issued_url"] = issued_url
    ctx.close()

print(json.dumps(seen))
