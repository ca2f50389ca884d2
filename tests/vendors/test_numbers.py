"""Phone numbers come out in E.164 when that is certain, and as given when it is not: a
number that needs a country to be read is never turned into someone else's number."""

from __future__ import annotations

import json

import pytest

from switchboard.vendors.base import e164
from tests.conftest import SECRETS, rows
from tests.signing import sample_json

CASES = [
    # (given, region, expected)
    ("+34600000000", None, "+34600000000"),
    ("+1 613 555 0123", None, "+16135550123"),
    # international without the "+", as Boomware and Transmit SMS send them
    ("447700900001", None, "+447700900001"),
    ("61400000000", None, "+61400000000"),
    (61400000000, None, "+61400000000"),
    # a national number: a trunk 0 means nothing without the country, so it stays
    ("0400000000", None, "0400000000"),
    ("0044 7700 900001", None, "0044 7700 900001"),  # 00 is not every country's prefix
    ("(613) 555-0123", None, "(613) 555-0123"),
    # ... and with the country the provider gives, it is read
    ("0400000000", "AU", "+61400000000"),
    ("0400000000", "au", "+61400000000"),
    ("600000000", "ES", "+34600000000"),
    ("(613) 555-0123", "CA", "+16135550123"),
    ("34600000000", "ES", "+34600000000"),  # international form, country given too
    ("0400000000", "Australia", "0400000000"),  # not an ISO country: not guessed
    # not phone numbers at all
    ("12345", None, "12345"),
    ("NOTIFY", None, "NOTIFY"),
    ("", None, None),
    (None, None, None),
]


@pytest.mark.parametrize(("given", "region", "expected"), CASES,
                         ids=[f"{g!r}-{r}" for g, r, _ in CASES])
def test_e164(given, region, expected):
    assert e164(given, region) == expected


def test_transmitsms_national_mobile_is_kept_as_given(client, engine, frozen_clock):
    token = SECRETS["transmitsms"][0]
    answer = client.get(f"/webhooks/transmitsms/{token}", query_string={
        "message_id": "77", "mobile": "0400000000", "datetime": "2024-01-15 12:00:00",
        "status": "delivered", "user_id": "4321"})
    assert answer.status_code == 200, answer.get_json()
    (event,) = rows(engine, "SELECT data FROM events")
    data = event["data"] if isinstance(event["data"], dict) else json.loads(event["data"])
    assert data["to"] == "0400000000"


def test_phonify_national_numbers_are_read_with_their_country(client, engine, frozen_clock):
    message = sample_json("phonify-message-sent.json") | {
        "to": "600000000",
        "origin": {"number": "911000000", "country": "ES", "carrier": None},
        "phone": {"number": "600000000", "country": "ES", "carrier": "Movistar"}}
    answer = client.post(f"/webhooks/phonify/{SECRETS['phonify'][0]}",
                         data=json.dumps(message), content_type="application/json")
    assert answer.status_code == 200, answer.get_json()
    (event,) = rows(engine, "SELECT data FROM events")
    data = event["data"] if isinstance(event["data"], dict) else json.loads(event["data"])
    assert (data["from"], data["to"]) == ("+34911000000", "+34600000000")
