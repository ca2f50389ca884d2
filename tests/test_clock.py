"""The frozen clock holds for the whole test, whatever the test takes back."""

from __future__ import annotations

from switchboard import clock
from tests.conftest import FROZEN_AT


def test_undoing_a_tests_patches_leaves_the_clock_frozen(frozen_clock, monkeypatch):
    monkeypatch.setattr(clock, "__doc__", "patched by this test")
    frozen_clock.advance(60)
    monkeypatch.undo()
    assert clock.__doc__ != "patched by this test"
    assert (clock.now() - FROZEN_AT).total_seconds() == 60


def test_every_time_is_written_one_way():
    """UTC with Z, milliseconds only when present, a four-digit year (RFC 3339): the events,
    the subscriptions and the scorecard's window all say times through events.isoformat."""
    from datetime import UTC, datetime, timedelta, timezone

    from switchboard.events import isoformat

    assert isoformat(datetime(2026, 11, 22, 5, 0, tzinfo=UTC)) == "2026-11-22T05:00:00Z"
    assert isoformat(datetime(2026, 11, 22, 5, 0, 0, 123456, tzinfo=UTC)) \
        == "2026-11-22T05:00:00.123Z"
    assert isoformat(datetime(2026, 11, 22, 7, 0, tzinfo=timezone(timedelta(hours=2)))) \
        == "2026-11-22T05:00:00Z"  # another offset is said in UTC
    assert isoformat(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00Z"
    assert isoformat(None) is None
