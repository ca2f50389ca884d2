"""The message timeline page: status over time, every receipt in order with superseded and
conflicting ones marked, each event's deliveries; linked from the events list and each
event."""

from __future__ import annotations

import dataclasses
import re

import pytest

from switchboard import clock
from switchboard.app import create_app
from switchboard.operations import subscriptions as subs
from tests.callbacks import send_honkio
from tests.conftest import expand_owed
from tests.console_forms import TOKEN, signed_in


@pytest.fixture
def console_app(settings):
    app = create_app(settings=dataclasses.replace(settings, admin_token=TOKEN))
    yield app
    app.extensions["switchboard"].engine.dispose()


def test_timeline_marks_late_and_conflicting_receipts(console_app, frozen_clock):
    state = console_app.extensions["switchboard"]
    with state.engine.begin() as conn:
        sub, _ = subs.create(conn, state.settings, clock.now(), url="http://127.0.0.1:9/in",
                             event_types=["message.*"])
    client = console_app.test_client()
    ids = []
    for status in ("sent", "delivered", "sent", "failed"):
        ids += send_honkio(client, status, message_id="msg_life")
        frozen_clock.advance(60)
    send_honkio(client, "delivered", message_id="msg_other")
    expand_owed(state.engine)
    console = signed_in(console_app)
    answer = console.get("/console/messages/honkio/msg_life")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert re.search(r'id="message-status"[^>]*>delivered<', page)
    assert "conflict: later failed" in page and ids[3] in page
    steps = re.findall(r'<li><strong class="state-(\w+)">', page)
    assert steps == ["sent", "delivered"]
    rows = re.findall(r'<tr class="receipt (\w+)">.*?href="/console/events/(evt_\w+)"', page,
                      re.S)
    assert rows == [("fanout", ids[0]), ("fanout", ids[1]), ("superseded", ids[2]),
                    ("conflict", ids[3])]
    assert "msg_other" not in page
    # Each fanned-out event has its delivery to the subscription; late ones none.
    assert page.count(f"{sub['id']}: ") == 2
    assert page.count("none: not sent on") == 2
    # Times in UTC with their age: the first receipt came 4 minutes before "now".
    assert "2026-11-22 05:00:00 UTC</time> <span class=\"age\">(4 min ago)</span>" in page


def test_timeline_is_linked_from_the_events_list_and_each_event(console_app, frozen_clock):
    (event_id,) = send_honkio(console_app.test_client(), message_id="msg_linked")
    console = signed_in(console_app)
    link = 'href="/console/messages/honkio/msg_linked"'
    assert link in console.get("/console/events").get_data(as_text=True)
    assert link in console.get(f"/console/events/{event_id}").get_data(as_text=True)


def test_an_unknown_message_is_a_not_found_naming_it(console_app):
    answer = signed_in(console_app).get("/console/messages/honkio/msg_nowhere")
    assert answer.status_code == 404 and "msg_nowhere" in answer.get_data(as_text=True)
