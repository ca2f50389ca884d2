"""Why a message failed: every entry of every provider's reason map, one table per provider,
sent as the provider would (signed by the production signer, or behind the URL token), and
the reason, permanence and country the stored event says.

The expected values are written out here from the providers' documents, not read from the
modules' maps, so a wrong mapping fails; test_every_map_entry_is_in_a_table makes a new map
entry come with its row."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest

from switchboard.vendors.base import country_of
from switchboard.vendors.registry import VENDORS
from tests.conftest import FROZEN_AT, SECRETS, rows
from tests.signing import canary_headers, honkio_headers, sample_json

NOW = int(FROZEN_AT.timestamp())


@dataclass
class Case:
    key: str  # the map entry this row covers: an error code or a vendor status
    type: str  # the stored event's type
    reason: str | None
    permanent: bool | None
    error_code: str | None = None
    country: str | None = None


def data_of(engine) -> list[dict]:
    stored = rows(engine, "SELECT type, data FROM events ORDER BY id")
    return [(r["type"], r["data"] if isinstance(r["data"], dict) else json.loads(r["data"]))
            for r in stored]


def check(answer, engine, case: Case, index: int = 0) -> dict:
    assert answer.status_code == 200, answer.get_json()
    type_, data = data_of(engine)[index]
    assert type_ == case.type
    assert (data["reason"], data["permanent"]) == (case.reason, case.permanent)
    assert data["error_code"] == case.error_code
    assert data["country"] == case.country
    return data


# --- HonkIO: honkio-api.txt "Error codes", in data.error_code; then its statuses ----------

HONKIO = [
    Case("UNAUTHORIZED", "message.failed", "unknown", False, "UNAUTHORIZED", "CA"),
    Case("INSUFFICIENT_BALANCE", "message.failed", "insufficient_funds", False,
         "INSUFFICIENT_BALANCE", "CA"),
    Case("NON_CANADIAN_NUMBER", "message.rejected", "invalid_number", True,
         "NON_CANADIAN_NUMBER", "CA"),
    Case("ALLOW_LIST_BLOCKED", "message.rejected", "blocked", True, "ALLOW_LIST_BLOCKED", "CA"),
    Case("DENY_LIST_BLOCKED", "message.rejected", "blocked", True, "DENY_LIST_BLOCKED", "CA"),
    Case("RATE_LIMITED", "message.failed", "rate_limited", False, "RATE_LIMITED", "CA"),
    Case("OPT_OUT_BLOCKED", "message.rejected", "opted_out", True, "OPT_OUT_BLOCKED", "CA"),
    Case("NO_CONSENT", "message.rejected", "no_consent", True, "NO_CONSENT", "CA"),
    Case("CONSENT_EXPIRED", "message.rejected", "no_consent", True, "CONSENT_EXPIRED", "CA"),
    Case("DNCL_BLOCKED", "message.rejected", "blocked", True, "DNCL_BLOCKED", "CA"),
    Case("blocked", "message.rejected", "blocked", True, None, "CA"),
    Case("expired", "message.expired", "expired", False, None, "CA"),
    # what the table does not know, and what is no failure at all
    Case("undelivered", "message.undelivered", "unknown", None, None, "CA"),
    Case("VERIFICATION_EXPIRED", "message.failed", "unknown", None, "VERIFICATION_EXPIRED",
         "CA"),
    Case("delivered", "message.delivered", None, None, None, "CA"),
]


def honkio_send(client, case: Case):
    status = case.type.removeprefix("message.")
    payload = sample_json("honkio-delivered.json")
    payload["type"] = f"message.{status}"
    # A status the table knows is sent as HonkIO's own status (blocked, expired); a code
    # rides beside the status it came with.
    payload["data"]["status"] = case.key if case.error_code is None else status
    if case.error_code:
        payload["data"]["error_code"] = case.error_code
    body = json.dumps(payload).encode()
    headers = honkio_headers(body, SECRETS["honkio"][0], NOW)
    return client.post("/webhooks/honkio", data=body, headers=headers)


@pytest.mark.parametrize("case", HONKIO, ids=lambda c: c.key)
def test_honkio(client, engine, frozen_clock, case):
    check(honkio_send(client, case), engine, case)


# --- Boomware: boomware-api.txt "Errors" (errorCode) and the DLR statuses ----------------

BOOMWARE = [
    Case("1", "message.undelivered", "unknown", False, "1", "EE"),
    Case("2", "message.rejected", "unknown", False, "2", "EE"),
    Case("4", "message.rejected", "rate_limited", False, "4", "EE"),
    Case("5", "message.rejected", "unknown", False, "5", "EE"),
    Case("6", "message.rejected", "insufficient_funds", False, "6", "EE"),
    Case("10", "message.rejected", "unknown", None, "10", "EE"),
    Case("11", "message.undelivered", "invalid_number", True, "11", "EE"),
    Case("16", "message.rejected", "sender_not_allowed", True, "16", "EE"),
    Case("UNDELIVERED", "message.undelivered", "unknown", None, None, "EE"),
    Case("REJECTED", "message.rejected", "unknown", None, None, "EE"),
    Case("DELIVERED", "message.delivered", None, None, None, "EE"),
    # a code on a receipt that is no failure says nothing of a reason
    Case("SENT", "message.sent", None, None, "4", "EE"),
]


@pytest.mark.parametrize("case", BOOMWARE, ids=lambda c: c.key)
def test_boomware(client, engine, frozen_clock, case):
    payload = sample_json("boomware-dlr-delivered.json")
    payload["status"] = case.type.removeprefix("message.").upper()
    if case.error_code is not None:
        payload["errorCode"] = int(case.error_code)  # a JSON number, as in the docs' sample
    token = SECRETS["boomware"][0]
    check(client.post(f"/webhooks/boomware/{token}", json=payload), engine, case)


# --- Transmit SMS: CALLBACKS.md "Transmit SMS" (bounces and opt-outs) ---------------------

TRANSMITSMS = [
    Case("soft-bounce", "message.undelivered", "unreachable", False, "temporary", "AU"),
    Case("hard-bounce", "message.undelivered", "invalid_number", True, "permanent", "AU"),
    Case("pending", "message.sent", None, None, None, "AU"),
    Case("delivered", "message.delivered", None, None, None, "AU"),
]


@pytest.mark.parametrize("case", TRANSMITSMS, ids=lambda c: c.key)
def test_transmitsms(client, engine, frozen_clock, case):
    query = urlencode({"message_id": "1234567", "mobile": "61400000000",
                       "datetime": "2024-01-15 12:00:00", "status": case.key,
                       "user_id": "4321"})
    token = SECRETS["transmitsms"][0]
    check(client.get(f"/webhooks/transmitsms/{token}", query_string=query), engine, case)


def test_transmitsms_optout_is_opted_out_and_permanent(client, engine, frozen_clock):
    """The reply itself carries no reason; the opt-out it makes does. The country is the
    sender's: the other party of an inbound message."""
    query = urlencode({"message_id": "1234567", "mobile": "61400000000",
                       "longcode": "61400111222", "datetime_entry": "2024-01-15 12:06:00",
                       "response": "STOP", "response_id": "998878", "is_optout": "yes"})
    token = SECRETS["transmitsms"][0]
    answer = client.get(f"/webhooks/transmitsms/{token}", query_string=query)
    check(answer, engine, Case("reply", "message.received", None, None, None, "AU"), 0)
    check(answer, engine, Case("opt-out", "message.opted_out", "opted_out", True, None, "AU"),
          1)


# --- Canary: canary-api.txt, message.failed with its error codes --------------------------

CANARY = [
    Case("invalid_phone_number", "message.failed", "invalid_number", True,
         "invalid_phone_number"),
    Case("400", "message.failed", "unknown", None, "400"),
    Case("401", "message.failed", "unknown", False, "401"),
    Case("403", "message.failed", "unknown", None, "403"),
    Case("404", "message.failed", "unknown", None, "404"),
    Case("429", "message.failed", "rate_limited", False, "429"),
    Case("500", "message.failed", "unknown", False, "500"),
    Case("no code", "message.failed", "unknown", None, None),
    Case("delivered", "message.delivered", None, None, None),
]


@pytest.mark.parametrize("case", CANARY, ids=lambda c: c.key)
def test_canary(client, engine, frozen_clock, case):
    payload = sample_json("canary-delivered.json")
    payload.update(created=NOW, type=case.type)
    payload["data"]["status"] = case.type.removeprefix("message.")
    # +1 555 is no number of any one country: Canary's documented sample has no country.
    payload["data"]["to"] = "+15551234567"
    if case.error_code is not None:
        payload["data"]["error_code"] = case.error_code
    body = json.dumps(payload).encode()
    answer = client.post("/webhooks/canary", data=body,
                         headers=canary_headers(body, SECRETS["canary"][0]))
    check(answer, engine, case)


# --- Phonify: phonify-api.txt, the message states -----------------------------------------

PHONIFY = [
    Case("error", "message.failed", "unknown", None, None, "ES"),
    Case("sent", "message.sent", None, None, None, "ES"),
    Case("unconfirmed", "message.accepted", None, None, None, "ES"),
]


@pytest.mark.parametrize("case", PHONIFY, ids=lambda c: c.key)
def test_phonify(client, engine, frozen_clock, case):
    message = sample_json("phonify-message-sent.json") | {"state": case.key}
    token = SECRETS["phonify"][0]
    check(client.post(f"/webhooks/phonify/{token}", json=message), engine, case)


@pytest.mark.parametrize("name", sorted(VENDORS))
def test_every_map_entry_is_in_a_table(name):
    table = globals().get(name.upper())
    assert table is not None, f"add a table {name.upper()} of {name}'s REASON_MAP rows here"
    module = sys.modules[type(VENDORS[name]).__module__]
    missing = set(module.REASON_MAP) - {case.key.lower() for case in table}
    assert not missing, f"{module.__name__}: no test row for {sorted(missing)}"


@pytest.mark.parametrize(("number", "country"), [
    ("+16135550199", "CA"), ("+14155550100", "US"), ("+442071838750", "GB"),
    ("+61400000000", "AU"), ("+37200911211", "EE"),  # one country per code: known anyway
    ("+15551234567", None),  # +1 is shared and 555 is no one's: unknown
    ("+80012345678", None),  # a non-geographic code (001)
    ("0400000000", None), ("user@example.com", None), (None, None),
])
def test_country_of(number, country):
    assert country_of(number) == country
