#!/usr/bin/env python3
"""How soon a sent message is found by search (docs/search.md, "Freshness and readiness").

Against a running node (with `SEND_RATE_LIMIT=0`: the probe sends faster than a person): sends N messages, each with a word of its own, and after each send's answer
polls the search route every 5 ms until the message is found; prints the delays' median, p90, p99
and max. Pauses 0, 0.3 or 0.6 s between sends, so that some sends find the index idle and some
find it busy committing.

    JWT_SECRET=... python3 bench/search_freshness.py --base http://127.0.0.1:3000 \\
        --token "$(concierge token --sub cus_7 --role customer)" --conversation 01M8... [--n 200]

Standard library only; not run by CI.
"""

import argparse
import json
import time
import urllib.request
import uuid


def call(base, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        base + path,
        method=method,
        data=data,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--token", required=True, help="a customer's token for the conversation")
    p.add_argument("--conversation", required=True)
    p.add_argument("--n", type=int, default=200)
    a = p.parse_args()
    waits = []
    for i in range(a.n):
        word = "fresh" + uuid.uuid4().hex[:12]
        call(a.base, a.token, "POST", f"/messaging/conversations/{a.conversation}/messages",
             {"content": f"freshness probe {word}"})
        answered = time.monotonic()
        while not call(a.base, a.token, "GET", f"/messaging/search?q={word}")["data"]["results"]:
            time.sleep(0.005)
        waits.append((time.monotonic() - answered) * 1000)
        time.sleep(0.3 * (i % 3))
    waits.sort()
    pick = lambda q: waits[min(len(waits) - 1, int(q * len(waits)))]
    print(f"{len(waits)} sends: found after median {pick(0.5):.0f} ms, p90 {pick(0.9):.0f} ms, "
          f"p99 {pick(0.99):.0f} ms, max {waits[-1]:.0f} ms")


if __name__ == "__main__":
    main()
