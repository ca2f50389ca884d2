"""With a million message statuses stored (PostgreSQL plans), the workers' overdue check reads
its partial index, never the table, and the scorecard finds a narrow window through its
index. The statements are the modules' own, EXPLAINed with the parameters they run with.
The timings at that size are bench/scorecard.py's (`make bench`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from switchboard.models import Base
from switchboard.operations.stats import StatsFilter, provider_stats
from switchboard.store.db import make_engine
from switchboard.store.overdue import CLAIM
from switchboard.worker import overdue
from tests.conftest import PG_URL
from tests.test_query_plans import captured_plans, nodes

ROWS = 1_000_000
NOW = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)

# 92% terminal, the rest waiting, their latest receipts over 30 days; first receipts over 14.
SEED = """
INSERT INTO message_status (vendor, message_id, status, rank, event_id, updated_at, country,
                            reason, first_receipt_at, last_receipt_at, overdue_at)
SELECT (ARRAY['honkio','canary','boomware','transmitsms','phonify'])[1 + n % 5], 'msg_' || n,
       CASE WHEN n % 100 < 85 THEN 'delivered' WHEN n % 100 < 92 THEN 'failed' ELSE 'sent' END,
       CASE WHEN n % 100 < 92 THEN 100 ELSE 20 END, 'evt_' || n, :now,
       (ARRAY['CA','US','GB','AU'])[1 + n % 4],
       CASE WHEN n % 100 BETWEEN 85 AND 91 THEN 'unknown' END,
       :now - (n % 1209600 || ' seconds')::interval,
       :now - (n % 2592000 || ' seconds')::interval,
       CASE WHEN n % 100 >= 92 AND n % 3 = 0 THEN :now END
FROM generate_series(1, :rows) AS n
"""


@pytest.fixture(scope="module")
def statuses(request):
    url = request.getfixturevalue("_pg_migrated")
    engine = make_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        conn.execute(text(SEED), {"now": NOW, "rows": ROWS})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE message_status")
    yield engine
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    engine.dispose()


def explain(engine, statement, params: dict) -> dict:
    compiled = statement.compile(dialect=engine.dialect)
    with engine.connect() as conn:
        (plan,) = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled),
                                       compiled.params | params).one()
    return (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]


def scans(plan: dict) -> list[tuple[str, str | None]]:
    return [(n["Node Type"], n.get("Index Name")) for n in nodes(plan)
            if n.get("Relation Name") == "message_status"]


pg_only = pytest.mark.skipif(not PG_URL, reason="query plans are PostgreSQL's; "
                             "SWITCHBOARD_TEST_DATABASE_URL is set in CI")


@pg_only
def test_overdue_check_reads_only_its_partial_index(statuses):
    plan = explain(statuses, CLAIM, {
        "cutoff": NOW - timedelta(days=1), "limit": overdue.BATCH, "now": NOW})
    found = scans(plan)
    assert ("Seq Scan", None) not in found, json.dumps(plan)[:3000]
    assert any(index == "ix_message_status_overdue" for _, index in found), found


@pg_only
def test_overdue_check_claims_a_batch_of_a_million(statuses):
    """Run for real (rolled back): a batch claimed, each its one event."""
    with statuses.connect() as conn, conn.begin() as tx:
        made = overdue.check_batch(conn, 86400, NOW, 50)
        assert made == 50
        tx.rollback()


@pg_only
def test_scorecard_finds_a_narrow_window_through_its_index(statuses):
    where = StatsFilter(since=NOW - timedelta(hours=1), until=NOW)
    plans = captured_plans(statuses, lambda conn: provider_stats(conn, where))
    assert len(plans) == 2  # the counts (reasons among them), and the percentiles
    for plan in plans:
        found = scans(plan[0]["Plan"])
        assert ("Seq Scan", None) not in found, json.dumps(plan)[:3000]
        assert any(index == "ix_message_status_first_receipt" for _, index in found), found
