"""resend-python against the keybrake gateway: only the API URL and the key change.

Environment: GATEWAY and KEYS (ok: POST /emails and POST /emails/batch; revoked, expired, capped
(a cap below two emails), unknown). Prints one JSON line of what it observed.
"""

import json
import os

import resend

keys = json.loads(os.environ["KEYS"])
resend.api_url = os.environ["GATEWAY"] + "/resend"


def refusal(call):
    try:
        call()
    except resend.exceptions.ResendError as e:
        return {"exception": type(e).__name__, "status": e.code, "name": e.error_type, "message": e.message}
    return None


def send(key, to):
    resend.api_key = key
    return resend.Emails.send({"from": "Agent <agent@example.com>", "to": to, "subject": "hi", "text": "hello"})


seen = {}
sent = send(keys["ok"], ["a@example.com", "b@example.com"])
seen["sent"] = {"id": sent["id"]}
resend.api_key = keys["ok"]
batch = resend.Batch.send(
    [
        {"from": "agent@example.com", "to": "c@example.com", "subject": "1", "text": "1"},
        {"from": "agent@example.com", "to": ["d@example.com"], "cc": "e@example.com", "subject": "2", "text": "2"},
    ]
)
seen["batch"] = {"count": len(batch["data"])}
resend.api_key = keys["ok"]
seen["not_allowed"] = refusal(lambda: resend.Emails.get(sent["id"]))
seen["revoked"] = refusal(lambda: send(keys["revoked"], "x@example.com"))
seen["expired"] = refusal(lambda: send(keys["expired"], "x@example.com"))
seen["unknown"] = refusal(lambda: send(keys["unknown"], "x@example.com"))
seen["capped"] = refusal(lambda: send(keys["capped"], ["x@example.com", "y@example.com"]))

print(json.dumps(seen))
