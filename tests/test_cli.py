"""`switchboard simulate` against a real HTTP server: signed as the provider would, stored."""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server

from switchboard.app import create_app
from switchboard.cli import cli
from switchboard.config import Settings
from tests.conftest import SECRETS, rows


@pytest.fixture
def server(app):
    """The app behind a real socket on 127.0.0.1, as `simulate` expects to find it."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


def answer_of(output: str) -> tuple[str, dict]:
    """simulate prints `POST /path -> status` and then the JSON answer."""
    first, _, rest = output.partition("\n")
    return first, json.loads(rest)


@pytest.mark.parametrize(("args", "path", "stored_type"), [
    (["simulate", "honkio", "--type", "message.delivered"], "/webhooks/honkio",
     "message.delivered"),
    (["simulate", "honkio", "--type", "message.received"], "/webhooks/honkio",
     "message.received"),
    (["simulate", "canary"], "/webhooks/canary", "message.delivered"),
    (["simulate", "canary", "--type", "message.sent"], "/webhooks/canary", "message.sent"),
    (["simulate", "canary", "--type", "email.opened"], "/webhooks/canary", "email.opened"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_simulate_is_accepted(app, engine, server, frozen_clock, args, path, stored_type):
    result = app.test_cli_runner().invoke(cli, [*args, "--url", server])
    assert result.exit_code == 0, result.output
    first, answer = answer_of(result.output)
    assert first == f"POST {path} -> 200"
    assert answer["status"] == "accepted"
    (event,) = rows(engine, "SELECT id, type, vendor FROM events")
    assert answer["event_ids"] == [event["id"]]
    assert event["type"] == stored_type
    assert event["vendor"] == args[1]


@pytest.mark.parametrize(("args", "method", "stored_types"), [
    (["simulate", "boomware"], "POST", ["message.delivered"]),
    (["simulate", "boomware", "--type", "message.received"], "POST", ["message.received"]),
    (["simulate", "boomware", "--type", "call.answered"], "POST", ["call.answered"]),
    (["simulate", "transmitsms"], "GET", ["message.delivered"]),
    (["simulate", "transmitsms", "--type", "message.opted_out"], "GET",
     ["message.received", "message.opted_out"]),
    (["simulate", "phonify"], "POST", ["message.sent"]),
    (["simulate", "phonify", "--type", "message.received"], "POST", ["message.received"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v[0] == "simulate" else None)
def test_simulate_token_vendor_is_accepted_and_hides_its_token(
        app, engine, server, frozen_clock, args, method, stored_types):
    """The first configured token goes in the URL (Transmit SMS: a GET with the fields in
    the query string); what is printed never shows it."""
    vendor = args[1]
    result = app.test_cli_runner().invoke(cli, [*args, "--url", server])
    assert result.exit_code == 0, result.output
    first, answer = answer_of(result.output)
    assert first == f"{method} /webhooks/{vendor}/<token> -> 200"
    assert answer["status"] == "accepted"
    for token in SECRETS[vendor]:
        assert token not in result.output
    events = rows(engine, "SELECT id, type, vendor FROM events ORDER BY id")
    assert sorted(answer["event_ids"]) == [e["id"] for e in events]
    assert sorted(e["type"] for e in events) == sorted(stored_types)
    assert {e["vendor"] for e in events} == {vendor}
    (receipt,) = rows(engine, "SELECT method, query_string FROM receipts")
    assert receipt["method"] == method
    if method == "GET":
        assert "message_id=" in receipt["query_string"]


def test_simulate_twice_sends_two_distinct_callbacks(app, engine, server, frozen_clock):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(cli, ["simulate", "canary", "--url", server])
        assert answer_of(result.output)[1]["status"] == "accepted"
    assert len(rows(engine, "SELECT id FROM events")) == 2


def test_simulate_with_a_secret_the_server_lacks_prints_401(database_url, server, engine,
                                                            frozen_clock):
    stranger = create_app(settings=Settings(database_url=database_url,
                                            vendor_secrets={"honkio": ("whk_someone_else",)}))
    result = stranger.test_cli_runner().invoke(cli, ["simulate", "honkio", "--url", server])
    stranger.extensions["switchboard"].engine.dispose()
    assert result.exit_code == 1
    first, answer = answer_of(result.output)
    assert first == "POST /webhooks/honkio -> 401"
    assert answer["error"]["code"] == "invalid_signature"
    assert rows(engine, "SELECT id FROM events") == []


def test_simulate_unconfigured_vendor_sends_nothing(database_url, server, engine,
                                                    frozen_clock):
    bare = create_app(settings=Settings(database_url=database_url))
    result = bare.test_cli_runner().invoke(cli, ["simulate", "canary", "--url", server])
    bare.extensions["switchboard"].engine.dispose()
    assert result.exit_code == 2
    assert "SWITCHBOARD_CANARY_SECRETS" in result.output
    assert rows(engine, "SELECT id FROM receipts") == []


def test_simulate_without_a_server_says_so(app, frozen_clock):
    result = app.test_cli_runner().invoke(cli, ["simulate", "honkio",
                                                "--url", "http://127.0.0.1:1"])
    assert result.exit_code == 1
    assert "could not reach http://127.0.0.1:1" in result.output
    assert "Traceback" not in result.output
