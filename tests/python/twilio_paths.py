"""twilio-python through the gateway, one call per kind of account-scoped path the SDK builds.

The agent holds only a placeholder Account SID; the gateway writes the real one into each path.
Environment: GATEWAY (http://127.0.0.1:PORT), VAULT_KEY (allowed the paths below). Prints one
JSON object: what each call returned (or its error status), and the account as the agent saw it.
The Rust test compares what the mock Twilio received, path by path.
"""

import json
import os

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

PLACEHOLDER_SID = "AC00000000000000000000000000000000"

client = Client(PLACEHOLDER_SID, os.environ["VAULT_KEY"])
client.api.base_url = os.environ["GATEWAY"] + "/twilio"
v2010 = client.api.v2010

seen = {"calls": []}


def step(name, call):
    try:
        result = call()
        seen["calls"].append({"name": name, "ok": True})
        return result
    except TwilioRestException as e:
        seen["calls"].append({"name": name, "ok": False, "status": e.status, "msg": e.msg})
    except TwilioException as e:  # a list that could not fetch its page
        seen["calls"].append({"name": name, "ok": False, "error": str(e)})
    return None


account = step("account.fetch", lambda: v2010.account.fetch())
if account is not None:
    seen["account"] = {"status": account.status, "auth_token": account.auth_token, "sid": account.sid}
msg = step(
    "messages.create",
    lambda: client.messages.create(to="+15558675310", from_="+15005550006", body="paths"),
)
step("messages.fetch", lambda: client.messages(msg.sid).fetch())
step("messages.media.list", lambda: client.messages(msg.sid).media.list(limit=5))
call = step(
    "calls.create",
    lambda: client.calls.create(
        to="+15558675310", from_="+15005550006", url="https://example.com/twiml", time_limit=60
    ),
)
step("calls.fetch", lambda: client.calls(call.sid).fetch())
step("calls.recordings.list", lambda: client.calls(call.sid).recordings.list(limit=5))
step("usage.records.today.list", lambda: client.usage.records.today.list(limit=5))
seen["message_sid"] = msg.sid
seen["call_sid"] = call.sid
print(json.dumps(seen))
