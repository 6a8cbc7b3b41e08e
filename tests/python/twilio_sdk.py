"""twilio-python against the keybrake gateway: only the base URL and the password change.

Environment: GATEWAY (http://127.0.0.1:PORT) and KEYS, a JSON object of vault keys:
ok (allowed: POST Messages.json, GET Messages/*), revoked, expired, capped (a cap below two
SMS segments), unknown. Prints one JSON line of what it observed; the Rust test asserts on it.
"""

import json
import os

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

keys = json.loads(os.environ["KEYS"])
gateway = os.environ["GATEWAY"] + "/twilio"
PLACEHOLDER_SID = "AC00000000000000000000000000000000"


def client(key):
    # The account SID is a placeholder: the gateway puts the real one in the path.
    c = Client(PLACEHOLDER_SID, key)
    c.api.base_url = gateway
    return c


def refusal(call):
    try:
        call()
    except TwilioRestException as e:
        return {"exception": type(e).__name__, "status": e.status, "code": e.code, "message": e.msg}
    return None


seen = {}
ok = client(keys["ok"])
msg = ok.messages.create(to="+15558675310", from_="+15005550006", body="Hello from keybrake")
seen["created"] = {"sid": msg.sid, "status": msg.status, "num_segments": msg.num_segments}
fetched = ok.messages(msg.sid).fetch()
seen["fetched"] = {"sid": fetched.sid, "status": fetched.status, "price": fetched.price}

seen["not_allowed"] = refusal(
    lambda: ok.calls.create(to="+15558675310", from_="+15005550006", url="https://example.com/twiml")
)
seen["revoked"] = refusal(lambda: client(keys["revoked"]).messages.create(to="+15558675310", from_="+15005550006", body="x"))
seen["expired"] = refusal(lambda: client(keys["expired"]).messages.create(to="+15558675310", from_="+15005550006", body="x"))
seen["unknown"] = refusal(lambda: client(keys["unknown"]).messages.create(to="+15558675310", from_="+15005550006", body="x"))
seen["capped"] = refusal(
    lambda: client(keys["capped"]).messages.create(to="+15558675310", from_="+15005550006", body="a" * 161)
)

print(json.dumps(seen))
