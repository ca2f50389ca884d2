"""A refused operation in the console, shown the one way for its kind of page
(switchboard/api/console/refusals.py): a list or form drawn again with the message and what
was typed; an action sent back where it came from with the message; a thing that is not
there, a page saying so at 404. Never the admin API's JSON, never a 503."""

from __future__ import annotations

import dataclasses
import html

import pytest

from switchboard.app import create_app
from tests.console_forms import TOKEN, form_fields, signed_in

UNKNOWN_SUB = "sub_01JD0000000000000000000000"


@pytest.fixture
def console_app(settings):
    app = create_app(settings=dataclasses.replace(settings, admin_token=TOKEN))
    yield app
    app.extensions["switchboard"].engine.dispose()


def csrf(client) -> str:
    page = client.get("/console/subscriptions").get_data(as_text=True)
    return form_fields(page, "/console/subscriptions")["csrf"]


def alert(page: str) -> str:
    """The text of the page's one alert: a refusal's message."""
    (shown,) = [part.split("</div>", 1)[0] for part in page.split('role="alert"')[1:]]
    return html.unescape(shown.split(">", 1)[1])


@pytest.mark.parametrize(("path", "said", "kept"), [
    ("/console/events?since=yesterday&vendor=honkio", "since: since must be an ISO 8601 time",
     'value="yesterday"'),
    ("/console/deliveries?state=lost", "state: state must be one of: ", "Deliveries: lost"),
    ("/console/stats?country=Canada", "country: country must be an ISO 3166", 'value="Canada"'),
    ("/console/subscriptions?cursor=nonsense", "cursor: cursor is not one this API gave out",
     'name="url"'),
    ("/console/search?q=0400&country=GBR", "country: country must be a two-letter ISO code",
     'value="GBR"'),
])
def test_a_list_asked_wrongly_is_drawn_again_with_the_message(console_app, path, said, kept):
    answer = signed_in(console_app).get(path)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and answer.mimetype == "text/html"
    assert alert(page).startswith(said)
    assert kept in page  # the filter as typed, to correct it


@pytest.mark.parametrize(("path", "named"), [
    ("/console/events/evt_01JD0000000000000000000000", "id: no event 'evt_01JD"),
    ("/console/messages/honkio/msg_nowhere", "message_id: no message 'msg_nowhere' from honkio"),
    (f"/console/subscriptions/{UNKNOWN_SUB}", f"id: no subscription '{UNKNOWN_SUB}'"),
    ("/console/subscriptions/sub_" + "x" * 300, "id: no subscription 'sub_xxx"),
])
def test_a_thing_that_is_not_there_is_a_page_saying_so(console_app, path, named):
    answer = signed_in(console_app).get(path)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert "<h1>Not Found</h1>" in page and alert(page).startswith(named)


@pytest.mark.parametrize("action", ["disable", "enable", "delete", "rotate-secret", "test"])
def test_an_action_on_a_subscription_that_is_not_there_goes_back_saying_so(console_app, action):
    client = signed_in(console_app)
    back = "/console/events?vendor=honkio"
    answer = client.post(f"/console/subscriptions/{UNKNOWN_SUB}/{action}",
                         data={"csrf": csrf(client), "back": back})
    # The test event always goes back to the subscription's own page, refused or not.
    landing = f"/console/subscriptions/{UNKNOWN_SUB}" if action == "test" else back
    assert answer.status_code == 302 and answer.location == landing
    shown = client.get(back).get_data(as_text=True)
    assert alert(shown) == f"id: no subscription '{UNKNOWN_SUB}'"
    assert 'role="alert"' not in client.get(back).get_data(as_text=True)  # said once


def test_a_refused_retry_goes_back_to_the_page_it_came_from(console_app):
    client = signed_in(console_app)
    answer = client.post("/console/deliveries/dlv_01JD0000000000000000000000/retry",
                         data={"csrf": csrf(client), "back": "/console/deliveries?state=pending"})
    assert answer.status_code == 302 and answer.location == "/console/deliveries?state=pending"
    shown = client.get(answer.location).get_data(as_text=True)
    assert alert(shown) == "id: no delivery 'dlv_01JD0000000000000000000000'"


def test_a_refused_replay_shows_its_form_again_as_it_was_sent(console_app):
    client = signed_in(console_app)
    answer = client.post("/console/replay", data={
        "csrf": csrf(client), "since": "last tuesday", "vendor": "canary", "dry_run": "on"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert alert(page).startswith("filter.since: since must be an ISO 8601 time")
    assert 'value="last tuesday"' in page and "<option selected>canary</option>" in page
    assert 'id="replay-result"' not in page

