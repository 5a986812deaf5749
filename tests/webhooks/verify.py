"""Verify Concierge's webhook deliveries with the reference `standardwebhooks` library.

The Rust integration tests pipe captured deliveries through this script so that signatures are
checked by an independent implementation of Standard Webhooks, not by our own code.

Input: the secret (`whsec_<base64 key>`) in the environment variable WEBHOOK_SECRET, and on stdin
one JSON object per line: {"headers": {name: value, ...}, "body": "<the exact body text>"}.
Output: one line per delivery, `ok <webhook-id>` or `FAIL <webhook-id>: <reason>`.
Exit status: 0 only if there was at least one delivery and every one verified, else 1.

The library matches header names case-insensitively, parses the body as JSON after the signature
matches (a body that isn't JSON fails), and rejects a webhook-timestamp more than 5 minutes away
from now, so feed deliveries in promptly.
Install: pip install --require-hashes -r tests/webhooks/requirements.lock
"""

import json
import os
import sys

from standardwebhooks.webhooks import Webhook


def main() -> int:
    try:
        webhook = Webhook(os.environ["WEBHOOK_SECRET"])
    except Exception as error:  # missing, empty or not base64
        print(f"verify.py: bad WEBHOOK_SECRET: {type(error).__name__}: {error}", file=sys.stderr)
        return 1

    deliveries = failures = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        deliveries += 1
        msg_id = f"<stdin line {number}>"
        try:
            delivery = json.loads(line)
            headers = {name.lower(): value for name, value in delivery["headers"].items()}
            msg_id = headers.get("webhook-id", msg_id)
            webhook.verify(delivery["body"], headers)
        except Exception as error:
            failures += 1
            print(f"FAIL {msg_id}: {type(error).__name__}: {error}", flush=True)
        else:
            print(f"ok {msg_id}", flush=True)

    if deliveries == 0:
        print("verify.py: no deliveries on stdin", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
