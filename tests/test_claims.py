"""What workers can take: a claim takes the oldest due rows up to its limit under a lease, no
other worker takes them until the lease runs out or they are given back, and what the holder
writes down is exactly its outcome."""

from __future__ import annotations

from datetime import timedelta

from switchboard.store import deliveries as store
from switchboard.store.deliveries import Outcome
from tests.callbacks import send_honkio
from tests.conftest import expand_owed
from tests.test_fanout import attempts, deliveries, subscribe

LEASE = timedelta(seconds=30)


def owed(client, engine, settings, subscriber, frozen_clock, count: int) -> list[str]:
    """`count` deliveries to one subscriber, each due one second after the one before;
    their ids, oldest first."""
    subscribe(engine, settings, subscriber.url)
    for _ in range(count):
        send_honkio(client)
        expand_owed(engine)
        frozen_clock.advance(1)
    return [d["id"] for d in sorted(deliveries(engine), key=lambda d: d["next_attempt_at"])]


def claim(engine, worker: str, now, limit: int = 10) -> list:
    with engine.begin() as conn:
        return store.claim(conn, worker, now, limit, LEASE)


def test_a_claim_takes_the_oldest_due_rows_up_to_its_limit(client, engine, settings,
                                                             subscriber, frozen_clock):
    ids = owed(client, engine, settings, subscriber, frozen_clock, 3)
    now = frozen_clock.moment
    taken = claim(engine, "a", now, limit=2)
    assert [row.id for row in sorted(taken, key=lambda r: r.id)] == sorted(ids[:2])
    row = next(r for r in taken if r.id == ids[0])
    assert (row.url, row.active, row.attempts, row.type, row.vendor) == \
        (subscriber.url, True, 0, "message.delivered", "honkio")
    held = {d["id"]: d for d in deliveries(engine)}
    assert {held[i]["leased_by"] for i in ids[:2]} == {"a"}
    assert {held[i]["lease_until"] for i in ids[:2]} == {now + LEASE}
    assert held[ids[2]]["leased_by"] is None
    # Nothing left but the third row for anyone else.
    assert [row.id for row in claim(engine, "b", now)] == [ids[2]]
    assert claim(engine, "c", now) == []


def test_a_row_not_yet_due_is_not_claimed(client, engine, settings, subscriber, frozen_clock):
    owed(client, engine, settings, subscriber, frozen_clock, 1)
    assert claim(engine, "a", frozen_clock.moment - timedelta(seconds=5)) == []


def test_a_lease_keeps_the_row_until_it_runs_out(client, engine, settings, subscriber,
                                                 frozen_clock):
    (only,) = owed(client, engine, settings, subscriber, frozen_clock, 1)
    start = frozen_clock.moment
    assert [row.id for row in claim(engine, "a", start)] == [only]
    assert claim(engine, "b", start + LEASE - timedelta(seconds=1)) == []
    assert claim(engine, "b", start + LEASE) == []  # runs out after its last instant
    assert [row.id for row in claim(engine, "b", start + LEASE + timedelta(seconds=1))] == \
        [only]


def test_given_back_rows_are_free_at_once_and_only_the_holder_gives_back(
        client, engine, settings, subscriber, frozen_clock):
    (only,) = owed(client, engine, settings, subscriber, frozen_clock, 1)
    now = frozen_clock.moment
    claim(engine, "a", now)
    with engine.begin() as conn:
        store.release(conn, "b", [only])  # not b's to give
        store.release(conn, "a", [])
    assert claim(engine, "b", now) == []
    with engine.begin() as conn:
        store.release(conn, "a", [only])
    (delivery,) = deliveries(engine)
    assert (delivery["state"], delivery["attempts"]) == ("pending", 0)
    assert delivery["leased_by"] is delivery["lease_until"] is None
    assert [row.id for row in claim(engine, "b", now)] == [only]


def test_the_holder_writes_down_exactly_its_outcome(client, engine, settings, subscriber,
                                                    frozen_clock):
    retried, cancelled = owed(client, engine, settings, subscriber, frozen_clock, 2)
    now = frozen_clock.moment
    claim(engine, "a", now)
    later = now + timedelta(seconds=90)
    outcomes = [
        Outcome(retried, "pending", 1, later, None, "HTTP 503",
                {"delivery_id": retried, "started_at": now, "duration_ms": 12.5,
                 "status_code": 503, "error": "HTTP 503", "response_body": "busy"}),
        Outcome(cancelled, "cancelled", 0, now, now, "subscription disabled", None),
    ]
    with engine.begin() as conn:
        assert store.record(conn, "a", [], now, 3600) == []
        written = store.record(conn, "a", outcomes, now, 3600)
    assert [o.delivery_id for o in written] == [retried, cancelled]
    stored = {d["id"]: d for d in deliveries(engine)}
    assert {k: stored[retried][k] for k in ("state", "attempts", "next_attempt_at",
                                            "finished_at", "last_error", "leased_by",
                                            "lease_until")} == {
        "state": "pending", "attempts": 1, "next_attempt_at": later, "finished_at": None,
        "last_error": "HTTP 503", "leased_by": None, "lease_until": None}
    assert {k: stored[cancelled][k] for k in ("state", "attempts", "finished_at",
                                              "last_error", "leased_by")} == {
        "state": "cancelled", "attempts": 0, "finished_at": now,
        "last_error": "subscription disabled", "leased_by": None}
    (attempt,) = attempts(engine, retried)
    assert {k: attempt[k] for k in ("started_at", "duration_ms", "status_code", "error",
                                    "response_body")} == {
        "started_at": now, "duration_ms": 12.5, "status_code": 503, "error": "HTTP 503",
        "response_body": "busy"}
    assert attempts(engine, cancelled) == []  # nothing was tried
    # Written down and let go: due again at `later`, for anyone.
    assert claim(engine, "b", later - timedelta(seconds=1)) == []
    assert [row.id for row in claim(engine, "b", later)] == [retried]
