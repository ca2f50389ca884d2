"""Search by event id, message id or phone number (any format phonenumbers reads, matched
as E.164 against `from` and `to`), keyset-paged, on the console and in admin.search."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from switchboard.app import create_app
from switchboard.operations.search import search
from tests.callbacks import sample_json, send_honkio
from tests.conftest import SECRETS
from tests.console_forms import TOKEN, signed_in

BOOMWARE_INBOUND = sample_json("boomware-inbound.json")  # 447700900001 -> 447700900000


@pytest.fixture
def console_app(settings):
    app = create_app(settings=dataclasses.replace(settings, admin_token=TOKEN))
    yield app
    app.extensions["switchboard"].engine.dispose()


@pytest.fixture
def stored(console_app, frozen_clock):
    client = console_app.test_client()
    honkio = []
    for n in range(3):  # each to +16135550199, a minute apart
        honkio += send_honkio(client, message_id=f"msg_phone_{n}")
        frozen_clock.advance(60)
    answer = client.post(f"/webhooks/boomware/{SECRETS['boomware'][0]}",
                         data=json.dumps(BOOMWARE_INBOUND),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.get_json()
    return {"honkio": honkio, "boomware": answer.get_json()["event_ids"]}


def found(app, **args):
    with app.extensions["switchboard"].engine.connect() as conn:
        return search(conn, args)


@pytest.mark.parametrize("query, country", [
    ("+16135550199", None), ("+1 613-555-0199", None), ("16135550199", None),
    ("(613) 555-0199", "CA"), ("613 555 0199", "us"),
])
def test_a_number_in_any_format_finds_its_events(console_app, stored, query, country):
    result = found(console_app, q=query, **({"country": country} if country else {}))
    assert result["phone"] == "+16135550199"
    assert [e["id"] for e in result["events"]] == stored["honkio"][::-1]  # newest first


@pytest.mark.parametrize("query", ["+44 7700 900001", "447700900000", "+447700900000"])
def test_from_and_to_are_both_matched(console_app, stored, query):
    assert [e["id"] for e in found(console_app, q=query)["events"]] == stored["boomware"]


def test_phone_results_page_with_the_keyset_cursor(console_app, stored):
    first = found(console_app, q="+16135550199", limit="2")
    assert [e["id"] for e in first["events"]] == stored["honkio"][:0:-1]
    second = found(console_app, q="+16135550199", limit="2", cursor=first["next_cursor"])
    assert [e["id"] for e in second["events"]] == stored["honkio"][:1]
    assert second["next_cursor"] is None


def test_event_and_message_ids_are_found(console_app, stored):
    event_id = stored["honkio"][1]
    assert found(console_app, q=event_id)["event"]["id"] == event_id
    by_message = found(console_app, q="msg_phone_2")
    assert by_message["messages"] == [{"vendor": "honkio", "message_id": "msg_phone_2"}]
    assert by_message["phone"] is None and by_message["event"] is None


def test_search_page_links_each_kind_of_match(console_app, stored):
    client = signed_in(console_app)
    page = client.get("/console/search", query_string={"q": "+1 (613) 555-0199"}) \
        .get_data(as_text=True)
    assert '<span id="found-phone">+16135550199</span>' in page
    assert all(f'href="/console/events/{i}"' in page for i in stored["honkio"])
    page = client.get("/console/search", query_string={
        "q": BOOMWARE_INBOUND["messageId"]}).get_data(as_text=True)
    assert (f'href="/console/messages/boomware/{BOOMWARE_INBOUND["messageId"]}"') in page
    page = client.get("/console/search", query_string={"q": "+16135550199", "limit": "2"}) \
        .get_data(as_text=True)
    older = re.search(r'<a href="([^"]+)" rel="next">', page).group(1).replace("&amp;", "&")
    rest = client.get(older).get_data(as_text=True)
    assert f'href="/console/events/{stored["honkio"][0]}"' in rest
    assert f'href="/console/events/{stored["honkio"][2]}"' not in rest


def test_search_says_what_is_wrong_or_that_nothing_matched(console_app, stored):
    client = signed_in(console_app)
    bad = client.get("/console/search", query_string={"q": "0400", "country": "GBR"})
    assert bad.status_code == 400 and "country must be a two-letter ISO code" in \
        bad.get_data(as_text=True)
    none = client.get("/console/search", query_string={"q": "nothing-like-this"})
    assert none.status_code == 200 and 'id="nothing"' in none.get_data(as_text=True)


def test_an_event_holding_a_nul_is_stored_and_search_still_answers(console_app, stored):
    """PostgreSQL's ->> fails on a json document with an escaped NUL anywhere: the phone
    indexes leave such an event out rather than refuse its callback."""
    client = console_app.test_client()
    payload = BOOMWARE_INBOUND | {"messageId": "with-nul", "text": "a\u0000b",
                                  "from": "447700900777"}
    answer = client.post(f"/webhooks/boomware/{SECRETS['boomware'][0]}",
                         data=json.dumps(payload), headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.get_json()
    assert found(console_app, q="+447700900777")["events"] == []
    assert found(console_app, q="with-nul")["messages"] == [
        {"vendor": "boomware", "message_id": "with-nul"}]
    assert [e["id"] for e in found(console_app, q="+447700900001")["events"]] == \
        stored["boomware"]


def test_message_matches_page_with_the_keyset_cursor(console_app, frozen_clock):
    """One message id on two vendors: newest first by each one's first event, a page at a
    time by `messages_cursor`, as every list pages, rather than cut at a fixed count."""
    client = console_app.test_client()
    send_honkio(client, message_id="shared-1")
    frozen_clock.advance(60)
    answer = client.post(f"/webhooks/boomware/{SECRETS['boomware'][0]}",
                         data=json.dumps(BOOMWARE_INBOUND | {"messageId": "shared-1"}),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.get_json()
    first = found(console_app, q="shared-1", limit="1")
    assert first["messages"] == [{"vendor": "boomware", "message_id": "shared-1"}]
    second = found(console_app, q="shared-1", limit="1",
                   messages_cursor=first["messages_next_cursor"])
    assert second["messages"] == [{"vendor": "honkio", "message_id": "shared-1"}]
    assert second["messages_next_cursor"] is None
    assert found(console_app, q="shared-1")["messages_next_cursor"] is None
    console = signed_in(console_app)
    page = console.get("/console/search", query_string={"q": "shared-1", "limit": "1"}) \
        .get_data(as_text=True)
    assert 'href="/console/messages/boomware/shared-1"' in page
    assert 'href="/console/messages/honkio/shared-1"' not in page
    more = re.search(r'<a id="more-messages" href="([^"]+)"', page).group(1)
    rest = console.get(more.replace("&amp;", "&")).get_data(as_text=True)
    assert 'href="/console/messages/honkio/shared-1"' in rest
    assert 'href="/console/messages/boomware/shared-1"' not in rest
    assert 'id="more-messages"' not in rest
