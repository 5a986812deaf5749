"""Schemathesis hooks of scripts/api-fuzz.sh (loaded with SCHEMATHESIS_HOOKS=hooks).

- `refused_request_wrote_nothing`, a check: a request answered 4xx or 5xx must leave the event log
  as it was. The log's last sequence is read from the nats-server's monitoring endpoint before and
  after every call (the script runs one worker, so nothing else writes in between). Calls that
  other checks make on their own are compared too, and listed in API_FUZZ_WRITES_LOG, which the
  script fails on.
- `map_case`: half of the cases whose path is generated as valid get the seeded conversation,
  message and booking, so that the routes are exercised past "not found" as well.
"""

import datetime
import json
import os
import random
import urllib.request
import uuid

import schemathesis
from schemathesis.core.parameters import ParameterLocation

JSZ_URL = os.environ["API_FUZZ_JSZ_URL"]
STREAM = os.environ.get("API_FUZZ_STREAM", "CONCIERGE")
WRITES_LOG = os.environ.get("API_FUZZ_WRITES_LOG")
SEEDED = {
    "conversationId": os.environ.get("API_FUZZ_CONVERSATION"),
    "messageId": os.environ.get("API_FUZZ_MESSAGE"),
    "bookingId": os.environ.get("API_FUZZ_BOOKING"),
}

# The log's last seq before each call in flight, by the id of its case.
_before: dict[int, int] = {}
# (before, after) of each refused call that moved the log, by the id of its response.
_moved: dict[int, tuple[int, int]] = {}


def last_seq() -> int:
    """The event stream's last sequence, from the nats-server's /jsz."""
    with urllib.request.urlopen(JSZ_URL, timeout=5) as r:
        jsz = json.load(r)
    for account in jsz.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            if stream.get("name") == STREAM:
                return int(stream["state"]["last_seq"])
    raise RuntimeError(f"stream {STREAM} not found at {JSZ_URL}")


@schemathesis.hook
def before_call(context, case, **kwargs):
    # The stateful phase may change a mapped case again (a status with the `until` of a snooze):
    # the snooze rule is applied once more right before the call.
    _snooze_rule(case)
    _before[id(case)] = last_seq()


@schemathesis.hook
def after_call(context, case, response):
    before = _before.pop(id(case), None)
    if before is None or response.status_code < 400:
        return
    after = last_seq()
    if after != before:
        _moved[id(response)] = (before, after)
        if WRITES_LOG:
            with open(WRITES_LOG, "a") as f:
                f.write(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"log seq {before} -> {after}\n  curl: {case.as_curl_command()}\n"
                )


@schemathesis.check
def refused_request_wrote_nothing(ctx, response, case):
    """A request answered 4xx or 5xx wrote nothing to the event log."""
    moved = _moved.pop(id(response), None)
    if moved is not None:
        raise AssertionError(
            f"Refused with {response.status_code}, yet the event log moved from seq "
            f"{moved[0]} to {moved[1]}"
        )


def _valid_key(key) -> bool:
    return isinstance(key, str) and 1 <= len(key) <= 128 and not any(
        ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key
    )


def _negative(case, location) -> bool:
    return case.meta is not None and case.meta.is_negative_at(location)


def _snooze_rule(case):
    """A snooze's `until` must be in the future and at most a year ahead, and only a snooze takes
    one (docs/inbox.md), which the schema cannot say: a valid status body gets an hour ahead."""
    body = case.body
    if case.operation.path.endswith("/status") and isinstance(body, dict):
        if not _negative(case, ParameterLocation.BODY):
            if body.get("status") == "snoozed":
                until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
                body["until"] = until.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            else:
                body.pop("until", None)


def _search_rule(case):
    """A search's `q` needs a word, `from` may not be after `to`, and a `cursor` must be one the
    server gave (docs/search.md), which the schema cannot say: valid ones get a word appended, the
    times in order, and a cursor of the server's form."""
    query = case.query
    if not case.operation.path.endswith("/search") or not isinstance(query, dict):
        return
    if _negative(case, ParameterLocation.QUERY):
        return
    if isinstance(query.get("q"), str):
        query["q"] = query["q"][:194] + " hello"
    if "from" in query:
        query["from"] = "2020-01-01T00:00:00.000Z"
    if "to" in query:
        query["to"] = "2100-01-01T00:00:00.000Z"
    if "cursor" in query:
        query["cursor"] = "czU"


@schemathesis.hook
def map_case(context, case):
    """Real ids where the schema cannot say which ids exist, and an upload's file a type it takes.

    A valid path gets the seeded ids half of the time. `replyTo` and `before` must name a message
    of the same conversation (else 400, which the schema cannot express): in a valid body or query
    they become the seeded message when the path names its conversation, else they are dropped.
    """
    if case.path_parameters and not _negative(case, ParameterLocation.PATH) and random.random() < 0.5:
        for name, value in SEEDED.items():
            if value and name in case.path_parameters:
                case.path_parameters[name] = value
    seeded = (case.path_parameters or {}).get("conversationId") == SEEDED["conversationId"]
    reference = SEEDED["messageId"] if seeded else None
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("replyTo"), str):
        if not _negative(case, ParameterLocation.BODY):
            body["replyTo"] = reference
    # A known client key answers 200 with the original message whatever the body (API.md): an
    # invalid body must not reuse a key an earlier valid send stored, so it gets a fresh one.
    if _negative(case, ParameterLocation.BODY) or _negative(case, ParameterLocation.HEADER):
        if isinstance(body, dict) and _valid_key(body.get("clientMessageId")):
            body["clientMessageId"] = uuid.uuid4().hex
        headers = case.headers or {}
        for name in list(headers):
            if name.lower() == "idempotency-key" and _valid_key(headers[name]):
                headers[name] = uuid.uuid4().hex
    # An upload's file must be of a type the server takes, which the schema (any bytes) cannot
    # say: a valid upload sends a small text file as its one part.
    if case.operation.path.endswith("/attachments") and case.method == "POST":
        positive = case.meta is None or not (
            case.meta.generation.mode.is_negative
            or any(c.mode.is_negative for c in case.meta.components.values())
        )
        # Only the part `file`: other parts' generated names may hold control characters, which
        # no multipart header may carry.
        if positive and isinstance(case.body, dict) and isinstance(case.body.get("file"), (bytes, str)):
            case.body = {"file": "fuzzed upload\n"}
    _snooze_rule(case)
    _search_rule(case)
    query = case.query
    if isinstance(query, dict) and "before" in query and not _negative(case, ParameterLocation.QUERY):
        if reference:
            query["before"] = reference
        else:
            del query["before"]
    return case
