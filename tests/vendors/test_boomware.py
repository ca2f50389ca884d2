"""Boomware: one table of callbacks behind the URL token, and what each becomes."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from switchboard.vendors import boomware
from tests.conftest import SECRETS, load_event, rows
from tests.signing import sample_bytes, sample_json
from tests.vendors.webhook_cases import check_callback, send_sample

TOKEN, NEW_TOKEN = SECRETS["boomware"]
DLR = "boomware-dlr-delivered.json"
CALL = "boomware-call-answered.json"
INBOUND = "boomware-inbound.json"
WRONG_TOKEN = "the URL token is missing or wrong"
OUT_OF_RANGE = "field 'timestamp' is out of range"


def body_with(sample: str, drop: str | None = None, **fields) -> bytes:
    payload = sample_json(sample)
    payload.update(fields)
    if drop:
        del payload[drop]
    return json.dumps(payload).encode()


@dataclass
class Case:
    label: str
    body: bytes
    status: int
    code: str | None = None  # error code, or the stored event type when 200
    token: str | None = TOKEN
    field: str | None = None
    vendor_status: str | None = None
    normalised: str | None = None
    configured: bool = True  # False: the app has no Boomware tokens at all
    data: dict | None = None  # expected in the event's data
    message: str | None = None  # the error's message, which tells the provider what to fix
    occurred_at: str | None = None  # as subscribers see it


# Copied from ../shared/vendors/CALLBACKS.md, "Boomware", delivery receipt statuses:
# vendor value -> ours. Written out here, not read from boomware.STATUS_MAP, so a wrong
# mapping fails.
DOCUMENTED = {
    "SENT": "sent", "DELIVERED": "delivered", "UNDELIVERED": "undelivered",
    "REJECTED": "rejected",
}

CASES = [
    # every documented DLR status, and one it does not know
    *[Case(f"DLR {s}", body_with(DLR, status=s), 200, f"message.{n}", vendor_status=s,
           normalised=n) for s, n in DOCUMENTED.items()],
    Case("DLR unmapped status", body_with(DLR, status="BUFFERED"), 200, "message.unknown",
         vendor_status="BUFFERED", normalised="unknown"),
    Case("DLR as documented", sample_bytes(DLR), 200, "message.delivered",
         vendor_status="DELIVERED", normalised="delivered", occurred_at="2022-07-01T09:06:04Z",
         data={"message_id": "wp9RPWDGZkskBrVeTc4lgNCc4e79fc65", "to": "+37200911211",
               "mccmnc": "282002"}),
    # a receipt is told by its requestId, whatever else it carries
    Case("DLR that also names a messageId", body_with(DLR, messageId="m-1"), 200,
         "message.delivered", vendor_status="DELIVERED", normalised="delivered",
         data={"message_id": "wp9RPWDGZkskBrVeTc4lgNCc4e79fc65"}),
    Case("DLR with a numeric requestId", body_with(DLR, requestId=123), 200,
         "message.delivered", vendor_status="DELIVERED", normalised="delivered",
         data={"message_id": "123"}),
    # call status callbacks: the type carries the status
    Case("call as documented", sample_bytes(CALL), 200, "call.answered"),
    *[Case(f"call {s}", body_with(CALL, status=s), 200, t)
      for s, t in (("BUSY", "call.busy"), ("NO ANSWER", "call.no_answer"),
                   ("FAILED", "call.failed"), ("COMPLETED", "call.completed"))],
    Case("call status without a letter or digit", body_with(CALL, status="--"), 200,
         "call.unknown"),
    Case("call with only sipStatus", body_with(DLR, status="RINGING", sipStatus=180), 200,
         "call.ringing"),
    # inbound SMS
    Case("inbound as documented", sample_bytes(INBOUND), 200, "message.received"),
    Case("inbound without text", body_with(INBOUND, drop="text"), 200, "message.received"),
    Case("timestamp as a string", body_with(DLR, timestamp="1656666364"), 200,
         "message.delivered"),
    Case("timestamp with a fraction of a second", body_with(DLR, timestamp=1656666364.5), 200,
         "message.delivered", occurred_at="2022-07-01T09:06:04.500Z"),
    # proof
    Case("missing token", sample_bytes(DLR), 401, "invalid_token", token=None,
         message="boomware callbacks go to /webhooks/boomware/<token>"),
    Case("wrong token", sample_bytes(DLR), 401, "invalid_token", token="bw-token-x",
         message=WRONG_TOKEN),
    Case("token of bytes that are not UTF-8", sample_bytes(DLR), 401, "invalid_token",
         token="%FF%FE"),
    Case("token of another provider", sample_bytes(DLR), 401, "invalid_token",
         token=SECRETS["transmitsms"][0]),
    Case("old token during rotation", sample_bytes(DLR), 200, "message.delivered", token=TOKEN),
    Case("new token during rotation", sample_bytes(DLR), 200, "message.delivered",
         token=NEW_TOKEN),
    Case("provider not configured", sample_bytes(DLR), 404, "unknown_vendor",
         configured=False),
    # body
    Case("malformed JSON", b'{"requestId": "wp9", ', 400, "malformed_json"),
    Case("body is a list", b"[1, 2]", 400, "invalid_field", message="body must be an object"),
    *[Case(f"DLR missing {name}", body_with(DLR, drop=name), 400, "missing_field", field=name,
           message=f"required field '{name}' is missing")
      for name in ("requestId", "status", "timestamp")],
    *[Case(f"call missing {name}", body_with(CALL, drop=name), 400, "missing_field",
           field=name) for name in ("requestId", "status", "timestamp")],
    *[Case(f"inbound missing {name}", body_with(INBOUND, drop=name), 400, "missing_field",
           field=name) for name in ("messageId", "from", "timestamp")],
    Case("DLR with an empty status", body_with(DLR, status=""), 400, "missing_field",
         field="status"),
    Case("timestamp not a time", body_with(DLR, timestamp="yesterday"), 400, "invalid_field",
         field="timestamp", message="field 'timestamp' must be Unix seconds"),
    *[Case(f"{name} timestamp not a time", body_with(sample, timestamp="yesterday"), 400,
           "invalid_field", field="timestamp", message="field 'timestamp' must be Unix seconds")
      for name, sample in (("call", CALL), ("inbound", INBOUND))],
    Case("timestamp true", body_with(DLR, timestamp=True), 400, "invalid_field",
         field="timestamp", message="field 'timestamp' has the wrong type"),
    Case("requestId true", body_with(DLR, requestId=True), 400, "invalid_field",
         field="requestId"),
    Case("timestamp past year 9999", body_with(DLR, timestamp=10**13), 400, "invalid_field",
         field="timestamp", message=OUT_OF_RANGE),
    # int() refuses a string of over 4,300 digits, and "²" is a digit it cannot read
    Case("timestamp of 5,000 digits as a string", body_with(DLR, timestamp="1" * 5000), 400,
         "invalid_field", field="timestamp", message=OUT_OF_RANGE),
    Case("timestamp a superscript digit", body_with(DLR, timestamp="\u00b2"), 400,
         "invalid_field", field="timestamp"),
    # what the id and type columns cannot hold is the caller's 400, not our 503
    Case("requestId of 201 characters", body_with(DLR, requestId="r" * 201), 400,
         "invalid_field", field="requestId",
         message="field 'requestId' is longer than 200 characters or holds a NUL"),
    Case("requestId of 200 characters", body_with(DLR, requestId="r" * 200), 200,
         "message.delivered"),
    Case("messageId holding a NUL", body_with(INBOUND, messageId="a\x00b"), 400,
         "invalid_field", field="messageId"),
    Case("call status as long as a type holds", body_with(CALL, status="A" * 59), 200,
         "call." + "a" * 59),
    Case("call status too long for a type", body_with(CALL, status="A" * 60), 400,
         "invalid_field", field="status"),
    Case("call requestId of 201 characters", body_with(CALL, requestId="r" * 201), 400,
         "invalid_field", field="requestId"),
    # the hashed dedup key fits its 200-character column beside the longest id (PostgreSQL)
    Case("call requestId of 200 characters", body_with(CALL, requestId="r" * 200), 200,
         "call.answered"),
    Case("inbound messageId of 200 characters", body_with(INBOUND, messageId="m" * 200), 200,
         "message.received"),
]


def send(client, case: Case):
    path = "/webhooks/boomware" + (f"/{case.token}" if case.token is not None else "")
    return client.post(path, data=case.body,
                       headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_callback(client, client_without, engine, frozen_clock, case):
    answer = send(client if case.configured else client_without("boomware"), case)
    check_callback(answer, engine, case, "boomware", lambda: [json.loads(case.body)],
                   sent=case.body)


def test_inbound_shape(client, frozen_clock):
    answer = client.post(f"/webhooks/boomware/{TOKEN}", data=sample_bytes(INBOUND),
                         headers={"Content-Type": "application/json"})
    (event_id,) = answer.get_json()["event_ids"]
    shown = load_event(client.application.extensions["switchboard"].engine, event_id)
    assert shown == {
        "id": event_id, "type": "message.received", "vendor": "boomware",
        "vendor_event_id": None,
        "occurred_at": "2020-01-12T00:00:00Z", "received_at": "2026-11-22T05:00:00Z",
        "sequence": 1,  # the first event stored for its message
        "data": {"message_id": "fffeee-qqdqqq-gfrgrgr-vvvvvvv", "direction": "inbound",
                 "status": None, "vendor_status": None, "from": "+447700900001",
                 "to": "+447700900000", "text": "Hello world", "parts": 1, "error_code": None,
                 "country": None,
                 "reason": None, "permanent": None,
                 "account_id": None},
        "raw": sample_json(INBOUND),
    }


def test_call_shape(client, engine, frozen_clock):
    answer = client.post(f"/webhooks/boomware/{TOKEN}", data=sample_bytes(CALL),
                         headers={"Content-Type": "application/json"})
    (event_id,) = answer.get_json()["event_ids"]
    shown = load_event(engine, event_id)
    assert shown["type"] == "call.answered"
    assert shown["occurred_at"] == "2022-07-01T09:06:04Z"
    assert shown["data"]["message_id"] == "wp9RPWDGZkskBrVeTc4lgNCc4e79fc65"
    assert shown["data"]["vendor_status"] == "ANSWERED"
    assert shown["data"]["status"] is None  # a call status is not a message status
    assert shown["data"]["to"] == "+37200911211"
    assert shown["data"]["direction"] == "outbound"
    assert (shown["data"]["sip_status"], shown["data"]["duration"],
            shown["data"]["billable"]) == (200, 17, True)
    # Calls stay out of the message status projection.
    assert rows(engine, "SELECT * FROM message_status") == []


@pytest.mark.parametrize("sample", [DLR, CALL, INBOUND])
def test_resend_is_200_duplicate(client, engine, frozen_clock, sample):
    # Boomware resends an inbound SMS for 24 hours until it gets a 2xx.
    first = client.post(f"/webhooks/boomware/{TOKEN}", data=sample_bytes(sample),
                        headers={"Content-Type": "application/json"}).get_json()
    frozen_clock.advance(3600)
    again = client.post(f"/webhooks/boomware/{NEW_TOKEN}", data=sample_bytes(sample),
                        headers={"Content-Type": "application/json"})
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate", "event_ids": first["event_ids"]}
    assert len(rows(engine, "SELECT id FROM events")) == 1
    assert len(rows(engine, "SELECT id FROM receipts")) == 1


@pytest.mark.parametrize(("sample", "changes"), [
    # DLRs and call statuses have no id of their own: in one second, another status of the
    # same request, or the same status of another request, is news
    (DLR, {"status": "SENT"}), (DLR, {"requestId": "wp9-other"}),
    (CALL, {"status": "BUSY"}), (CALL, {"requestId": "wp9-other"}),
    # two SMS to our number in the same second
    (INBOUND, {"messageId": "fffeee-other"}),
])
def test_another_callback_in_the_same_second_is_stored(client, engine, frozen_clock, sample,
                                                       changes):
    for body in (sample_bytes(sample), body_with(sample, **changes)):
        answer = client.post(f"/webhooks/boomware/{TOKEN}", data=body,
                             headers={"Content-Type": "application/json"})
        assert answer.get_json()["status"] == "accepted"
    assert len(rows(engine, "SELECT id FROM events")) == 2


@pytest.mark.parametrize("sample", [DLR, CALL])
def test_same_status_later_is_a_new_receipt(client, engine, frozen_clock, sample):
    client.post(f"/webhooks/boomware/{TOKEN}", data=sample_bytes(sample),
                headers={"Content-Type": "application/json"})
    later = body_with(sample, timestamp=1656666999)
    answer = client.post(f"/webhooks/boomware/{TOKEN}", data=later,
                         headers={"Content-Type": "application/json"})
    assert answer.get_json()["status"] == "accepted"
    assert len(rows(engine, "SELECT id FROM events")) == 2


@pytest.mark.parametrize("type_", ["message.delivered", "message.sent", "message.received",
                                   "call.answered"])
def test_sample_is_accepted(client, engine, frozen_clock, type_):
    sample, stored = send_sample(client, engine, boomware.vendor, type_, frozen_clock(),
                                 SECRETS["boomware"])
    assert sample.path == f"/webhooks/boomware/{TOKEN}"
    assert [e["type"] for e in stored] == [type_]
    # Boomware POSTs JSON to the bare callback URL: nothing in the query string.
    (receipt,) = rows(engine, "SELECT query_string FROM receipts")
    assert receipt["query_string"] is None


def test_status_map_holds_only_the_documented_values():
    """The table above drives the requests; this keeps the module from mapping a value the
    documentation does not (an undocumented value must arrive as `unknown`)."""
    assert boomware.STATUS_MAP == {s.lower(): n for s, n in DOCUMENTED.items()}
