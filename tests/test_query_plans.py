"""Every admin list query uses an index with a million events stored (PostgreSQL plans):
each filter alone and combined, its second page (the cursor), and a message's history.

The queries are the admin functions' own, captured as they run, then EXPLAINed with the
same parameters, so the test stays true when the queries change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from switchboard.models import Base
from switchboard.operations.deliveries import list_deliveries
from switchboard.operations.events import EventFilter, list_events
from switchboard.operations.messages import get_message
from switchboard.operations.search import search
from switchboard.store.db import make_engine
from tests.conftest import PG_URL

ROWS = 1_000_000

SEED = """
INSERT INTO receipts (id, vendor, received_at, method, headers, body, state)
VALUES ('rcv_seed', 'honkio', now(), 'POST', '{}', '', 'parsed');
INSERT INTO subscriptions (id, url, event_types, description, active, secret, created_at)
VALUES ('sub_' || lpad('', 26, '0'), 'http://127.0.0.1:9/', '["*"]', '', true, 'whsec_x',
        now());
INSERT INTO events (id, dedup_key, receipt_id, vendor, type, message_id, status,
                    received_at, disposition, data, sequence)
SELECT 'evt_' || lpad(n::text, 26, '0'), 'seed:' || n, 'rcv_seed',
       (ARRAY['honkio','canary','boomware','transmitsms','phonify'])[1 + mod(n, 5)],
       (ARRAY['message.delivered','message.sent','message.failed',
              'message.received'])[1 + mod(n, 4)],
       'msg_' || (n / 3), (ARRAY['delivered','sent','failed',NULL])[1 + mod(n, 4)],
       now() - (n || ' seconds')::interval, 'fanout',
       -- 10,000 customers; every event from one sender, the worst case for phone search
       json_build_object('to', '+1613555' || lpad(mod(n, 10000)::text, 4, '0'),
                         'from', '+447700900000'),
       1 + mod(n, 3)
FROM generate_series(1, {rows}) AS n;
INSERT INTO deliveries (id, event_id, subscription_id, state, attempts, next_attempt_at,
                        replay, created_at)
SELECT 'dlv_' || lpad(n::text, 26, '0'), 'evt_' || lpad(n::text, 26, '0'),
       'sub_' || lpad('', 26, '0'),
       CASE WHEN mod(n, 1000) = 0 THEN 'dead' WHEN mod(n, 1000) = 500 THEN 'pending'
            ELSE 'succeeded' END, 1, now(), false,
       now() - (n || ' seconds')::interval
FROM generate_series(1, {rows}) AS n;
UPDATE events SET fanout_owed = true WHERE id > 'evt_' || lpad('{owed_from}', 26, '0');
-- An attempt each for the last two days' finished deliveries, 3 s after each was owed: the
-- home page's worker lag reads them, and with none stored PostgreSQL planned it differently.
INSERT INTO attempts (delivery_id, started_at, duration_ms, status_code)
SELECT id, created_at + interval '3 seconds', 5, 200 FROM deliveries
WHERE state <> 'pending' AND created_at > now() - interval '2 days';
ANALYZE;
"""

# Seeded events were received one a second back from now: a week ago and a day ago cut
# through the middle of them.
WEEK_AGO = (datetime.now(UTC) - timedelta(days=7)).isoformat()
DAY_AGO = (datetime.now(UTC) - timedelta(days=1)).isoformat()
EVENT_FILTERS = [{}, {"vendor": "canary"}, {"type": "message.failed"},
                 {"status": "delivered"}, {"message_id": "msg_4242"},
                 {"since": WEEK_AGO}, {"until": DAY_AGO}, {"since": WEEK_AGO, "until": DAY_AGO},
                 {"vendor": "honkio", "limit": "500"},
                 {"vendor": "canary", "type": "message.sent"},
                 {"status": "failed", "since": WEEK_AGO},
                 {"vendor": "canary", "message_id": "msg_4242"}]
PAGED_FILTERS = [a for a in EVENT_FILTERS if set(a) != {"vendor", "message_id"}]  # one event
DELIVERY_FILTERS = [{}, {"state": "dead"}, {"state": "pending"},
                    {"event_id": "evt_" + "1".zfill(26)}, {"subscription_id": "sub_" + "0" * 26},
                    {"subscription_id": "sub_" + "0" * 26, "state": "dead"}]


@pytest.fixture(scope="module")
def big_database(request):
    url = request.getfixturevalue("_pg_migrated")
    engine = make_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        seed = SEED.replace("{rows}", str(ROWS)).replace("{owed_from}", str(ROWS - 1000))
        for statement in seed.split(";\n"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    yield engine
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    engine.dispose()


def captured_plans(engine, run) -> list[dict]:
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            run(conn)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    plans = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            (plan,) = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement,
                                           parameters).one()
            plans.append(plan if isinstance(plan, list) else json.loads(plan))
    return plans


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def assert_indexed(plans: list) -> None:
    assert plans
    for plan in plans:
        seq_scans = [n["Relation Name"] for n in nodes(plan[0]["Plan"])
                     if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in
                     {"events", "deliveries"}]
        assert seq_scans == [], json.dumps(plan)[:2000]


@pytest.mark.skipif(not PG_URL, reason="query plans are PostgreSQL's; "
                    "SWITCHBOARD_TEST_DATABASE_URL is set in CI")
@pytest.mark.parametrize("args", EVENT_FILTERS, ids=lambda a: ",".join(a) or "none")
def test_event_lists_use_an_index(big_database, args):
    assert_indexed(captured_plans(big_database,
                                  lambda conn: list_events(conn, EventFilter.parse(args))))


@pytest.mark.skipif(not PG_URL, reason="query plans are PostgreSQL's; "
                    "SWITCHBOARD_TEST_DATABASE_URL is set in CI")
@pytest.mark.parametrize("args", PAGED_FILTERS, ids=lambda a: ",".join(a) or "none")
def test_event_list_second_pages_use_an_index(big_database, args):
    args = {"limit": "1"} | args

    def two_pages(conn) -> None:
        first = list_events(conn, EventFilter.parse(args))
        assert first["next_cursor"], "the seed should give every filter a second page"
        list_events(conn, EventFilter.parse(args | {"cursor": first["next_cursor"]}))

    plans = captured_plans(big_database, two_pages)
    assert len(plans) == 2
    assert_indexed(plans)


@pytest.mark.skipif(not PG_URL, reason="query plans are PostgreSQL's; "
                    "SWITCHBOARD_TEST_DATABASE_URL is set in CI")
@pytest.mark.parametrize("args", DELIVERY_FILTERS,
                         ids=lambda a: ",".join(f"{k}={v}" for k, v in a.items()) or "none")
def test_delivery_lists_use_an_index(big_database, args):
    def two_pages(conn) -> None:
        first = list_deliveries(conn, args | {"limit": "1"})
        if first["next_cursor"]:
            list_deliveries(conn, args | {"limit": "1", "cursor": first["next_cursor"]})

    assert_indexed(captured_plans(big_database, two_pages))


@pytest.mark.skipif(not PG_URL, reason="query plans are PostgreSQL's; "
                    "SWITCHBOARD_TEST_DATABASE_URL is set in CI")
def test_message_history_uses_an_index(big_database):
    def history(conn) -> None:
        assert len(get_message(conn, "canary", "msg_4242")["history"]) >= 1

    assert_indexed(captured_plans(big_database, history))


@pytest.mark.skipif(not PG_URL, reason="query plans are PostgreSQL's; "
                    "SWITCHBOARD_TEST_DATABASE_URL is set in CI")
def test_owed_fanouts_are_found_through_their_partial_index(big_database):
    """A worker's expansion claim and the metrics' backlog read only the owed events,
    however many events are stored."""
    from switchboard.store.deliveries import CLAIM_OWED
    from switchboard.store.queue import OWED

    plans = []
    with big_database.connect() as conn:
        for query in (CLAIM_OWED, OWED):
            compiled = query.compile(dialect=big_database.dialect)
            params = {"limit": 64} | {k: v for k, v in compiled.params.items() if k != "limit"}
            (plan,) = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled),
                                           params).one()
            plans.append(plan if isinstance(plan, list) else json.loads(plan))
    assert_indexed(plans)
    used = {n.get("Index Name") for plan in plans for n in nodes(plan[0]["Plan"])}
    assert "ix_events_fanout_owed" in used


@pytest.mark.skipif(not PG_URL, reason="query plans are PostgreSQL's; "
                    "SWITCHBOARD_TEST_DATABASE_URL is set in CI")
@pytest.mark.parametrize("number", ["+1 613 555 0042", "+447700900000"],
                         ids=["a customer", "the sender of every event"])
def test_phone_search_walks_its_indexes(big_database, number):
    def two_pages(conn) -> None:
        first = search(conn, {"q": number, "limit": "20"})
        assert len(first["events"]) == 20 and first["next_cursor"]
        search(conn, {"q": number, "limit": "20", "cursor": first["next_cursor"]})

    plans = captured_plans(big_database, two_pages)
    phone_plans = [p for p in plans if "data ->> " in json.dumps(p)]
    assert len(phone_plans) == 4  # to and from, two pages
    assert_indexed(plans)
    used = {n.get("Index Name") for plan in phone_plans for n in nodes(plan[0]["Plan"])}
    if number.startswith("+1"):
        assert {"ix_events_to_received", "ix_events_from_received"} <= used
    # Each side stops after a page: no Sort of every match. (For a number on every event,
    # walking the newest events and filtering is as good, and the planner may choose it.)
    assert not [n for plan in phone_plans for n in nodes(plan[0]["Plan"])
                if n["Node Type"] == "Sort"]


@pytest.mark.skipif(not PG_URL, reason="query plans are PostgreSQL's; "
                    "SWITCHBOARD_TEST_DATABASE_URL is set in CI")
def test_console_home_reads_one_day_by_index(big_database):
    """A day is 86,400 of the million seeded deliveries, one a second: read from
    ix_deliveries_state_created a state at a time, and the queue through its indexes."""
    from switchboard.operations.overview import overview

    def home(conn) -> None:
        shown = overview(conn, datetime.now(UTC))
        assert sum(shown["deliveries"]["succeeded"]) > 80_000
        assert 3 <= max(shown["worker_lag_hourly"]) and shown["dead_hourly"][-1] == 1000

    assert_indexed(captured_plans(big_database, home))


@pytest.mark.skipif(not PG_URL, reason="query plans are PostgreSQL's; "
                    "SWITCHBOARD_TEST_DATABASE_URL is set in CI")
def test_the_ordered_claim_reads_only_due_rows_and_their_messages(big_database):
    """The claim's check for an earlier pending delivery of the same message goes through
    the message's events and their deliveries by index, never a scan of either table."""
    from switchboard.store.deliveries import CLAIM

    compiled = CLAIM.compile(dialect=big_database.dialect)
    params = compiled.params | {"now": datetime.now(UTC), "limit": 64, "worker": "w",
                                "lease_until": datetime.now(UTC) + timedelta(minutes=1)}
    with big_database.connect() as conn:
        (plan,) = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled),
                                       params).one()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    assert_indexed([plan])
