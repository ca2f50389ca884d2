"""Ordered delivery: each target gets one message's events in the order they were stored
(`sequence`), a delivery waiting while an earlier one of its message to the same target is
pending; a dead head lets the next go; replays are not held and hold nothing. Worker
processes keep the order too: tests/test_worker_processes.py."""

from __future__ import annotations

import json
import threading
import uuid

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from switchboard import clock
from switchboard.models.migrate import alembic_config, upgrade
from switchboard.operations import subscriptions as subs
from switchboard.operations.replay import ReplayRequest, replay
from switchboard.store.db import make_engine
from tests.callbacks import send_honkio
from tests.conftest import rows


def subscribe(engine, settings, url: str, types=("*",)) -> str:
    with engine.begin() as conn:
        return subs.create(conn, settings, clock.now(), url=url,
                           event_types=list(types))[0]["id"]


def arrivals(subscriber) -> list[tuple[str, int | None]]:
    """(type, sequence) of each POST, in arrival order."""
    return [(e["type"], e["sequence"]) for e in (json.loads(r.body) for r in subscriber.received)]


def test_sequence_counts_a_messages_events_in_the_order_stored(client, engine, frozen_clock):
    message = f"msg_{uuid.uuid4().hex}"
    first = send_honkio(client, "accepted", message)
    second = send_honkio(client, "sent", message)
    assert send_honkio(client, "sent", message, event_id=None) != second  # another receipt
    late = send_honkio(client, "accepted", message)  # late: stored, superseded, numbered
    other = send_honkio(client, "sent")
    stored = {r["id"]: r["sequence"] for r in rows(engine, "SELECT id, sequence FROM events")}
    assert [stored[first[0]], stored[second[0]], stored[late[0]]] == [1, 2, 4]
    assert stored[other[0]] == 1
    # A duplicate takes no number: the next receipt of the message is 5.
    body_id = f"evt_{uuid.uuid4().hex}"
    (again,) = send_honkio(client, "delivered", message, event_id=body_id)
    assert send_honkio(client, "delivered", message, event_id=body_id) == [again]
    assert rows(engine, "SELECT sequence FROM events WHERE id = :id", id=again) \
        == [{"sequence": 5}]
    assert rows(engine, "SELECT sequence FROM message_sequences WHERE message_id = :m",
                m=message) == [{"sequence": 5}]


def test_renormalize_moving_an_event_to_another_message_numbers_it_there(
        client, engine, settings, monkeypatch, frozen_clock):
    """A parser fix that gives a stored event another message id puts it after that
    message's events, so the subscriber's order check holds for the message it now names."""
    import dataclasses

    from switchboard.operations.replay import replay_from_json
    from switchboard.vendors import honkio

    (moved,) = send_honkio(client, "sent", "msg_wrong")
    send_honkio(client, "accepted", "msg_right")
    send_honkio(client, "sent", "msg_right")
    parse = honkio.HonkIO.parse

    def fixed(self, inbound, settings):
        return [dataclasses.replace(e, data=e.data | {"message_id": "msg_right"})
                for e in parse(self, inbound, settings)]

    monkeypatch.setattr(honkio.HonkIO, "parse", fixed)
    replay_from_json(engine, settings, {"event_ids": [moved], "renormalize": True,
                                        "dry_run": False}, clock.now())
    assert rows(engine, "SELECT message_id, sequence FROM events WHERE id = :id", id=moved) \
        == [{"message_id": "msg_right", "sequence": 3}]


def test_concurrent_receipts_of_one_message_get_distinct_sequences(app, engine, frozen_clock):
    """Twelve callbacks of one message at once, from six threads: 1..12, none twice (on
    PostgreSQL the counter row's lock orders them)."""
    message = f"msg_{uuid.uuid4().hex}"
    barrier = threading.Barrier(6)

    def post_two() -> None:
        client = app.test_client()
        barrier.wait()
        for _ in range(2):
            send_honkio(client, "sent", message)

    threads = [threading.Thread(target=post_two) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = sorted(r["sequence"] for r in rows(
        engine, "SELECT sequence FROM events WHERE message_id = :m", m=message))
    assert got == list(range(1, 13))


def test_a_failing_head_holds_the_next_event_of_its_message(
        client, engine, settings, subscriber, make_worker, frozen_clock):
    """The subscriber answers 500 to the first message.sent: it gets sent, sent again, then
    delivered, never delivered first; another message is not held meanwhile."""
    subscribe(engine, settings, subscriber.url)
    subscriber.reply(500)
    message = f"msg_{uuid.uuid4().hex}"
    send_honkio(client, "sent", message)
    frozen_clock.advance(0.1)
    send_honkio(client, "delivered", message)
    worker = make_worker(retry_schedule=(0, 10, 60))
    assert worker.run_once() == 1
    assert arrivals(subscriber) == [("message.sent", 1)]
    send_honkio(client, "delivered")  # another message
    assert worker.run_once() == 1
    assert [t for t, _ in arrivals(subscriber)] == ["message.sent", "message.delivered"]
    assert worker.run_once() == 0, "the delivered receipt must wait for its message's sent"
    frozen_clock.advance(12)
    assert worker.run_once() == 1
    assert worker.run_once() == 1
    assert arrivals(subscriber)[2:] == [("message.sent", 1), ("message.delivered", 2)]


def test_each_target_is_ordered_on_its_own(client, engine, settings, subscriber, make_worker,
                                           frozen_clock):
    """A head failing at one subscription holds nothing back at another."""
    subscribe(engine, settings, subscriber.url + "/a")
    subscribe(engine, settings, subscriber.url + "/b")
    subscriber.answer = lambda r: (500, {}, b"") if r.path.endswith("/a") else None
    message = f"msg_{uuid.uuid4().hex}"
    send_honkio(client, "sent", message)
    send_honkio(client, "delivered", message)
    worker = make_worker(retry_schedule=(0, 10))
    worker.run_once()
    worker.run_once()
    by_path = [(r.path[-1], json.loads(r.body)["sequence"]) for r in subscriber.received]
    assert sorted(by_path) == [("a", 1), ("b", 1), ("b", 2)]


def test_a_dead_head_lets_the_next_go(client, engine, settings, subscriber, make_worker,
                                      frozen_clock):
    subscribe(engine, settings, subscriber.url)
    subscriber.reply(500)
    message = f"msg_{uuid.uuid4().hex}"
    send_honkio(client, "sent", message)
    send_honkio(client, "delivered", message)
    worker = make_worker(retry_schedule=(0,))  # one attempt, then dead
    assert worker.run_once() == 1
    assert worker.run_once() == 1
    assert arrivals(subscriber) == [("message.sent", 1), ("message.delivered", 2)]
    assert [r["state"] for r in rows(engine, "SELECT d.state FROM deliveries d JOIN events e "
                                     "ON e.id = d.event_id ORDER BY e.sequence")] \
        == ["dead", "succeeded"]


def test_a_cancelled_head_lets_the_next_go(client, engine, settings, subscriber, make_worker,
                                           frozen_clock):
    """A subscription disabled while its head waits for a retry: the rest is cancelled at
    once, one after the other, without waiting for the head's schedule."""
    sub_id = subscribe(engine, settings, subscriber.url)
    subscriber.reply(500)
    message = f"msg_{uuid.uuid4().hex}"
    send_honkio(client, "sent", message)
    send_honkio(client, "delivered", message)
    worker = make_worker(retry_schedule=(0, 3600))
    worker.run_once()
    with engine.begin() as conn:
        conn.execute(text("UPDATE subscriptions SET active = false WHERE id = :id"),
                     {"id": sub_id})
        conn.execute(text("UPDATE deliveries SET next_attempt_at = :now WHERE state = "
                          "'pending' AND attempts = 1"), {"now": clock.now()})
    assert worker.run_once() == 1
    assert worker.run_once() == 1
    assert {r["state"] for r in rows(engine, "SELECT state FROM deliveries")} == {"cancelled"}


def test_replays_are_not_held_and_hold_nothing(client, engine, settings, subscriber,
                                               make_worker, frozen_clock):
    subscribe(engine, settings, subscriber.url)
    worker = make_worker(retry_schedule=(0, 10, 60))
    # Not held: message A's sent waits for its retry, and a replay of its delivered goes.
    a = f"msg_{uuid.uuid4().hex}"
    subscriber.reply(500)
    send_honkio(client, "sent", a)
    (a_delivered,) = send_honkio(client, "delivered", a)
    assert worker.run_once() == 1
    replay(engine, settings, ReplayRequest(event_ids=[a_delivered]), clock.now())
    assert worker.run_once() == 1, "a replay is not held by its message's pending head"
    assert arrivals(subscriber)[-1] == ("message.delivered", 2)
    assert worker.run_once() == 0  # the original delivered still waits for sent
    # Holds nothing: a failing replay of message B's sent does not hold B's delivered.
    b = f"msg_{uuid.uuid4().hex}"
    (b_sent,) = send_honkio(client, "sent", b)
    assert worker.run_once() == 1
    replay(engine, settings, ReplayRequest(event_ids=[b_sent]), clock.now())
    subscriber.reply(500)
    assert worker.run_once() == 1
    send_honkio(client, "delivered", b)
    assert worker.run_once() == 1
    assert arrivals(subscriber)[-1] == ("message.delivered", 2)
    pending = rows(engine, "SELECT event_id, replay FROM deliveries WHERE state = 'pending'")
    assert sorted((r["event_id"] == b_sent, bool(r["replay"])) for r in pending) \
        == [(False, False), (False, False), (True, True)]


def test_migration_numbers_existing_events(database_url):
    """Events stored before the migration get their sequence in the order received, and
    ingest goes on from each message's last."""
    engine = make_engine(database_url)
    config = alembic_config()
    before = ScriptDirectory.from_config(config).get_revision("0011").down_revision
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, before)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO receipts (id, vendor, received_at, method, headers, "
                          "body, state) VALUES ('rcv_1', 'honkio', :at, 'POST', '{}', :b, "
                          "'parsed')"), {"at": clock.now(), "b": b""})
        # (id, vendor, message, received second): the ids do not sort as received.
        for event_id, vendor, message, second in [
                ("evt_c", "honkio", "m1", 1), ("evt_a", "honkio", "m1", 2),
                ("evt_b", "honkio", "m1", 2), ("evt_d", "canary", "m1", 0),
                ("evt_e", "honkio", None, 3)]:
            conn.execute(text(
                "INSERT INTO events (id, dedup_key, receipt_id, vendor, type, message_id, "
                "received_at, disposition, data) VALUES (:id, :id, 'rcv_1', :vendor, "
                "'message.sent', :message, :at, 'fanout', '{}')"),
                {"id": event_id, "vendor": vendor, "message": message,
                 "at": clock.now().replace(second=second)})
    upgrade(engine)
    got = {r["id"]: r["sequence"] for r in rows(engine, "SELECT id, sequence FROM events")}
    assert got == {"evt_c": 1, "evt_a": 2, "evt_b": 3, "evt_d": 1, "evt_e": None}
    counters = {(r["vendor"], r["message_id"]): r["sequence"]
                for r in rows(engine, "SELECT * FROM message_sequences")}
    assert counters == {("honkio", "m1"): 3, ("canary", "m1"): 1}
    engine.dispose()
