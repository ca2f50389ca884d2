"""Every stored time is the same instant whatever the database server's time zone: a
PostgreSQL server set to America/Toronto must give back what one in UTC gives back (a naive
timestamp sent to it would be read as Toronto time, five hours off). On SQLite the zone is
not the server's to choose; the same reads run there too."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from switchboard.app import create_app
from switchboard.models import Attempt, Delivery, Event, MessageStatus, Receipt
from switchboard.worker.runner import Worker
from tests.callbacks import honkio_body
from tests.conftest import FROZEN_AT, SECRETS
from tests.signing import canary_headers, honkio_headers
from tests.test_fanout import subscribe

TORONTO = "options=-c%20timezone%3DAmerica/Toronto"


@pytest.fixture
def toronto(settings):
    """The app, its settings and its engine, its PostgreSQL sessions in Toronto time."""
    url = settings.database_url
    if url.startswith("postgresql"):
        url += ("&" if "?" in url else "?") + TORONTO
    changed = dataclasses.replace(settings, database_url=url)
    app = create_app(settings=changed)
    app.config["TESTING"] = True
    engine = app.extensions["switchboard"].engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:  # the premise: this server reads naive times as EST
            assert conn.execute(text("SHOW timezone")).scalar() == "America/Toronto"
    yield app, changed, engine
    engine.dispose()


def only(engine, table):
    with engine.connect() as conn:
        (row,) = conn.execute(select(table)).mappings().all()
    return row


def test_a_callback_is_stored_at_the_instant_it_arrived(toronto, frozen_clock):
    app, _settings, engine = toronto
    body = honkio_body("delivered", message_id="msg_tz", event_id="evt_tz")
    occurred = json.loads(body)["created"]
    answer = app.test_client().post("/webhooks/honkio", data=body, headers=honkio_headers(
        body, SECRETS["honkio"][0], int(FROZEN_AT.timestamp())))
    assert answer.status_code == 200, answer.get_json()
    assert only(engine, Receipt.__table__)["received_at"] == FROZEN_AT
    event = only(engine, Event.__table__)
    assert event["received_at"] == FROZEN_AT
    assert event["occurred_at"] == datetime.fromisoformat(occurred)
    assert only(engine, MessageStatus.__table__)["updated_at"] == FROZEN_AT


def test_a_callback_that_did_not_parse_is_kept_at_the_instant_it_arrived(toronto,
                                                                          frozen_clock):
    app, _settings, engine = toronto
    body = b'{"id": "evt_bad", "type": "message.delivered", "data": broken'
    answer = app.test_client().post("/webhooks/canary", data=body, headers=canary_headers(
        body, SECRETS["canary"][0]))
    assert answer.status_code == 400
    kept = only(engine, Receipt.__table__)
    assert (kept["state"], kept["received_at"]) == ("failed", FROZEN_AT)


def test_a_delivery_and_its_retry_are_timed_in_utc(toronto, subscriber, frozen_clock):
    app, settings, engine = toronto
    subscribe(engine, settings, subscriber.url)
    subscriber.reply(500, body=b"boom")
    body = honkio_body("delivered")
    app.test_client().post("/webhooks/honkio", data=body, headers=honkio_headers(
        body, SECRETS["honkio"][0], int(FROZEN_AT.timestamp())))
    worker = Worker(engine, settings, concurrency=1, poll_interval=0.02)
    try:
        assert worker.run_once() == 1
    finally:
        worker.close()
    delivery = only(engine, Delivery.__table__)
    assert delivery["created_at"] == FROZEN_AT
    assert delivery["state"] == "pending" and delivery["attempts"] == 1
    # Retried later, but minutes later, not the server's UTC offset later (or earlier).
    assert FROZEN_AT < delivery["next_attempt_at"] < FROZEN_AT + timedelta(hours=1)
    assert only(engine, Attempt.__table__)["started_at"] == FROZEN_AT
