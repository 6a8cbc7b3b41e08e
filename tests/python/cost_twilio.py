"""twilio-python through the keybrake gateway: a call update that lengthens the call, an MMS
without media, and bodies whose segments are easy to miscount, each priced or refused.

Environment: GATEWAY (http://127.0.0.1:PORT), VAULT_KEY and CASE: `calls` (a call, then updates:
TimeLimit=86400 refused, TimeLimit=120 priced, a hang-up free), `mms` (SendAsMms=true without
media refused, then one SMS segment sent), `segments` (153 x `]`, and 66 Cyrillic letters + an
emoji + 66 more), `whatsapp` (one message to a WhatsApp address: sent, or refused) or `uk` (one
SMS to a UK number: sent, or refused). Prints one JSON line; the Rust test (tests/tests/cost_model.rs) asserts on it.
"""

import json
import os

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

TO, FROM = "+15558675310", "+15005550006"
client = Client("AC00000000000000000000000000000000", os.environ["VAULT_KEY"])
client.api.base_url = os.environ["GATEWAY"] + "/twilio"


def refusal(call):
    try:
        call()
    except TwilioRestException as e:
        return {"status": e.status, "code": e.code, "message": e.msg}
    return None


seen = {}
case = os.environ["CASE"]
if case == "calls":
    call = client.calls.create(to=TO, from_=FROM, url="https://example.com/twiml", time_limit=60)
    seen["created"] = {"sid": call.sid, "status": call.status}
    seen["day_long"] = refusal(lambda: client.calls(call.sid).update(time_limit=86400))
    longer = client.calls(call.sid).update(time_limit=120)
    seen["longer"] = {"status": longer.status}
    ended = client.calls(call.sid).update(status="completed")
    seen["ended"] = {"status": ended.status}
    seen["fetched"] = {"price": client.calls(call.sid).fetch().price}
elif case == "mms":
    seen["mms"] = refusal(lambda: client.messages.create(to=TO, from_=FROM, body="hi", send_as_mms=True))
    sms = client.messages.create(to=TO, from_=FROM, body="hi")
    seen["sms"] = {"sid": sms.sid, "num_segments": sms.num_segments}
elif case == "segments":
    bodies = {"escapes": "]" * 153, "surrogates": "Ж" * 66 + "😀" + "Ж" * 66}
    for name, body in bodies.items():
        m = client.messages.create(to=TO, from_=FROM, body=body)
        seen[name] = {"sid": m.sid, "num_segments": m.num_segments}
elif case == "whatsapp":
    try:
        m = client.messages.create(to="whatsapp:" + TO, from_="whatsapp:" + FROM, body="hi")
        seen["sent"] = {"sid": m.sid, "to": m.to}
    except TwilioRestException as e:
        seen["refused"] = {"status": e.status, "code": e.code, "message": e.msg}
elif case == "uk":
    try:
        m = client.messages.create(to="+447700900123", from_=FROM, body="hi")
        seen["sent"] = {"sid": m.sid, "to": m.to}
    except TwilioRestException as e:
        seen["refused"] = {"status": e.status, "code": e.code, "message": e.msg}
else:
    raise SystemExit(f"unknown CASE {case}")

print(json.dumps(seen))
