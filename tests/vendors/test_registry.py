"""What adding a provider takes, checked for every registered one: vendors/README.md says
these steps, and this test fails on any a new provider missed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from switchboard.config import Settings
from switchboard.observability.logging import secrets_of
from switchboard.vendors.registry import VENDORS
from tests.conftest import SECRETS

ROOT = Path(__file__).resolve().parents[2]


def proof_setting(name: str) -> str:
    return f"{name}_tokens" if VENDORS[name].uses_token else f"{name}_secrets"


def test_every_module_with_a_vendor_is_registered():
    modules = {p.stem for p in (ROOT / "switchboard" / "vendors").glob("*.py")}
    assert set(VENDORS) == modules - {"__init__", "base", "registry"}


@pytest.mark.parametrize("name", sorted(VENDORS))
def test_vendor_has_everything_it_needs(name):
    setting = proof_setting(name)
    assert setting in {f.name for f in dataclasses.fields(Settings)}, \
        f"add `{setting}` to switchboard/config/settings.py"
    assert setting in SECRETS, f"add `{setting}` to SECRETS in tests/conftest.py"
    assert (ROOT / "tests" / "vendors" / f"test_{name}.py").exists(), \
        f"copy a test table to tests/vendors/test_{name}.py"
    providers = (ROOT / "README.md").read_text().split("## Providers", 1)[1].split("\n## ")[0]
    assert f"/webhooks/{name}" in providers and f"SWITCHBOARD_{setting.upper()}" in providers, \
        "add a row to the Providers table of README.md"
    secret = f"{name}-proof-that-must-never-be-logged"
    assert secret in secrets_of(Settings(**{setting: (secret,)})), \
        f"mark `{setting}` \"secret\": True in switchboard/config/settings.py"
    (spec,) = [f for f in dataclasses.fields(Settings) if f.name == setting]
    assert bool(spec.metadata.get("token")) == VENDORS[name].uses_token, \
        f"mark `{setting}` \"token\": True exactly when its vendor takes a URL token"
