"""Receipts that never came: one message.receipt_overdue per message still waiting
RECEIPT_TIMEOUT after its latest receipt, made by the workers however many race, stored and
fanned out like any event; a receipt that comes later applies as usual."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlencode

from switchboard import clock
from switchboard.config import load_settings
from switchboard.operations import subscriptions as subs
from switchboard.operations.events import get_event
from switchboard.operations.replay import replay_from_json
from switchboard.worker import overdue
from switchboard.worker.runner import Worker
from tests.conftest import SECRETS, rows

TOKEN = SECRETS["transmitsms"][0]
DAY = 86400


def dlr(client, message_id: str, status: str = "pending") -> None:
    query = urlencode({"message_id": message_id, "mobile": "61400000000",
                       "datetime": "2026-11-22 04:59:00", "status": status})
    answer = client.get(f"/webhooks/transmitsms/{TOKEN}", query_string=query)
    assert answer.status_code == 200, answer.get_json()


def overdue_events(engine) -> list[dict]:
    return [dict(r) for r in rows(engine, "SELECT * FROM events WHERE type = :t ORDER BY id",
                                  t=overdue.TYPE)]


def data(row) -> dict:
    return row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])


def test_default_timeout_is_a_day_and_zero_turns_it_off():
    assert load_settings(environ={}).receipt_timeout == DAY
    assert load_settings(environ={"SWITCHBOARD_RECEIPT_TIMEOUT": "0"}).receipt_timeout == 0


def test_a_message_waiting_past_the_timeout_gets_one_event(client, engine, settings,
                                                          subscriber, frozen_clock):
    with engine.begin() as conn:
        subs.create(conn, settings, clock.now(), url=subscriber.url,
                    event_types=["message.receipt_overdue"])
    received_at = clock.now()
    dlr(client, "m-waiting")
    dlr(client, "m-delivered", "delivered")
    frozen_clock.advance(DAY - 1)
    dlr(client, "m-recent")
    assert overdue.check(engine, DAY, clock.now()).events == 0  # nothing a day old yet
    frozen_clock.advance(2)
    assert overdue.check(engine, DAY, clock.now()).events == 1
    assert overdue.check(engine, DAY, clock.now()).events == 0  # never twice
    (event,) = overdue_events(engine)
    assert (event["vendor"], event["message_id"], event["status"]) == (
        "transmitsms", "m-waiting", None)
    assert data(event) == {"message_id": "m-waiting", "status": "sent",
                           "last_receipt_at": "2026-11-22T05:00:00Z", "timeout": DAY}
    (status,) = rows(engine, "SELECT overdue_at, status FROM message_status "
                             "WHERE message_id = 'm-waiting'")
    assert status["status"] == "sent" and status["overdue_at"] is not None
    # Fanned out as any event: a subscriber gets it, signed, in the event shape.
    worker = Worker(engine, settings, concurrency=2)
    while worker.run_once():
        pass
    worker.close()
    (delivered,) = [json.loads(r.body) for r in subscriber.received]
    assert delivered["id"] == event["id"] and delivered["type"] == overdue.TYPE
    assert delivered["data"]["last_receipt_at"] == received_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    # Operators see it; no provider callback is shown behind it.
    with engine.connect() as conn:
        shown = get_event(conn, event["id"])
    assert shown["receipt"] is None and shown["type"] == overdue.TYPE


def test_a_receipt_after_the_event_applies_as_usual(client, engine, frozen_clock):
    dlr(client, "m-late")
    frozen_clock.advance(DAY + 1)
    assert overdue.check(engine, DAY, clock.now()).events == 1
    dlr(client, "m-late", "delivered")
    (status,) = rows(engine, "SELECT status FROM message_status")
    assert status["status"] == "delivered"
    assert overdue.check(engine, DAY, clock.now()).events == 0


def test_any_receipt_restarts_the_clock(client, engine, frozen_clock):
    """A late receipt (superseded) still says the provider is talking about the message."""
    dlr(client, "m-talking", "pending")
    frozen_clock.advance(DAY - 10)
    query = urlencode({"message_id": "m-talking", "mobile": "61400000000",
                       "datetime": "2026-11-22 04:00:00", "status": "queued"})  # unknown
    assert client.get(f"/webhooks/transmitsms/{TOKEN}", query_string=query).status_code == 200
    frozen_clock.advance(20)
    assert overdue.check(engine, DAY, clock.now()).events == 0
    frozen_clock.advance(DAY)
    assert overdue.check(engine, DAY, clock.now()).events == 1


def test_timeout_zero_makes_nothing(client, engine, frozen_clock):
    dlr(client, "m-off")
    frozen_clock.advance(10 * DAY)
    assert overdue.check(engine, 0, clock.now()).events == 0
    assert overdue_events(engine) == []


def test_renormalize_leaves_the_event_and_the_mark(client, engine, settings, frozen_clock):
    dlr(client, "m-renorm")
    frozen_clock.advance(DAY + 1)
    overdue.check(engine, DAY, clock.now())
    answer = replay_from_json(engine, settings, {"filter": {"vendor": "transmitsms"},
                                                 "renormalize": True}, clock.now())
    assert answer["renormalized"]["still_failing"] == 0
    assert answer["renormalized"]["receipts"] == 1  # the DLR; not the generated receipt
    assert len(overdue_events(engine)) == 1
    assert overdue.check(engine, DAY, clock.now()).events == 0


def test_two_workers_racing_make_one_event_per_message(client, engine, frozen_clock):
    messages = [f"m-race-{n}" for n in range(60)]
    for message_id in messages:
        dlr(client, message_id)
    frozen_clock.advance(DAY + 1)
    now = clock.now()
    start = threading.Barrier(2)
    made, errors = [], []

    def run() -> None:
        try:
            start.wait()
            made.append(overdue.check(engine, DAY, now, batch=7).events)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(made) == len(messages)
    found = sorted(e["message_id"] for e in overdue_events(engine))
    assert found == sorted(messages)



def test_a_running_worker_checks_by_itself(client, engine, settings, frozen_clock):
    import dataclasses

    dlr(client, "m-worker")
    frozen_clock.advance(120)
    worker = Worker(engine, dataclasses.replace(settings, receipt_timeout=60), concurrency=2,
                    poll_interval=0.02)
    thread = threading.Thread(target=worker.run_forever, kwargs={"idle_wait": 0.05})
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not overdue_events(engine) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(30)
        worker.close()
    assert [e["message_id"] for e in overdue_events(engine)] == ["m-worker"]
