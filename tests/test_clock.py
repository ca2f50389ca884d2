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
