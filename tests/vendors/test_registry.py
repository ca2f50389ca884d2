"""What adding a provider takes: its module, its test table, its docs. vendors/README.md says
these steps; the first test fails on any a registered provider missed, and the last proves
that a new module alone is configured, checked at start-up and scrubbed from the logs."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

import switchboard.vendors as package
from switchboard.app import create_app
from switchboard.config import ConfigError, load_settings
from switchboard.config.settings import vendor_variable
from switchboard.observability import logging as json_logging
from switchboard.vendors import registry
from switchboard.vendors.registry import VENDORS
from tests.conftest import SECRETS

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_with_a_vendor_is_registered():
    modules = {p.stem for p in (ROOT / "switchboard" / "vendors").glob("*.py")}
    assert set(VENDORS) == modules - {"__init__", "base", "registry"}


@pytest.mark.parametrize("name", sorted(VENDORS))
def test_vendor_has_its_table_and_its_docs(name):
    assert (ROOT / "tests" / "vendors" / f"test_{name}.py").exists(), \
        f"copy a test table to tests/vendors/test_{name}.py"
    providers = (ROOT / "README.md").read_text().split("## Providers", 1)[1].split("\n## ")[0]
    assert f"/webhooks/{name}" in providers and vendor_variable(VENDORS[name]) in providers, \
        "add a row to the Providers table of README.md"
    assert len(SECRETS[name]) == 2  # the test app has it configured, with no edit for it


# A provider of URL tokens, as small as one can be: the module is all that is added.
NEW_MODULE = '''
from switchboard.vendors.base import Vendor


class Fakeco(Vendor):
    name = "fakeco"
    uses_token = True


vendor = Fakeco()
'''
TOKEN, ROTATED = "fakeco-url-token-5f1c9a0e7b", "fakeco-url-token-rotated-22"


@pytest.fixture
def new_provider(tmp_path, monkeypatch):
    """switchboard/vendors/fakeco.py, as far as the registry can tell, for this test only."""
    (tmp_path / "fakeco.py").write_text(NEW_MODULE)
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(tmp_path)])
    try:
        monkeypatch.setitem(VENDORS, "fakeco", registry._discover()["fakeco"])
        yield
    finally:
        sys.modules.pop(f"{package.__name__}.fakeco", None)


def test_a_new_provider_module_alone_is_read_checked_and_scrubbed(
        new_provider, database_url, monkeypatch, capfd):
    environ = {"SWITCHBOARD_FAKECO_TOKENS": f" {TOKEN} , {ROTATED} "}
    settings = load_settings(environ=environ, overrides={"database_url": database_url})
    assert settings.secrets_for("fakeco") == (TOKEN, ROTATED)

    # Its URL answers: with a wrong token 401 (it is configured), unconfigured 404.
    app = create_app(settings=settings)
    try:
        assert app.test_client().post("/webhooks/fakeco/wrong-token-123").status_code == 401
    finally:
        app.extensions["switchboard"].engine.dispose()
    bare = create_app(overrides={"database_url": database_url})
    try:
        assert bare.test_client().post(f"/webhooks/fakeco/{TOKEN}").status_code == 404
    finally:
        bare.extensions["switchboard"].engine.dispose()

    # A URL token too short to be proof stops start-up, naming the variable and not the value.
    with pytest.raises(ConfigError, match="^SWITCHBOARD_FAKECO_TOKENS=<hidden> is not valid"):
        load_settings(environ={"SWITCHBOARD_FAKECO_TOKENS": "fakeco-1"})

    # No log line shows either token: the app's masking, and the one gunicorn's master
    # builds from the environment before any app exists.
    json_logging.install(settings)
    capfd.readouterr()
    logging.getLogger("switchboard.test").warning("fakeco sent %s then %s", TOKEN, ROTATED)
    err = capfd.readouterr().err
    assert "fakeco sent *** then ***" in err and TOKEN not in err and ROTATED not in err
    monkeypatch.setenv("SWITCHBOARD_FAKECO_TOKENS", TOKEN)
    monkeypatch.setattr(json_logging, "_process_masking", None)
    assert json_logging.process_masking()(f"token {TOKEN} seen") == "token *** seen"
