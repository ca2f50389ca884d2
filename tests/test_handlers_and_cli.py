"""Handler modules named in settings, the built-in log handler, and the subscriptions CLI."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys

import pytest

from switchboard.app import create_app
from switchboard.cli import cli
from switchboard.config import ConfigError
from switchboard.handlers.registry import HANDLERS, unregister
from switchboard.worker.runner import Worker
from tests.callbacks import send_honkio
from tests.conftest import expand_owed, rows


@pytest.fixture
def app_with_handlers(settings):
    configured = dataclasses.replace(settings, handler_modules=(
        "tests.handler_fixtures.counting", "switchboard.handlers.log_events"))
    app = create_app(settings=configured)
    yield app
    app.extensions["switchboard"].engine.dispose()
    # Forget the modules too, so the next app imports (and registers) them afresh.
    for module in configured.handler_modules:
        sys.modules.pop(module, None)
    unregister("tests.counting")
    unregister("switchboard.log_events")


def test_handler_modules_are_imported_and_run_after_commit(app_with_handlers, frozen_clock,
                                                           caplog):
    from tests.handler_fixtures import counting

    counting.SEEN.clear()
    client = app_with_handlers.test_client()
    state = app_with_handlers.extensions["switchboard"]
    (delivered,) = send_honkio(client, "delivered")
    (sent,) = send_honkio(client, "sent")
    assert counting.SEEN == []  # nothing runs inside the request
    expand_owed(state.engine)
    handlers = {(r["event_id"], r["handler"]) for r in rows(
        state.engine, "SELECT event_id, handler FROM deliveries")}
    assert handlers == {(delivered, "tests.counting"), (delivered, "switchboard.log_events"),
                        (sent, "switchboard.log_events")}
    worker = Worker(state.engine, state.settings, concurrency=2)
    with caplog.at_level(logging.INFO, logger="switchboard.events"):
        worker.run_once()
    worker.close()
    assert counting.SEEN == [delivered]
    logged = [r.getMessage() for r in caplog.records if r.name == "switchboard.events"]
    assert sorted(line.split()[1] for line in logged) == sorted([delivered, sent])


def test_unknown_handler_module_stops_start_up(settings):
    with pytest.raises(ConfigError, match="HANDLER_MODULES"):
        create_app(settings=dataclasses.replace(settings, handler_modules=("no.such.mod",)))
    assert "no.such.mod" not in HANDLERS


def test_subscriptions_cli(app, engine):
    runner = app.test_cli_runner()
    added = runner.invoke(cli, ["subscriptions", "add", "http://127.0.0.1:9999/in",
                                "-t", "message.*", "--vendor", "honkio",
                                "--description", "billing"])
    assert added.exit_code == 0, added.output
    shown = json.loads(added.stdout)
    assert shown["secret"].startswith("whsec_")
    sub_id = shown["id"]
    listed = runner.invoke(cli, ["subscriptions", "list"])
    assert sub_id in listed.output and "billing" in listed.output
    assert shown["secret"] not in listed.output
    assert runner.invoke(cli, ["subscriptions", "disable", sub_id]).exit_code == 0
    assert rows(engine, "SELECT active FROM subscriptions")[0]["active"] in (False, 0)
    assert runner.invoke(cli, ["subscriptions", "enable", sub_id]).exit_code == 0
    assert rows(engine, "SELECT active FROM subscriptions")[0]["active"] in (True, 1)
    rotated = runner.invoke(cli, ["subscriptions", "rotate-secret", sub_id])
    new_secret = rotated.stdout.strip()
    assert new_secret.startswith("whsec_") and new_secret != shown["secret"]
    stored = rows(engine, "SELECT secret, previous_secret FROM subscriptions")[0]
    assert (stored["secret"], stored["previous_secret"]) == (new_secret, shown["secret"])
    refused = runner.invoke(cli, ["subscriptions", "add", "ftp://x.example/"])
    assert refused.exit_code != 0 and "url" in refused.output
    missing = runner.invoke(cli, ["subscriptions", "disable", "sub_nope"])
    assert missing.exit_code != 0 and "no subscription" in missing.output
