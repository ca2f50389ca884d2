"""HonkIO: one table of callbacks, signed by the production signer, and what each becomes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from switchboard.vendors import honkio
from tests.conftest import FROZEN_AT, SECRETS, load_event, rows
from tests.signing import honkio_headers, sample_bytes, sample_json
from tests.vendors.webhook_cases import check_callback, send_sample

SECRET, NEW_SECRET = SECRETS["honkio"]
NOW = int(FROZEN_AT.timestamp())


def body_with(status=None, type_=None, drop=None, data_drop=None, event_id=None,
              **data) -> bytes:
    payload = sample_json("honkio-delivered.json")
    if event_id is not None:
        payload["id"] = event_id
    if status is not None:
        payload["data"]["status"] = status
        payload["type"] = type_ or f"message.{status}"
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
    timestamp: int | str = NOW  # X-HonkIO-Timestamp, signed as it is
    tamper: bytes | None = None  # body actually sent, when it differs from what was signed
    field: str | None = None
    vendor_status: str | None = None
    normalised: str | None = None
    data: dict | None = None  # expected in the event's data
    message: str | None = None  # the error's message, which tells the provider what to fix
    occurred_at: str | None = None  # as subscribers see it: the body's `created`


SAMPLE = sample_bytes("honkio-delivered.json")
HEADERS_REQUIRED = "X-HonkIO-Signature and X-HonkIO-Timestamp headers are required"

# Copied from ../shared/vendors/CALLBACKS.md, "HonkIO", status map: vendor value -> ours.
# Written out here, not read from honkio.STATUS_MAP, so a wrong mapping fails.
DOCUMENTED = {
    "queued": "accepted", "accepted": "accepted", "sent": "sent", "delivered": "delivered",
    "failed": "failed", "undelivered": "undelivered", "expired": "expired",
    "rejected": "rejected", "blocked": "rejected",
}

CASES = [
    # every status value in HonkIO's map, and one it does not know
    *[Case(f"status {s}", body_with(s), 200, f"message.{n}", vendor_status=s, normalised=n)
      for s, n in DOCUMENTED.items()],
    Case("unmapped status", body_with("carrier_lost"), 200, "message.unknown",
         vendor_status="carrier_lost", normalised="unknown"),
    Case("data.status says more than the type", body_with("expired", type_="message.failed"),
         200, "message.expired", vendor_status="expired", normalised="expired"),
    Case("sample as documented", SAMPLE, 200, "message.delivered", vendor_status="delivered",
         normalised="delivered"),
    Case("inbound", body_with(type_="message.received", data_drop="status",
                              **{"from": "16135550123", "body": "hi"}), 200, "message.received",
         data={"direction": "inbound", "from": "+16135550123", "text": "hi"},
         occurred_at="2024-01-15T12:00:00Z"),
    # CALLBACKS.md: an inbound message carries its words in `body` or in `text`
    Case("inbound with text, not body",
         body_with(type_="message.received", data_drop="status",
                   **{"from": "16135550123", "text": "hi"}),
         200, "message.received", data={"direction": "inbound", "text": "hi"}),
    Case("inbound in two parts",
         body_with(type_="message.received", data_drop="status",
                   **{"from": "16135550123", "body": "a long hi", "parts": 2}),
         200, "message.received", data={"text": "a long hi", "parts": 2}),
    Case("status taken from the type when absent",
         body_with(type_="message.sent", data_drop="status"), 200, "message.sent",
         vendor_status="sent", normalised="sent"),
    Case("verification event keeps its type", body_with(type_="verification.completed"), 200,
         "verification.completed"),
    Case("verification event keeps its status",
         body_with("verified", type_="verification.completed"), 200, "verification.completed",
         vendor_status="verified", occurred_at="2024-01-15T12:00:00Z",
         data={"status": None, "message_id": "msg_01HXYZ7M8N9P0Q1R2S3T4V5W6X",
               "to": "+16135550199"}),
    Case("blocked carries its 451 code", body_with("blocked", error_code="NO_CONSENT"), 200,
         "message.rejected", vendor_status="blocked", normalised="rejected",
         data={"error_code": "NO_CONSENT"}),
    # HonkIO's own error bodies name it `code` (honkio-api.txt, "Error codes")
    Case("blocked carries its 451 code as code", body_with("blocked", code="DNCL_BLOCKED"), 200,
         "message.rejected", vendor_status="blocked", normalised="rejected",
         data={"error_code": "DNCL_BLOCKED"}),
    # proof
    Case("missing signature", SAMPLE, 401, "missing_signature",
         headers={honkio.SIGNATURE: None}, message=HEADERS_REQUIRED),
    Case("missing timestamp", SAMPLE, 401, "missing_signature",
         headers={honkio.TIMESTAMP: None}, message=HEADERS_REQUIRED),
    Case("wrong signature", SAMPLE, 401, "invalid_signature", headers={honkio.SIGNATURE: "0" * 64}),
    Case("signature of another shape", SAMPLE, 401, "invalid_signature",
         headers={honkio.SIGNATURE: "v1,ünïcode"}),
    Case("signed with an unknown secret", SAMPLE, 401, "invalid_signature", secret="whk_other"),
    Case("body changed after signing", SAMPLE, 401, "invalid_signature",
         tamper=SAMPLE.replace(b"delivered", b"failed")),
    Case("timestamp 301 s old", SAMPLE, 401, "timestamp_out_of_tolerance", timestamp=NOW - 301,
         message="X-HonkIO-Timestamp is more than 300s from now"),
    Case("timestamp 301 s ahead", SAMPLE, 401, "timestamp_out_of_tolerance", timestamp=NOW + 301),
    Case("timestamp 300 s old is fine", SAMPLE, 200, "message.delivered", timestamp=NOW - 300),
    Case("timestamp not a number", SAMPLE, 401, "invalid_signature",
         headers={honkio.TIMESTAMP: "yesterday"}),
    Case("timestamp not a number, signed as sent", SAMPLE, 401, "timestamp_out_of_tolerance",
         timestamp="yesterday", message="X-HonkIO-Timestamp is not Unix seconds"),
    Case("event header differs from type", SAMPLE, 401, "invalid_signature",
         headers={honkio.EVENT: "message.failed"},
         message="X-HonkIO-Event does not match the body's type"),
    Case("old secret during rotation", SAMPLE, 200, "message.delivered", secret=SECRET),
    Case("new secret during rotation", SAMPLE, 200, "message.delivered", secret=NEW_SECRET),
    # body
    Case("malformed JSON", b'{"id": "evt_1", "type": ', 400, "malformed_json",
         headers={honkio.EVENT: "x"}),
    Case("body is a list", b"[1, 2]", 400, "invalid_field"),
    *[Case(f"missing {name}", body_with(drop=name), 400, "missing_field", field=name,
           headers={honkio.EVENT: "message.delivered"})
      for name in ("id", "type", "created", "data")],
    Case("missing data.message_id", body_with(data_drop="message_id"), 400, "missing_field",
         field="data.message_id"),
    Case("id too long for its column", SAMPLE.replace(b"evt_01HXYZ", b"evt_" + b"x" * 200),
         400, "invalid_field", field="id"),
    # the dedup key "honkio:<id>" fills the 200-character column at an id of 193
    Case("id of 193 characters", body_with(event_id="e" * 193), 200, "message.delivered"),
    Case("id of 194 characters", body_with(event_id="e" * 194), 400, "invalid_field",
         field="id"),
    Case("type of 64 characters", body_with(type_="verification." + "x" * 51), 200,
         "verification." + "x" * 51),
    Case("type of 65 characters", body_with(type_="verification." + "x" * 52), 400,
         "invalid_field", field="type"),
    Case("message id holding a NUL", body_with(message_id="msg\u0000x"), 400,
         "invalid_field", field="data.message_id"),
    Case("created not a time", body_with(drop=None).replace(b"2024-01-15T12:00:00Z", b"soon"),
         400, "invalid_field", field="created",
         message="field 'created' is not an ISO 8601 time"),
]


def send(client, case: Case):
    headers = honkio_headers(case.body, case.secret, case.timestamp)
    for name, value in case.headers.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    return client.post("/webhooks/honkio", data=case.tamper or case.body, headers=headers)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_callback(client, engine, frozen_clock, case):
    events, _ = check_callback(send(client, case), engine, case, "honkio",
                               lambda: [json.loads(case.body)], sent=case.body)
    if case.status == 200:
        (stored,) = events
        assert stored["vendor_event_id"] == json.loads(case.body)["id"]


def test_signature_vector():
    vector = sample_json("honkio-signature-vector.json")
    body = sample_bytes(vector["body_file"])
    assert honkio.sign(vector["secret"], vector["timestamp"], body) == vector["X-HonkIO-Signature"]


def test_event_shape(client, frozen_clock):
    headers = honkio_headers(SAMPLE, SECRET, NOW)
    answer = client.post("/webhooks/honkio", data=SAMPLE, headers=headers)
    (event_id,) = answer.get_json()["event_ids"]
    shown = load_event(client.application.extensions["switchboard"].engine, event_id)
    assert shown == {
        "id": event_id, "type": "message.delivered", "vendor": "honkio",
        "vendor_event_id": "evt_01HXYZ9K2M3N4P5Q6R7S8T9V0W",
        "occurred_at": "2024-01-15T12:00:00Z", "received_at": "2026-11-22T05:00:00Z",
        "sequence": 1,  # the first event stored for its message
        "data": {"message_id": "msg_01HXYZ7M8N9P0Q1R2S3T4V5W6X", "direction": "outbound",
                 "status": "delivered", "vendor_status": "delivered", "from": None,
                 "to": "+16135550199", "text": None, "parts": None, "error_code": None,
                 "country": "CA",
                 "reason": None, "permanent": None,
                 "account_id": "acc_01HXYZ4B5C6D7E8F9G0H1J2K3L"},
        "raw": json.loads(SAMPLE),
    }


def test_duplicate_is_200_and_stores_nothing_new(client, engine, frozen_clock):
    headers = honkio_headers(SAMPLE, SECRET, NOW)
    first = client.post("/webhooks/honkio", data=SAMPLE, headers=headers).get_json()
    # HonkIO signs each delivery attempt afresh: a retry has a new timestamp.
    retry_headers = honkio_headers(SAMPLE, SECRET, NOW + 60)
    again = client.post("/webhooks/honkio", data=SAMPLE, headers=retry_headers)
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate", "event_ids": first["event_ids"]}
    assert len(rows(engine, "SELECT id FROM events")) == 1
    assert len(rows(engine, "SELECT id FROM receipts")) == 1


def test_unconfigured_provider_is_404(database_url, frozen_clock):
    from switchboard.app import create_app
    from switchboard.config import Settings

    app = create_app(settings=Settings(database_url=database_url))
    answer = app.test_client().post("/webhooks/honkio", data=SAMPLE,
                                    headers=honkio_headers(SAMPLE, SECRET, NOW))
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "unknown_vendor"
    app.extensions["switchboard"].engine.dispose()


def test_body_over_limit_is_413(client, engine, frozen_clock):
    big = body_with(padding="x" * 300_000)
    answer = client.post("/webhooks/honkio", data=big, headers=honkio_headers(big, SECRET, NOW))
    assert answer.status_code == 413
    assert answer.get_json()["error"]["code"] == "payload_too_large"
    assert rows(engine, "SELECT id FROM receipts") == []


def test_status_map_holds_only_the_documented_values():
    """The table above drives the requests; this keeps the module from mapping a value the
    documentation does not (an undocumented value must arrive as `unknown`)."""
    assert honkio.STATUS_MAP == {s.lower(): n for s, n in DOCUMENTED.items()}


@pytest.mark.parametrize("type_", ["message.delivered", "message.failed", "message.received"])
def test_sample_is_accepted(client, engine, frozen_clock, type_):
    sample, stored = send_sample(client, engine, honkio.vendor, type_, frozen_clock(),
                                 SECRETS["honkio"])
    assert (sample.method, sample.path) == ("POST", "/webhooks/honkio")  # signed as it signs
    assert [e["type"] for e in stored] == [type_]
