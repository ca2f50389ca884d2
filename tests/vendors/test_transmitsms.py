"""Transmit SMS: one table of GET and POST-form callbacks behind the URL token, and what
each becomes."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import pytest

from switchboard.vendors import transmitsms
from tests.conftest import SECRETS, load_event, rows
from tests.signing import sample_bytes
from tests.vendors.webhook_cases import as_json, check_callback, send_sample

TOKEN, NEW_TOKEN = SECRETS["transmitsms"]
DLR = "transmitsms-dlr-delivered.query"
REPLY = "transmitsms-reply.query"
OPTOUT = "transmitsms-reply-optout.query"


def fields_of(sample: str) -> dict[str, str]:
    return dict(parse_qsl(sample_bytes(sample).decode().strip(), keep_blank_values=True))


def query_with(sample: str, drop: str | None = None, **fields) -> str:
    payload = fields_of(sample) | fields
    if drop:
        del payload[drop]
    return urlencode(payload)


@dataclass
class Case:
    label: str
    query: str
    status: int
    code: str | None = None  # error code, or the stored event type(s) when 200
    method: str = "GET"  # GET: fields in the query string; POST: the same as a form body
    token: str | None = TOKEN  # None: no token in the URL at all
    configured: bool = True  # False: the app has no Transmit SMS tokens at all
    field: str | None = None
    vendor_status: str | None = None
    normalised: str | None = None
    error_code: str | None = None
    body: bytes | None = None  # a POST body other than the form of `query`
    data: dict | None = None  # expected in the (first) event's data
    message: str | None = None  # the error's message, which tells the provider what to fix


def both(case: Case) -> list[Case]:
    """The provider calls with GET; POST with the same fields as a form works too."""
    post = Case(**{**case.__dict__, "label": case.label + " (POST form)", "method": "POST"})
    return [case, post]


# Copied from ../shared/vendors/CALLBACKS.md, "Transmit SMS", DLR statuses: vendor value
# -> (ours, the bounce's nature kept in error_code). Written out here, not read from
# transmitsms.STATUS_MAP, so a wrong mapping fails.
DOCUMENTED = {
    "pending": ("sent", None),
    "delivered": ("delivered", None),
    "soft-bounce": ("undelivered", "temporary"),
    "hard-bounce": ("undelivered", "permanent"),
}

CASES = [
    # every DLR status in Transmit SMS's map, and one it does not know
    *[c for s, (n, nature) in DOCUMENTED.items()
      for c in both(Case(f"DLR {s}", query_with(DLR, status=s), 200, f"message.{n}",
                         vendor_status=s, normalised=n, error_code=nature))],
    *both(Case("DLR unmapped status", query_with(DLR, status="queued-at-carrier"), 200,
               "message.unknown", vendor_status="queued-at-carrier", normalised="unknown")),
    *both(Case("DLR as documented", query_with(DLR), 200, "message.delivered",
               vendor_status="delivered", normalised="delivered")),
    # replies, and an opt-out that is two events
    *both(Case("reply as documented", query_with(REPLY), 200, "message.received")),
    *both(Case("opt-out as documented", query_with(OPTOUT), 200,
               "message.received,message.opted_out")),
    Case("opt-out in capitals", query_with(OPTOUT, is_optout="YES"), 200,
         "message.received,message.opted_out"),
    Case("reply without is_optout", query_with(REPLY, drop="is_optout"), 200,
         "message.received"),
    Case("reply with an empty text", query_with(REPLY, response=""), 200, "message.received"),
    Case("reply not to a message", query_with(REPLY, drop="message_id"), 200,
         "message.received"),
    Case("reply without a response field", query_with(REPLY, drop="response"), 200,
         "message.received", data={"text": ""}),
    Case("reply to a message_id of 201 characters", query_with(REPLY, message_id="9" * 201),
         400, "invalid_field", field="message_id"),
    # proof
    *both(Case("missing token", query_with(DLR), 401, "invalid_token", token=None)),
    Case("wrong token", query_with(DLR), 401, "invalid_token", token="tx-token-x"),
    Case("token of another provider", query_with(DLR), 401, "invalid_token",
         token=SECRETS["boomware"][0]),
    Case("new token during rotation", query_with(DLR), 200, "message.delivered",
         token=NEW_TOKEN),
    *both(Case("provider not configured", query_with(DLR), 404, "unknown_vendor",
               configured=False)),
    # body
    Case("form body not UTF-8", "", 400, "malformed_form", method="POST",
         body=b"status=\xff\xfe&message_id=1"),
    Case("no fields at all", "", 400, "missing_field", field="message_id"),
    *[Case(f"DLR missing {name}", query_with(DLR, drop=name), 400, "missing_field", field=name)
      for name in ("message_id", "status", "datetime")],
    *[Case(f"reply missing {name}", query_with(REPLY, drop=name), 400, "missing_field",
           field=name) for name in ("response_id", "mobile", "datetime_entry")],
    Case("DLR datetime not a time", query_with(DLR, datetime="yesterday"), 400,
         "invalid_field", field="datetime",
         message="field 'datetime' is not a UTC time 'YYYY-MM-DD HH:MM:SS'"),
    Case("reply datetime in another format", query_with(REPLY, datetime_entry="15/01/2024"),
         400, "invalid_field", field="datetime_entry"),
    # what the id columns cannot hold is the caller's 400, not our 503
    Case("DLR message_id of 201 characters", query_with(DLR, message_id="9" * 201), 400,
         "invalid_field", field="message_id"),
    # the hashed dedup key fits its 200-character column beside the longest id (PostgreSQL)
    Case("DLR message_id of 200 characters", query_with(DLR, message_id="9" * 200), 200,
         "message.delivered"),
    Case("response_id too long for the opt-out key", query_with(OPTOUT, response_id="9" * 182),
         400, "invalid_field", field="response_id"),
    Case("response_id as long as fits", query_with(OPTOUT, response_id="9" * 181), 200,
         "message.received,message.opted_out"),
    Case("response_id holding a NUL", query_with(REPLY, response_id="99\x0077"), 400,
         "invalid_field", field="response_id"),
]


def send(client, case: Case):
    path = "/webhooks/transmitsms" + (f"/{case.token}" if case.token is not None else "")
    if case.method == "GET":
        return client.get(path, query_string=case.query)
    return client.post(path, data=case.body if case.body is not None else case.query,
                       content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_callback(client, client_without, engine, frozen_clock, case):
    answer = send(client if case.configured else client_without("transmitsms"), case)
    fields = dict(parse_qsl(case.query, keep_blank_values=True))
    events, receipts = check_callback(answer, engine, case, "transmitsms",
                                      lambda: [fields] * len(case.code.split(",")))
    if case.status == 200:
        if case.normalised:
            assert as_json(events[0]["data"])["error_code"] == case.error_code
        (receipt,) = receipts
        assert receipt["method"] == case.method


def test_dlr_shape(client, frozen_clock):
    answer = client.get(f"/webhooks/transmitsms/{TOKEN}", query_string=query_with(DLR))
    (event_id,) = answer.get_json()["event_ids"]
    shown = load_event(client.application.extensions["switchboard"].engine, event_id)
    assert shown == {
        "id": event_id, "type": "message.delivered", "vendor": "transmitsms",
        "vendor_event_id": None,
        "occurred_at": "2024-01-15T12:00:00Z", "received_at": "2026-11-22T05:00:00Z",
        "sequence": 1,  # the first event stored for its message
        "data": {"message_id": "1234567", "direction": "outbound", "status": "delivered",
                 "vendor_status": "delivered", "from": None, "to": "+61400000000",
                 "text": None, "parts": None, "error_code": None, "country": "AU",
                 "reason": None, "permanent": None, "account_id": "4321"},
        "raw": fields_of(DLR),
    }


def test_optout_shape(client, engine, frozen_clock):
    answer = client.get(f"/webhooks/transmitsms/{TOKEN}", query_string=query_with(OPTOUT))
    received_id, optout_id = answer.get_json()["event_ids"]
    received, optout = load_event(engine, received_id), load_event(engine, optout_id)
    expected_data = {"message_id": "998878", "direction": "inbound", "status": None,
                     "vendor_status": None, "from": "+61400000000", "to": "+61400111222",
                     "country": "AU", "text": "STOP", "parts": None, "error_code": None,
                     "reason": None, "permanent": None, "account_id": "4321",
                     "in_reply_to": "1234567"}
    assert received["type"] == "message.received"
    assert optout["type"] == "message.opted_out"
    assert received["data"] == expected_data
    # The opt-out alone says why nothing more may be sent to this number.
    assert optout["data"] == expected_data | {"reason": "opted_out", "permanent": True}
    for shown in (received, optout):
        assert shown["vendor_event_id"] == "998878"
        assert shown["occurred_at"] == "2024-01-15T12:06:00Z"
    keys = [r["dedup_key"] for r in rows(engine, "SELECT dedup_key FROM events ORDER BY id")]
    assert keys == ["transmitsms:998878", "transmitsms:998878:optout"]


@pytest.mark.parametrize("sample", [DLR, REPLY, OPTOUT])
def test_retry_is_200_duplicate(client, engine, frozen_clock, sample):
    # The provider retries after 1 min, 5 min, 1 h and 24 h; GET then POST is one callback.
    path = f"/webhooks/transmitsms/{TOKEN}"
    first = client.get(path, query_string=query_with(sample)).get_json()
    frozen_clock.advance(60)
    again = client.post(path, data=query_with(sample),
                        content_type="application/x-www-form-urlencoded")
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate", "event_ids": first["event_ids"]}
    assert len(rows(engine, "SELECT id FROM events")) == len(first["event_ids"])
    assert len(rows(engine, "SELECT id FROM receipts")) == 1


@pytest.mark.parametrize("changes", [
    # DLRs have no id of their own: another message's receipt in the same second, or the
    # same status of the same message later (a second attempt), is news
    {"message_id": "7654321"}, {"datetime": "2024-01-15 12:30:00"},
])
def test_another_receipt_like_the_first_is_stored(client, engine, frozen_clock, changes):
    for query in (query_with(DLR), query_with(DLR, **changes)):
        answer = client.get(f"/webhooks/transmitsms/{TOKEN}", query_string=query)
        assert answer.get_json()["status"] == "accepted"
    assert len(rows(engine, "SELECT id FROM events")) == 2


def test_two_statuses_in_the_same_second_are_two_receipts(client, engine, frozen_clock):
    # Transmit SMS's datetime has whole seconds: a pending and a delivered receipt can share
    # one, and the delivered one must still reach subscribers.
    for status in ("pending", "delivered"):
        answer = client.get(f"/webhooks/transmitsms/{TOKEN}",
                            query_string=query_with(DLR, status=status))
        assert answer.get_json()["status"] == "accepted"
    stored = rows(engine, "SELECT type FROM events")
    assert sorted(e["type"] for e in stored) == ["message.delivered", "message.sent"]


def test_reply_and_its_optout_arriving_apart_are_counted_once(client, engine, frozen_clock):
    # The same response_id first without, then with, the opt-out flag: only the opt-out
    # event is new.
    path = f"/webhooks/transmitsms/{TOKEN}"
    first = client.get(path, query_string=query_with(OPTOUT, is_optout="no")).get_json()
    again = client.get(path, query_string=query_with(OPTOUT)).get_json()
    assert again["status"] == "accepted"
    assert again["event_ids"][0] == first["event_ids"][0]
    types = [r["type"] for r in rows(engine, "SELECT type FROM events ORDER BY id")]
    assert types == ["message.received", "message.opted_out"]


@pytest.mark.parametrize("type_", ["message.delivered", "message.sent", "message.undelivered",
                                   "message.received", "message.opted_out"])
def test_sample_is_accepted(client, engine, frozen_clock, type_):
    sample, stored = send_sample(client, engine, transmitsms.vendor, type_, frozen_clock(),
                                 SECRETS["transmitsms"])
    assert (sample.method, sample.path) == ("GET", f"/webhooks/transmitsms/{TOKEN}")
    assert stored[-1]["type"] == type_
    # What simulate sends is what the provider sends: the fields in the query, no body.
    assert as_json(stored[-1]["raw"]) == dict(parse_qsl(sample.query_string))


def test_status_map_holds_only_the_documented_values():
    """The table above drives the requests; this keeps the module from mapping a value the
    documentation does not (an undocumented value must arrive as `unknown`)."""
    assert transmitsms.STATUS_MAP == {s: n for s, (n, _) in DOCUMENTED.items()}
    assert transmitsms.BOUNCE_NATURE == {s: x for s, (_, x) in DOCUMENTED.items() if x}
