"""stripe-python through the keybrake gateway: calls whose cost the request does not bound, or
bounds above the key's cap, are refused before they leave; the others are priced.

Environment: GATEWAY (http://127.0.0.1:PORT), VAULT_KEY, CASE (`refunds` or `intents`), and for
`refunds` MOCK (the mock Stripe's base URL) and MOCK_KEY (its real key): the charge to refund is
made there directly, as a merchant's existing charge would be. Prints one JSON line of what it
observed; the Rust test (tests/tests/cost_model.rs) asserts on it.
"""

import json
import os

import stripe

stripe.api_base = os.environ["GATEWAY"] + "/stripe"
stripe.api_key = os.environ["VAULT_KEY"]
stripe.max_network_retries = 2  # refusals must not be retried even so


def refusal(call):
    try:
        call()
    except stripe.StripeError as e:
        return {
            "exception": type(e).__name__,
            "http_status": e.http_status,
            "code": e.error.code if e.error else e.code,
            "message": e.user_message,
        }
    return None


seen = {}
case = os.environ["CASE"]
if case == "refunds":
    merchant = stripe.StripeClient(os.environ["MOCK_KEY"], base_addresses={"api": os.environ["MOCK"]})
    charge = merchant.v1.charges.create(params={"amount": 40000, "currency": "usd", "source": "tok_visa"})
    seen["charge"] = charge.id
    # No amount: the whole $400 would go back, which the request does not say.
    seen["whole"] = refusal(lambda: stripe.Refund.create(charge=charge.id))
    refund = stripe.Refund.create(charge=charge.id, amount=200)
    seen["small"] = {"id": refund.id, "amount": refund.amount, "status": refund.status}
elif case == "intents":
    pi = stripe.PaymentIntent.create(
        amount=1000, currency="usd", capture_method="manual", confirm=True, payment_method="pm_card_visa"
    )
    seen["created"] = {"id": pi.id, "status": pi.status, "amount_capturable": pi.amount_capturable}
    seen["modify"] = refusal(lambda: stripe.PaymentIntent.modify(pi.id, amount=5000000))
    seen["increment"] = refusal(lambda: stripe.PaymentIntent.increment_authorization(pi.id, amount=5000000))
    seen["overcapture"] = refusal(lambda: stripe.PaymentIntent.capture(pi.id, amount_to_capture=5000000))
    captured = stripe.PaymentIntent.capture(pi.id)
    seen["captured"] = {"status": captured.status, "amount_received": captured.amount_received}
else:
    raise SystemExit(f"unknown CASE {case}")

print(json.dumps(seen))
