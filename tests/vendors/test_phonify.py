"""Phonify: one table of pushed message objects (one or a list) behind the URL token, and
what each becomes. The poller is tested in tests/test_poll_phonify.py."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest

from switchboard.app import create_app
from switchboard.operations.replay import ReplayRequest, check_filter, replay
from switchboard.vendors import phonify
from tests.conftest import SECRETS, load_event, rows
from tests.signing import sample_bytes, sample_json
from tests.vendors.webhook_cases import check_callback, send_sample

TOKEN, NEW_TOKEN = SECRETS["phonify"]
SENT = "phonify-message-sent.json"


def message(drop: str | None = None, **fields) -> dict:
    payload = sample_json(SENT) | fields
    if drop:
        del payload[drop]
    return payload


def body_with(drop: str | None = None, **fields) -> bytes:
    return json.dumps(message(drop, **fields)).encode()


INBOUND = {"direction": "inbound", "to": "+34911000000",
           "origin": {"number": "34600000000", "country": "ES", "carrier": "Movistar"}}
# The number the sample was sent from is one we rent: SWITCHBOARD_PHONIFY_NUMBERS.
OURS = ("+34911000000",)
CUSTOMER = {"number": "+34600000000", "country": "ES", "carrier": "Movistar"}
# A customer's SMS to us as Phonify lists it: the same object as a sent one, no direction.
# The docs do not say whose `phone` is then; both readings are below.
RECEIVED = {"id": "5f1c2b0d11", "body": "STOP", "to": "+34911000000", "origin": CUSTOMER,
            "phone": CUSTOMER, "state": "sent", "created_at": "2026-11-22T04:58:30Z"}
RECEIVED_DATA = {"direction": "inbound", "status": None, "from": "+34600000000",
                 "to": "+34911000000", "text": "STOP"}
# Relative to tests/conftest.py FROZEN_AT (2026-11-22T05:00:00Z): 90 s before it.
BEFORE = 1795323510
BEFORE_ISO = "2026-11-22T04:58:30Z"


def received(**fields) -> bytes:
    return json.dumps(RECEIVED | fields).encode()


@dataclass
class Case:
    label: str
    body: bytes
    status: int
    code: str | None = None  # error code, or the stored event type(s) when 200
    token: str | None = TOKEN  # None: no token in the URL at all
    configured: bool = True  # False: the app has no Phonify tokens at all
    field: str | None = None
    vendor_status: str | None = None
    normalised: str | None = None
    numbers: tuple[str, ...] = OURS  # SWITCHBOARD_PHONIFY_NUMBERS of the app
    data: dict[str, Any] | None = None  # expected in the (first) event's data
    occurred_at: str | None = None  # expected occurred_at of the (first) event
    message: str | None = None  # the error's message, which tells the provider what to fix


# Copied from ../shared/vendors/CALLBACKS.md, "Phonify", states: vendor value -> ours.
# Written out here, not read from phonify.STATUS_MAP, so a wrong mapping fails.
DOCUMENTED = {"unconfirmed": "accepted", "sent": "sent", "error": "failed"}

CASES = [
    # every documented state, and one it does not know
    *[Case(f"state {s}", body_with(state=s), 200, f"message.{n}", vendor_status=s,
           normalised=n) for s, n in DOCUMENTED.items()],
    Case("unmapped state", body_with(state="queued"), 200, "message.unknown",
         vendor_status="queued", normalised="unknown"),
    Case("sample as documented", sample_bytes(SENT), 200, "message.sent", vendor_status="sent",
         normalised="sent"),
    Case("without created_at", body_with(drop="created_at"), 200, "message.sent",
         vendor_status="sent", normalised="sent"),
    # inbound
    Case("inbound by direction", body_with(**INBOUND), 200, "message.received"),
    Case("inbound by state", body_with(state="received"), 200, "message.received"),
    # inbound by our number: what Phonify itself lists, no direction anywhere
    Case("received: to our number", received(), 200, "message.received", data=RECEIVED_DATA,
         occurred_at=BEFORE_ISO),
    # the dedup key must fit its 200-character column beside the longest id (PostgreSQL)
    Case("received with an id of 200 characters", received(id="i" * 200), 200,
         "message.received", data=RECEIVED_DATA),
    Case("received: phone is ours", received(phone={"number": "+34911000000", "country": "ES",
                                                     "carrier": None}),
         200, "message.received", data=RECEIVED_DATA),
    Case("received: to our number without +", received(to="34911000000"), 200,
         "message.received", data=RECEIVED_DATA),
    Case("received: to our number written nationally", received(to="911 00 00 00"), 200,
         "message.received", data=RECEIVED_DATA),
    # origin is an object with a number; a relay may send the bare number
    Case("received: origin a bare number", received(origin="34600000000"), 200,
         "message.received", data=RECEIVED_DATA),
    Case("received: origin's number not a number", received(origin=CUSTOMER | {"number": True}),
         200, "message.received", data=RECEIVED_DATA | {"from": None}),
    # data.country is the other party's: for a message to us, the sender's
    Case("received from abroad", received(origin={"number": "+33612345678", "country": "FR"}),
         200, "message.received", data=RECEIVED_DATA | {"from": "+33612345678",
                                                        "country": "FR"}),
    Case("received: unconfirmed", received(state="unconfirmed"), 200, "message.received",
         data=RECEIVED_DATA | {"vendor_status": "unconfirmed"}),
    Case("two received in one list", json.dumps([RECEIVED, RECEIVED | {"id": "5f1c2b0d12"}])
         .encode(), 200, "message.received,message.received"),
    Case("received among sent in one list", json.dumps([message(), RECEIVED]).encode(), 200,
         "message.sent,message.received"),
    Case("sent to a customer from our number", sample_bytes(SENT), 200, "message.sent",
         vendor_status="sent", normalised="sent", data={"from": "+34911000000",
                                                         "to": "+34600000000"}),
    Case("sent to a number that is not ours", received(to="+34911000001"), 200,
         "message.sent", vendor_status="sent", normalised="sent"),
    Case("relay's direction without our numbers", body_with(**INBOUND), 200,
         "message.received", numbers=(), data={"direction": "inbound"}),
    # the words a relay uses for a message to us, in any case
    *[Case(f"relay's direction {word}", body_with(**INBOUND | {"direction": word}), 200,
           "message.received", numbers=(), data={"direction": "inbound"})
      for word in ("received", "incoming", "MO", "Inbound")],
    Case("relay's direction outbound", body_with(**INBOUND | {"direction": "outbound"}), 200,
         "message.sent", numbers=(), vendor_status="sent", normalised="sent"),
    # without SWITCHBOARD_PHONIFY_NUMBERS a received SMS cannot be told from a sent one
    Case("received, no numbers configured", received(), 200, "message.sent", numbers=(),
         vendor_status="sent", normalised="sent"),
    # a list of message objects
    Case("a list of two", json.dumps([message(), message(id="5f1c2a9e7c", state="error")])
         .encode(), 200, "message.sent,message.failed"),
    Case("a list of one", json.dumps([message()]).encode(), 200, "message.sent"),
    # proof
    Case("missing token", sample_bytes(SENT), 401, "invalid_token", token=None),
    Case("wrong token", sample_bytes(SENT), 401, "invalid_token", token="ph-token-x"),
    Case("token of another provider", sample_bytes(SENT), 401, "invalid_token",
         token=SECRETS["boomware"][0]),
    Case("new token during rotation", sample_bytes(SENT), 200, "message.sent",
         token=NEW_TOKEN),
    Case("provider not configured", sample_bytes(SENT), 404, "unknown_vendor",
         configured=False),
    # body
    Case("malformed JSON", b'{"id": "5f1c", ', 400, "malformed_json"),
    Case("an empty list", b"[]", 400, "invalid_field",
         message="body is an empty list of messages"),
    Case("a string", b'"sent"', 400, "invalid_field"),
    Case("a list holding a string", b'["sent"]', 400, "invalid_field", field="[0]",
         message="[0] must be an object"),
    *[Case(f"missing {name}", body_with(drop=name), 400, "missing_field", field=name)
      for name in ("id", "state")],
    Case("second of a list missing state", json.dumps([message(), message(drop="state")])
         .encode(), 400, "missing_field", field="[1].state"),
    # created_at is typed only "timestamp": ISO 8601, or Unix seconds or milliseconds
    Case("created_at ISO 8601 with an offset", received(created_at="2026-11-22T05:58:30+01:00"),
         200, "message.received", occurred_at=BEFORE_ISO),
    Case("created_at Unix seconds", received(created_at=BEFORE), 200, "message.received",
         occurred_at=BEFORE_ISO),
    Case("created_at Unix seconds as a string", received(created_at=str(BEFORE)), 200,
         "message.received", occurred_at=BEFORE_ISO),
    Case("created_at Unix seconds with a fraction", received(created_at=BEFORE + 0.25), 200,
         "message.received", occurred_at="2026-11-22T04:58:30.250Z"),
    Case("created_at Unix milliseconds", received(created_at=BEFORE * 1000 + 250), 200,
         "message.received", occurred_at="2026-11-22T04:58:30.250Z"),
    Case("created_at Unix milliseconds as a string", received(created_at=f"{BEFORE}250"),
         200, "message.received", occurred_at="2026-11-22T04:58:30.250Z"),
    # the rule: up to 10**11 is seconds (10**11 s is the year 5138), above it milliseconds
    Case("created_at 10**11 is seconds", received(created_at=10**11), 200,
         "message.received", occurred_at="5138-11-16T09:46:40Z"),
    Case("created_at 10**11 + 1 is milliseconds", received(created_at=10**11 + 1), 200,
         "message.received", occurred_at="1973-03-03T09:46:40.001Z"),
    Case("created_at not a time", body_with(created_at="soon"), 400, "invalid_field",
         field="created_at", message="field 'created_at' is not an ISO 8601 time, or Unix "
                                     "seconds or milliseconds"),
    Case("created_at empty", body_with(created_at=""), 200, "message.sent"),
    Case("created_at true", body_with(created_at=True), 400, "invalid_field",
         field="created_at", message="field 'created_at' must be an ISO 8601 time, or Unix "
                                     "seconds or milliseconds"),
    Case("created_at an object", body_with(created_at={"seconds": BEFORE}), 400,
         "invalid_field", field="created_at"),
    Case("created_at 1e400 as a string", body_with(created_at="1e400"), 400, "invalid_field",
         field="created_at"),
    Case("created_at 5,000 digits as a string", body_with(created_at="1" * 5000), 400,
         "invalid_field", field="created_at"),
    Case("created_at 4,000 digits as a number", body_with(created_at=int("1" * 4000)), 400,
         "invalid_field", field="created_at"),
    Case("created_at milliseconds past year 9999", body_with(created_at=253402300800000), 400,
         "invalid_field", field="created_at"),
    Case("created_at superscript digits", body_with(created_at="\u00b2"), 400,
         "invalid_field", field="created_at"),
    Case("second of a list with created_at in 21 digits",
         json.dumps([message(), message(created_at="9" * 21)]).encode(), 400, "invalid_field",
         field="[1].created_at"),
    # past what Python reads as an int: the body is refused as a whole, still a 400
    Case("created_at 5,000 digits as a number",
         body_with(created_at=0).replace(b'"created_at": 0', b'"created_at": ' + b"1" * 5000),
         400, "malformed_json"),
    Case("created_at past year 9999 in UTC", body_with(created_at="9999-12-31T23:30:00-01:00"),
         400, "invalid_field", field="created_at", message="field 'created_at' is out of range"),
    # what the id columns cannot hold is the caller's 400, not our 503
    Case("id of 201 characters", body_with(id="p" * 201), 400, "invalid_field", field="id"),
    # the hashed dedup key fits its 200-character column beside the longest id (PostgreSQL)
    Case("id of 200 characters", body_with(id="p" * 200), 200, "message.sent"),
    Case("id holding a NUL", json.dumps([message(), message(id="p\x00")]).encode(), 400,
         "invalid_field", field="[1].id"),
]


def send(client, case: Case):
    path = "/webhooks/phonify" + (f"/{case.token}" if case.token is not None else "")
    return client.post(path, data=case.body,
                       headers={"Content-Type": "application/json"})


@pytest.fixture
def client_with(settings):
    """`client_with(phonify_numbers=...)`: a client for an app with changed settings."""
    made = []

    def build(**changes):
        app = create_app(settings=dataclasses.replace(settings, **changes))
        made.append(app)
        return app.test_client()

    yield build
    for app in made:
        app.extensions["switchboard"].engine.dispose()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_callback(client_with, client_without, engine, frozen_clock, case):
    client = client_with(phonify_numbers=case.numbers)
    answer = send(client if case.configured else client_without("phonify"), case)
    check_callback(answer, engine, case, "phonify", lambda: listed(json.loads(case.body)),
                   sent=case.body)


def listed(body):
    return body if isinstance(body, list) else [body]


def test_event_shape(client, frozen_clock):
    answer = client.post(f"/webhooks/phonify/{TOKEN}", data=sample_bytes(SENT),
                         headers={"Content-Type": "application/json"})
    (event_id,) = answer.get_json()["event_ids"]
    shown = load_event(client.application.extensions["switchboard"].engine, event_id)
    assert shown == {
        "id": event_id, "type": "message.sent", "vendor": "phonify", "vendor_event_id": None,
        "occurred_at": "2024-01-15T12:00:00Z", "received_at": "2026-11-22T05:00:00Z",
        "sequence": 1,  # the first event stored for its message
        "data": {"message_id": "5f1c2a9e7b", "direction": "outbound", "status": "sent",
                 "vendor_status": "sent", "from": "+34911000000", "to": "+34600000000",
                 "text": "Your order #29211 received", "parts": None, "error_code": None,
                 "country": "ES",
                 "reason": None, "permanent": None,
                 "account_id": None},
        "raw": sample_json(SENT),
    }


def test_inbound_shape(client, engine, frozen_clock):
    answer = client.post(f"/webhooks/phonify/{TOKEN}", data=body_with(**INBOUND),
                         headers={"Content-Type": "application/json"})
    (event_id,) = answer.get_json()["event_ids"]
    data = load_event(engine, event_id)["data"]
    assert (data["direction"], data["from"], data["to"]) == ("inbound", "+34600000000",
                                                            "+34911000000")
    assert data["status"] is None
    # An inbound message's later state changes are not a second message.received.
    again = client.post(f"/webhooks/phonify/{TOKEN}", data=body_with(**INBOUND, state="error"),
                        headers={"Content-Type": "application/json"})
    assert again.get_json() == {"status": "duplicate", "event_ids": [event_id]}


def test_duplicate_is_200_and_stores_nothing_new(client, engine, frozen_clock):
    first = send(client, Case("first", sample_bytes(SENT), 200)).get_json()
    again = send(client, Case("again", sample_bytes(SENT), 200))
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate", "event_ids": first["event_ids"]}
    assert len(rows(engine, "SELECT id FROM events")) == 1
    assert len(rows(engine, "SELECT id FROM receipts")) == 1


def test_list_with_one_new_message_is_accepted(client, engine, frozen_clock):
    first = send(client, Case("first", sample_bytes(SENT), 200)).get_json()
    both = json.dumps([message(), message(state="error")]).encode()
    answer = send(client, Case("both", both, 200)).get_json()
    assert answer["status"] == "accepted"
    assert answer["event_ids"][0] == first["event_ids"][0]
    (status,) = rows(engine, "SELECT status FROM message_status")
    assert status["status"] == "failed"


@pytest.mark.parametrize(("states", "final", "dispositions"), [
    (("sent", "error"), "failed", ["fanout", "fanout"]),
    (("error", "sent"), "failed", ["fanout", "superseded"]),
])
def test_one_list_moving_one_message_twice(client, engine, frozen_clock, states, final,
                                           dispositions):
    # The first receipt creates the message's status row and the second, in the same
    # transaction (on PostgreSQL a statement of its own), finds it and moves it or not.
    body = json.dumps([message(state=state) for state in states]).encode()
    answer = send(client, Case("both", body, 200)).get_json()
    assert answer["status"] == "accepted"
    assert len(answer["event_ids"]) == 2
    (status,) = rows(engine, "SELECT status, event_id FROM message_status")
    assert status["status"] == final
    stored = {r["id"]: r["disposition"] for r in rows(engine, "SELECT id, disposition FROM events")}
    assert [stored[event_id] for event_id in answer["event_ids"]] == dispositions
    assert status["event_id"] == answer["event_ids"][states.index("error")]
    assert len(rows(engine, "SELECT id FROM receipts")) == 1


@pytest.mark.parametrize("type_", ["message.sent", "message.accepted", "message.failed",
                                   "message.received"])
def test_sample_is_accepted(client, engine, frozen_clock, type_):
    sample, stored = send_sample(client, engine, phonify.vendor, type_, frozen_clock(),
                                 SECRETS["phonify"])
    assert sample.path == f"/webhooks/phonify/{TOKEN}"
    assert [e["type"] for e in stored] == [type_]
    # A relay POSTs one message object: nothing in the query string.
    (receipt,) = rows(engine, "SELECT query_string FROM receipts")
    assert receipt["query_string"] is None


def test_status_map_holds_only_the_documented_values():
    """The table above drives the requests; this keeps the module from mapping a value the
    documentation does not (an undocumented value must arrive as `unknown`)."""
    assert phonify.STATUS_MAP == {s.lower(): n for s, n in DOCUMENTED.items()}


def test_renormalize_reads_direction_with_the_same_numbers(client_with, engine, settings,
                                                           frozen_clock):
    numbered = dataclasses.replace(settings, phonify_numbers=OURS)
    answer = client_with(phonify_numbers=OURS).post(
        f"/webhooks/phonify/{TOKEN}", data=received(),
        headers={"Content-Type": "application/json"})
    assert answer.get_json()["status"] == "accepted"
    result = replay(engine, numbered, ReplayRequest(filter=check_filter({"vendor": "phonify"}),
                                                    renormalize=True), frozen_clock())
    # Parsed again with the same numbers it is the same message.received, not a message.sent.
    assert (result.renormalized["unchanged"], result.renormalized["changed_count"],
            result.renormalized["created"]) == (1, 0, 0)
    assert [r["type"] for r in rows(engine, "SELECT type FROM events")] == ["message.received"]


def test_received_stored_as_sent_before_the_numbers_were_set(client_with, engine,
                                                             frozen_clock):
    """What SWITCHBOARD_PHONIFY_NUMBERS does to messages stored without it: the outbound
    reading's key has the state in it, the inbound one `received`, so the same message sent
    again after the setting is a new message.received rather than a duplicate swallowed under
    the old reading; the old message.sent stays as it was stored."""
    path = f"/webhooks/phonify/{TOKEN}"
    headers = {"Content-Type": "application/json"}
    before = client_with(phonify_numbers=()).post(path, data=received(), headers=headers)
    assert before.get_json()["status"] == "accepted"
    after = client_with(phonify_numbers=OURS).post(path, data=received(), headers=headers)
    assert after.get_json()["status"] == "accepted"
    again = client_with(phonify_numbers=OURS).post(path, data=received(state="error"),
                                                   headers=headers)
    assert again.get_json() == {"status": "duplicate", "event_ids": after.get_json()["event_ids"]}
    stored = rows(engine, "SELECT type FROM events ORDER BY id")
    assert [r["type"] for r in stored] == ["message.sent", "message.received"]


def test_renormalize_after_the_numbers_were_set_adds_the_received(client_with, engine,
                                                                  settings, frozen_clock):
    answer = client_with(phonify_numbers=()).post(
        f"/webhooks/phonify/{TOKEN}", data=received(), headers={"Content-Type":
                                                                "application/json"})
    (sent_id,) = answer.get_json()["event_ids"]
    result = replay(engine, dataclasses.replace(settings, phonify_numbers=OURS),
                    ReplayRequest(filter=check_filter({"vendor": "phonify"}), renormalize=True),
                    frozen_clock())
    # A new reading has a new dedup key: a new event, and the old one is left as it was.
    assert (result.renormalized["created"], result.renormalized["changed_count"]) == (1, 0)
    stored = rows(engine, "SELECT id, type FROM events ORDER BY id")
    assert [(r["id"] == sent_id, r["type"]) for r in stored] == [
        (True, "message.sent"), (False, "message.received")]
