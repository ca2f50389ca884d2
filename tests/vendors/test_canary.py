"""Canary: one table of callbacks, signed by the production signer, and what each becomes."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import pytest

from switchboard.operations.replay import ReplayRequest, check_filter, replay
from switchboard.vendors import canary
from tests.conftest import FROZEN_AT, SECRETS, load_event, rows
from tests.signing import canary_headers, sample_bytes, sample_json
from tests.vendors.webhook_cases import as_json, check_callback, send_sample

SECRET, NEW_SECRET = SECRETS["canary"]
NOW = int(FROZEN_AT.timestamp())
MAX_AGE, TOLERANCE = 259200, 300  # the settings' defaults, which the fixtures keep


def body_with(status=None, type_=None, drop=None, data_drop=None, created=NOW, event_id=None,
              **data) -> bytes:
    """The documented sample, re-dated to now (its own `created` is years before the frozen
    clock) and changed as a case needs."""
    payload = sample_json("canary-delivered.json")
    payload["created"] = created
    if event_id is not None:
        payload["id"] = event_id
    if status is not None:
        payload["data"]["status"] = status
        payload["type"] = f"message.{status}"
    if type_ is not None:
        payload["type"] = type_
    payload["data"].update(data)
    if drop:
        del payload[drop]
    if data_drop:
        del payload["data"][data_drop]
    return json.dumps(payload).encode()


@dataclass
class Case:
    label: str
    body: bytes
    status: int
    code: str | None = None  # error code, or the stored event type when 200
    headers: dict = field(default_factory=dict)  # overrides of the signed headers
    secret: str = SECRET
    tamper: bytes | None = None  # body actually sent, when it differs from what was signed
    field: str | None = None
    vendor_status: str | None = None
    normalised: str | None = None
    occurred_at: str | None = None  # as subscribers see it
    data: dict | None = None  # expected in the event's data
    message: str | None = None  # the error's message, which tells the provider what to fix


BODY = body_with()

# CALLBACKS.md, "Canary", documents the types message.sent, message.delivered and
# message.failed; queued and undelivered are ours, by analogy with HonkIO. Written out here,
# not read from canary.STATUS_MAP, so a wrong mapping fails.
DOCUMENTED = {
    "sent": "sent", "delivered": "delivered", "failed": "failed",
    "queued": "accepted", "undelivered": "undelivered",  # (ours)
}

CASES = [
    # every documented status value, and one it does not know
    *[Case(f"status {s}", body_with(s), 200, f"message.{n}", vendor_status=s, normalised=n)
      for s, n in DOCUMENTED.items()],
    Case("unmapped status", body_with("carrier_lost"), 200, "message.unknown",
         vendor_status="carrier_lost", normalised="unknown"),
    Case("status in capitals", body_with("DELIVERED", type_="message.delivered"), 200,
         "message.delivered", vendor_status="DELIVERED", normalised="delivered"),
    Case("status taken from the type when absent",
         body_with(type_="message.sent", data_drop="status"), 200, "message.sent",
         vendor_status="sent", normalised="sent"),
    Case("email.opened keeps its type", body_with(type_="email.opened", data_drop="status"),
         200, "email.opened", data={"direction": None}, occurred_at="2024-01-01T12:00:00Z"),
    Case("email.clicked keeps its type", body_with(type_="email.clicked", data_drop="status"),
         200, "email.clicked"),
    Case("call.completed keeps its type", body_with("completed", type_="call.completed"), 200,
         "call.completed", vendor_status="completed"),
    Case("inbound message", body_with(type_="message.received", data_drop="status", text="hi",
                                      **{"from": "+15557654321"}), 200, "message.received",
         data={"direction": "inbound", "from": "+15557654321", "text": "hi",
               "message_id": "msg_abc123"}),
    # undocumented by Canary, read as HonkIO's (CALLBACKS.md "HonkIO")
    Case("account_id when Canary sends one",
         json.dumps(json.loads(BODY) | {"account_id": "acc_1"}).encode(), 200,
         "message.delivered", data={"account_id": "acc_1"}),
    Case("failure carries its error code", body_with("failed", error_code="30003"), 200,
         "message.failed", vendor_status="failed", normalised="failed",
         data={"error_code": "30003"}),
    # time
    Case("delivered_at becomes occurred_at", BODY, 200, "message.delivered",
         occurred_at="2024-01-01T12:00:00Z"),
    NAIVE := Case("delivered_at without an offset is UTC",
                  body_with(delivered_at="2024-01-01T12:00:00"), 200, "message.delivered",
                  occurred_at="2024-01-01T12:00:00Z"),
    Case("without delivered_at, created is occurred_at",
         body_with("sent", data_drop="delivered_at"), 200, "message.sent",
         occurred_at="2026-11-22T05:00:00Z"),
    Case("delivered_at not a time", body_with(delivered_at="yesterday"), 400, "invalid_field",
         field="data.delivered_at"),
    Case(f"created {MAX_AGE + 1} s old", body_with(created=NOW - MAX_AGE - 1), 401,
         "timestamp_out_of_tolerance",
         message="created is outside the accepted window (259200s back, 300s ahead)"),
    Case(f"created {MAX_AGE} s old is fine", body_with(created=NOW - MAX_AGE), 200,
         "message.delivered"),
    Case("sample as documented is years old", sample_bytes("canary-delivered.json"), 401,
         "timestamp_out_of_tolerance"),
    Case(f"created {TOLERANCE + 1} s ahead", body_with(created=NOW + TOLERANCE + 1), 401,
         "timestamp_out_of_tolerance"),
    Case(f"created {TOLERANCE} s ahead is fine", body_with(created=NOW + TOLERANCE), 200,
         "message.delivered"),
    Case("created as a string of digits", body_with(created=str(NOW)), 200, "message.delivered"),
    Case("created with a fraction of a second", body_with(created=NOW - 0.5), 200,
         "message.delivered"),
    Case("created not a time", body_with(created="soon"), 400, "invalid_field",
         field="created"),
    Case("created of 5,000 digits as a string", body_with(created="1" * 5000), 400,
         "invalid_field", field="created"),
    # proof
    Case("missing signature", BODY, 401, "missing_signature",
         headers={canary.SIGNATURE: None}, message="the signature header is missing"),
    Case("empty signature", BODY, 401, "missing_signature", headers={canary.SIGNATURE: ""}),
    Case("wrong signature", BODY, 401, "invalid_signature",
         headers={canary.SIGNATURE: "0" * 64},
         message="the signature does not match the body"),
    Case("signature in capitals", BODY, 401, "invalid_signature",
         headers={canary.SIGNATURE: canary.sign(SECRET, BODY).upper()}),
    Case("signature of another shape", BODY, 401, "invalid_signature",
         headers={canary.SIGNATURE: "sha256=ünï"}),
    Case("signed with an unknown secret", BODY, 401, "invalid_signature", secret="cnry_other"),
    Case("body changed after signing", BODY, 401, "invalid_signature",
         tamper=BODY.replace(b'"delivered"', b'"failed"')),
    Case("created moved after signing", BODY, 401, "invalid_signature",
         tamper=BODY.replace(str(NOW).encode(), str(NOW - 1).encode())),
    Case("old secret during rotation", BODY, 200, "message.delivered", secret=SECRET),
    Case("new secret during rotation", BODY, 200, "message.delivered", secret=NEW_SECRET),
    # body
    Case("malformed JSON", b'{"id": "evt_1", "type": ', 400, "malformed_json"),
    Case("not UTF-8", b'{"id": "\xff"}', 400, "malformed_json"),
    Case("body is a list", b"[1, 2]", 400, "invalid_field"),
    *[Case(f"missing {name}", body_with(drop=name), 400, "missing_field", field=name)
      for name in ("id", "type", "created", "data")],
    Case("missing data.message_id", body_with(data_drop="message_id"), 400, "missing_field",
         field="data.message_id"),
    # what the database could not hold is the caller's 400, never our 503
    Case("id of 193 characters fits the dedup key", body_with(event_id="e" * 193), 200,
         "message.delivered"),
    Case("id too long", body_with(event_id="e" * 194), 400, "invalid_field", field="id"),
    Case("type of 64 characters", body_with(type_="email." + "x" * 58, data_drop="status"), 200,
         "email." + "x" * 58),
    Case("type of 65 characters", body_with(type_="email." + "x" * 59), 400, "invalid_field",
         field="type"),
    Case("message_id too long", body_with(message_id="m" * 201), 400, "invalid_field",
         field="data.message_id"),
    Case("NUL in message_id", body_with(message_id="msg\u0000"), 400, "invalid_field",
         field="data.message_id"),
    Case("NUL in id", body_with(event_id="evt\u0000"), 400, "invalid_field", field="id"),
    Case("NUL in a text field is kept", body_with(type_="message.received", data_drop="status",
                                                  text="a\u0000b"), 200, "message.received"),
    PAST_9999 := Case("delivered_at past year 9999 in UTC",
                      body_with(delivered_at="9999-12-31T23:59:59-05:00"), 400,
                      "invalid_field", field="data.delivered_at"),
    Case("long Content-Type", BODY, 200, "message.delivered",
         headers={"Content-Type": "application/json; x=" + "y" * 300}),
    # JSON has no NaN, no infinity and no half of a surrogate pair: the body is refused as
    # a whole, and the message says what in it is not JSON
    Case("NaN in the body", BODY.replace(b'"status": "delivered"', b'"status": NaN'), 400,
         "malformed_json", message="body is not valid JSON: NaN is not a JSON value"),
    Case("a number past a double", BODY.replace(b'"status": "delivered"', b'"status": 1e999'),
         400, "malformed_json", message="body is not valid JSON: 1e999 is out of range"),
    Case("half of a surrogate pair", BODY.replace(b'"status": "delivered"',
                                                  b'"status": "\\ud800"'),
         400, "malformed_json", message="body is not valid JSON: a \\u escape names half of a "
                                        "surrogate pair, which is not a character"),
    Case("data not an object", BODY.replace(b'"data": {', b'"data": [{').replace(b"}}", b"}]}"),
         400, "invalid_field", field="data"),
]


def send(client, case: Case):
    headers = canary_headers(case.body, case.secret)
    for name, value in case.headers.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    return client.post("/webhooks/canary", data=case.tamper or case.body, headers=headers)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_callback(client, engine, frozen_clock, case):
    events, _ = check_callback(send(client, case), engine, case, "canary",
                               lambda: [json.loads(case.body)], sent=case.body)
    if case.status == 200:
        (stored,) = events
        assert stored["vendor_event_id"] == json.loads(case.body)["id"]
        if not case.code.startswith("message."):
            assert stored["status"] is None and as_json(stored["data"])["status"] is None


@pytest.fixture
def toronto(monkeypatch):
    monkeypatch.setenv("TZ", "America/Toronto")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("case", [NAIVE, PAST_9999], ids=lambda c: c.label)
def test_times_read_the_same_on_a_machine_in_another_zone(toronto, client, engine,
                                                          frozen_clock, case):
    # CI runs the tables under TZ=America/Toronto too; this keeps the cases honest here.
    test_callback(client, engine, frozen_clock, case)


def test_signature_vector():
    vector = sample_json("canary-signature-vector.json")
    body = sample_bytes(vector["body_file"])
    assert canary.sign(vector["secret"], body) == vector["X-Canary-Signature"]
    assert canary_headers(body, vector["secret"])[canary.SIGNATURE] == vector["X-Canary-Signature"]


def test_event_shape(client, frozen_clock):
    answer = client.post("/webhooks/canary", data=BODY, headers=canary_headers(BODY, SECRET))
    (event_id,) = answer.get_json()["event_ids"]
    shown = load_event(client.application.extensions["switchboard"].engine, event_id)
    assert shown == {
        "id": event_id, "type": "message.delivered", "vendor": "canary",
        "vendor_event_id": "evt_1234567890",
        "occurred_at": "2024-01-01T12:00:00Z", "received_at": "2026-11-22T05:00:00Z",
        "sequence": 1,  # the first event stored for its message
        "data": {"message_id": "msg_abc123", "direction": "outbound",
                 "status": "delivered", "vendor_status": "delivered", "from": None,
                 "to": "+15551234567", "text": None, "parts": None, "error_code": None,
                 "country": None,
                 "reason": None, "permanent": None,
                 "account_id": None},
        "raw": json.loads(BODY),
    }


def test_duplicate_is_200_and_stores_nothing_new(client, engine, frozen_clock):
    headers = canary_headers(BODY, SECRET)
    first = client.post("/webhooks/canary", data=BODY, headers=headers).get_json()
    assert first["status"] == "accepted"
    # Canary retries the same signed body an hour later: same `created`, same signature.
    frozen_clock.advance(3600)
    again = client.post("/webhooks/canary", data=BODY, headers=headers)
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate", "event_ids": first["event_ids"]}
    assert len(rows(engine, "SELECT id FROM events")) == 1
    assert len(rows(engine, "SELECT id FROM receipts")) == 1


def test_unconfigured_provider_is_404(database_url, frozen_clock):
    from switchboard.app import create_app
    from switchboard.config import Settings

    # HonkIO configured, Canary not: Canary's callbacks are not accepted at all.
    app = create_app(settings=Settings(database_url=database_url,
                                       vendor_secrets={"honkio": SECRETS["honkio"]}))
    answer = app.test_client().post("/webhooks/canary", data=BODY,
                                    headers=canary_headers(BODY, SECRET))
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "unknown_vendor"
    assert rows(app.extensions["switchboard"].engine, "SELECT id FROM receipts") == []
    app.extensions["switchboard"].engine.dispose()


def test_body_over_limit_is_413(client, engine, frozen_clock):
    big = body_with(padding="x" * 300_000)
    answer = client.post("/webhooks/canary", data=big, headers=canary_headers(big, SECRET))
    assert answer.status_code == 413
    assert answer.get_json()["error"]["code"] == "payload_too_large"
    assert rows(engine, "SELECT id FROM receipts") == []


def test_status_map_holds_only_the_documented_values():
    """The table above drives the requests; this keeps the module from mapping a value the
    documentation does not (an undocumented value must arrive as `unknown`)."""
    assert canary.STATUS_MAP == {s.lower(): n for s, n in DOCUMENTED.items()}


@pytest.mark.parametrize("type_", ["message.delivered", "message.sent", "email.opened"])
def test_sample_is_accepted(client, engine, frozen_clock, type_):
    sample, stored = send_sample(client, engine, canary.vendor, type_, frozen_clock(),
                                 SECRETS["canary"])
    assert (sample.method, sample.path) == ("POST", "/webhooks/canary")  # signed as it signs
    assert [e["type"] for e in stored] == [type_]


def test_a_receipt_refused_for_its_created_says_so_when_parsed_again(client, engine, settings,
                                                                    frozen_clock):
    # Renormalizing parses the stored body without the proof, which read `created` first.
    body = body_with(created="soon")
    answer = client.post("/webhooks/canary", data=body, headers=canary_headers(body, SECRET))
    assert answer.status_code == 400
    result = replay(engine, settings, ReplayRequest(filter=check_filter({"vendor": "canary"}),
                                                    renormalize=True), frozen_clock())
    assert result.renormalized["still_failing"] == 1
    (receipt,) = rows(engine, "SELECT error FROM receipts")
    assert receipt["error"] == "invalid_field: field 'created' must be Unix seconds"


def test_failure_shape(client, engine, frozen_clock):
    """What a subscriber gets of a failure whose code Canary's list does not explain."""
    body = body_with("failed", error_code="30003")
    answer = client.post("/webhooks/canary", data=body, headers=canary_headers(body, SECRET))
    (event_id,) = answer.get_json()["event_ids"]
    assert load_event(engine, event_id)["data"] == {
        "message_id": "msg_abc123", "direction": "outbound", "status": "failed",
        "vendor_status": "failed", "from": None, "to": "+15551234567", "text": None,
        "parts": None, "error_code": "30003", "country": None, "reason": "unknown",
        "permanent": None, "account_id": None}
