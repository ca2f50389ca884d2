"""Retention: `switchboard purge --older-than` deletes old events, receipts and finished
deliveries in batches, never an event still owed a delivery; --dry-run only counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from switchboard.cli import cli
from switchboard.operations import subscriptions as subs
from switchboard.operations.retention import parse_duration
from switchboard.worker.runner import Worker
from tests.callbacks import send_honkio
from tests.conftest import expand_owed, rows
from tests.test_observability import signed_honkio


def counts(engine) -> dict[str, int]:
    return {table: rows(engine, f"SELECT count(*) AS n FROM {table}")[0]["n"]
            for table in ("events", "receipts", "deliveries", "attempts", "message_status")}


@pytest.fixture
def history(client, engine, settings, subscriber, frozen_clock):
    """31 days ago: three events delivered (finished), one still owed (pending), one still
    owed its fan-out (no worker expanded it yet), one failed receipt; now: one new event
    (not expanded either). Returns the ids that must survive."""
    with engine.begin() as conn:
        subs.create(conn, settings, frozen_clock(), url=subscriber.url, event_types=["*"])
    delivered = [send_honkio(client)[0] for _ in range(3)]
    worker = Worker(engine, settings, concurrency=2)
    try:
        assert worker.run_once() == 3
    finally:
        worker.close()
    (owed,) = send_honkio(client)
    expand_owed(engine)  # never sent: pending
    (unexpanded,) = send_honkio(client)
    assert signed_honkio(client, b'{"type": "message.delivered"}').status_code == 400
    frozen_clock.advance(31 * 86400)
    (recent,) = send_honkio(client)
    return {"delivered": delivered, "owed": owed, "unexpanded": unexpanded, "recent": recent}


def test_dry_run_counts_and_deletes_nothing(app, engine, history):
    before = counts(engine)
    result = app.test_cli_runner().invoke(cli, ["purge", "--older-than", "30d", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would delete 3 deliveries, 3 attempts, 3 events, 4 receipts" in result.output
    assert counts(engine) == before


def test_purge_deletes_old_finished_history_in_batches_and_keeps_what_is_owed(
        app, engine, history):
    result = app.test_cli_runner().invoke(
        cli, ["purge", "--older-than", "30d", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "deleted 3 deliveries, 3 attempts, 3 events, 4 receipts" in result.output
    kept = {r["id"] for r in rows(engine, "SELECT id FROM events")}
    assert kept == {history["owed"], history["unexpanded"], history["recent"]}
    assert {r["state"] for r in rows(engine, "SELECT state FROM deliveries")} == {"pending"}
    assert counts(engine) == {"events": 3, "receipts": 3, "deliveries": 1, "attempts": 0,
                              # the current state of every message, purged or not
                              "message_status": 6}
    again = app.test_cli_runner().invoke(cli, ["purge", "--older-than", "30d", "--dry-run"])
    assert "would delete 0 deliveries, 0 attempts, 0 events, 0 receipts" in again.output


def test_nothing_is_old_enough(app, engine, history):
    before = counts(engine)
    result = app.test_cli_runner().invoke(cli, ["purge", "--older-than", "90d"])
    assert "deleted 0 deliveries, 0 attempts, 0 events, 0 receipts" in result.output
    assert counts(engine) == before


def test_help_says_message_status_stays(app):
    result = app.test_cli_runner().invoke(cli, ["purge", "--help"])
    assert "message_status" in result.output and "--dry-run" in result.output


@pytest.mark.parametrize("text, expected", [
    ("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90)),
    ("45s", timedelta(seconds=45)), ("2w", timedelta(weeks=2)),
])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30", "d", "0d", "-1d", "1.5d", "30 days", ""])
def test_bad_durations_are_a_usage_error(app, text):
    with pytest.raises(ValueError):
        parse_duration(text)
    result = app.test_cli_runner().invoke(cli, ["purge", "--older-than", text])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
