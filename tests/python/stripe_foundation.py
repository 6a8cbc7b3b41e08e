"""stripe-python against the keybrake gateway, exactly as the README tells an agent developer.

Environment: GATEWAY (http://127.0.0.1:PORT), VAULT_KEY (allowed: POST /v1/payment_intents and
GET /v1/payment_intents/*), REVOKED_KEY, and HTTP2=1 to speak cleartext HTTP/2 (prior knowledge)
through httpx instead of HTTP/1.1 through requests. Prints one JSON line with what it observed;
the Rust test asserts on it.
"""

import json
import os

import stripe

stripe.api_base = os.environ["GATEWAY"] + "/stripe"
stripe.api_key = os.environ["VAULT_KEY"]
stripe.max_network_retries = 2  # refusals must not be retried even so

if os.environ.get("HTTP2") == "1":
    import httpx

    # stripe-python's httpx client builds its own httpx.Client (HTTP/1.1 only); an agent that
    # wants HTTP/2 swaps in one with http2 on. http1=False makes httpx speak h2c with prior
    # knowledge on a plain http:// URL, as agents on a mesh-internal gateway do.
    client = stripe.HTTPXClient(allow_sync_methods=True)
    client._client = httpx.Client(http1=False, http2=True)
    stripe.default_http_client = client

seen = {}

pi = stripe.PaymentIntent.create(amount=1000, currency="usd", metadata={"order_id": "6735"})
seen["created"] = {"object": pi.object, "amount": pi.amount, "id": pi.id}
seen["retrieved"] = stripe.PaymentIntent.retrieve(pi.id).id


def refusal(call):
    try:
        call()
    except stripe.StripeError as e:
        return {
            "exception": type(e).__name__,
            "http_status": e.http_status,
            # PermissionError and AuthenticationError carry the code only on e.error.
            "code": e.error.code if e.error else e.code,
            "message": e.user_message,
        }
    return None


seen["not_allowed"] = refusal(lambda: stripe.Refund.create(payment_intent=pi.id))
stripe.api_key = os.environ["REVOKED_KEY"]
seen["revoked"] = refusal(lambda: stripe.PaymentIntent.create(amount=1000, currency="usd"))
stripe.api_key = "vk_" + "0" * 16 + "_" + "0" * 64
seen["unknown"] = refusal(lambda: stripe.PaymentIntent.create(amount=1000, currency="usd"))

print(json.dumps(seen))
