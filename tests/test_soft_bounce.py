"""A soft bounce gives way to a later delivery, in either order of arrival; a permanent
failure stays first-terminal-wins. Through Transmit SMS, whose DLRs say which is which."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from switchboard import clock
from switchboard.operations import subscriptions as subs
from switchboard.operations.replay import replay_from_json
from switchboard.router.projection import CONFLICT, FANOUT, SUPERSEDED, decide
from switchboard.worker.runner import Worker
from tests.conftest import SECRETS, rows

TOKEN = SECRETS["transmitsms"][0]


def dlr(client, status: str, at: str, message_id: str = "777001") -> str:
    query = urlencode({"message_id": message_id, "mobile": "61400000000",
                       "datetime": f"2026-11-22 {at}", "status": status, "user_id": "4321"})
    answer = client.get(f"/webhooks/transmitsms/{TOKEN}", query_string=query)
    assert answer.status_code == 200, answer.get_json()
    (event_id,) = answer.get_json()["event_ids"]
    return event_id


def status_row(engine, message_id: str = "777001") -> dict:
    (row,) = rows(engine, "SELECT * FROM message_status WHERE message_id = :m", m=message_id)
    return dict(row)


def dispositions(engine) -> list[tuple[str, str]]:
    return [(r["type"], r["disposition"])
            for r in rows(engine, "SELECT type, disposition FROM events ORDER BY id")]


def sent_types(engine, settings, subscriber) -> list[str]:
    worker = Worker(engine, settings, concurrency=2)
    while worker.run_once():
        pass
    worker.close()
    return [json.loads(r.body)["type"] for r in subscriber.received]


def subscribe(engine, settings, subscriber) -> None:
    with engine.begin() as conn:
        subs.create(conn, settings, clock.now(), url=subscriber.url, event_types=["*"])


def terminal_count(status: str, reason: str) -> float:
    return REGISTRY.get_sample_value("switchboard_messages_terminal_total", {
        "vendor": "transmitsms", "status": status, "reason": reason}) or 0.0


def test_soft_bounce_then_delivered_moves_on_and_fans_out(client, engine, settings, subscriber,
                                                          frozen_clock):
    subscribe(engine, settings, subscriber)
    delivered_before = terminal_count("delivered", "")
    dlr(client, "pending", "04:00:00")
    dlr(client, "soft-bounce", "04:01:00")
    bounced = status_row(engine)
    assert (bounced["status"], bounced["reason"], bounced["permanent"]) == (
        "undelivered", "unreachable", False)
    delivered_id = dlr(client, "delivered", "04:05:00")
    row = status_row(engine)
    assert (row["status"], row["event_id"], row["conflict_status"]) == (
        "delivered", delivered_id, None)
    assert (row["reason"], row["permanent"], row["country"]) == (None, None, "AU")
    assert dispositions(engine) == [("message.sent", FANOUT), ("message.undelivered", FANOUT),
                                    ("message.delivered", FANOUT)]
    # All three are sent (in which order is the ordered-delivery work's to say).
    assert sorted(sent_types(engine, settings, subscriber)) == [
        "message.delivered", "message.sent", "message.undelivered"]
    assert terminal_count("delivered", "") == delivered_before + 1


def test_delivered_then_late_soft_bounce_is_superseded(client, engine, settings, subscriber,
                                                       frozen_clock):
    subscribe(engine, settings, subscriber)
    delivered_id = dlr(client, "delivered", "04:05:00")
    dlr(client, "soft-bounce", "04:01:00")
    row = status_row(engine)
    assert (row["status"], row["event_id"], row["conflict_status"]) == (
        "delivered", delivered_id, None)
    assert (row["reason"], row["permanent"]) == (None, None)
    assert dispositions(engine) == [("message.delivered", FANOUT),
                                    ("message.undelivered", SUPERSEDED)]
    assert sent_types(engine, settings, subscriber) == ["message.delivered"]


def test_hard_bounce_stays_first_terminal(client, engine, frozen_clock):
    bounce_id = dlr(client, "hard-bounce", "04:01:00")
    delivered_id = dlr(client, "delivered", "04:05:00")
    row = status_row(engine)
    assert (row["status"], row["event_id"], row["reason"], row["permanent"]) == (
        "undelivered", bounce_id, "invalid_number", True)
    assert (row["conflict_status"], row["conflict_event_id"]) == ("delivered", delivered_id)
    assert dispositions(engine)[-1] == ("message.delivered", CONFLICT)


@pytest.mark.parametrize("order", [("soft-bounce", "delivered"), ("delivered", "soft-bounce")])
def test_renormalize_rebuilds_the_same_status(client, engine, settings, frozen_clock, order):
    for status, at in zip(order, ("04:01:00", "04:05:00"), strict=True):
        dlr(client, status, at)
    before = status_row(engine)
    replay_from_json(engine, settings, {"filter": {"vendor": "transmitsms"},
                                        "renormalize": True, "dry_run": False}, clock.now())
    after = status_row(engine)
    for column in ("status", "event_id", "reason", "permanent", "country", "conflict_status",
                   "first_receipt_at", "delivered_at"):
        assert after[column] == before[column], column


@pytest.mark.parametrize(("current", "new", "current_permanent", "new_permanent", "expected"), [
    ("undelivered", "delivered", False, None, FANOUT),  # a soft bounce gives way
    ("failed", "delivered", False, None, FANOUT),
    ("undelivered", "delivered", True, None, CONFLICT),  # a hard bounce does not
    ("undelivered", "delivered", None, None, CONFLICT),  # nor one that does not say
    ("delivered", "undelivered", None, False, SUPERSEDED),  # a soft bounce reported late
    ("delivered", "undelivered", None, True, CONFLICT),
    ("delivered", "undelivered", None, None, CONFLICT),
    ("undelivered", "expired", False, False, CONFLICT),  # only a delivery moves past it
    ("undelivered", "undelivered", False, True, SUPERSEDED),
    ("sent", "undelivered", None, False, FANOUT),
    ("undelivered", "sent", False, None, SUPERSEDED),
    ("undelivered", "read", False, None, FANOUT),
])
def test_decide(current, new, current_permanent, new_permanent, expected):
    assert decide(current, new, current_permanent, new_permanent) == expected


def test_renormalize_brings_older_events_up_to_the_new_fields(client, engine, settings,
                                                             frozen_clock):
    """An event stored before reason, permanent and country existed, and its message's
    status row as the 0010 migration left it, get them from `replay --renormalize`."""
    dlr(client, "pending", "04:00:00")
    event_id = dlr(client, "hard-bounce", "04:01:00")
    with engine.begin() as conn:
        for row in rows(engine, "SELECT id, data FROM events"):
            data = row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])
            old = {k: v for k, v in data.items() if k not in ("reason", "permanent", "country")}
            conn.execute(text("UPDATE events SET data = :d WHERE id = :i"),
                         {"d": json.dumps(old), "i": row["id"]})
        conn.execute(text("UPDATE message_status SET reason = NULL, permanent = NULL, "
                          "country = NULL, accepted_at = NULL"))
    answer = replay_from_json(engine, settings, {"filter": {"vendor": "transmitsms"},
                                                 "renormalize": True}, clock.now())
    assert answer["renormalized"]["changed_count"] == 2
    (stored,) = rows(engine, "SELECT data FROM events WHERE id = :i", i=event_id)
    data = stored["data"] if isinstance(stored["data"], dict) else json.loads(stored["data"])
    assert (data["reason"], data["permanent"], data["country"]) == ("invalid_number", True, "AU")
    row = status_row(engine)
    assert (row["reason"], row["permanent"], row["country"]) == ("invalid_number", True, "AU")
    assert row["accepted_at"] is not None
