"""Callbacks are answered from WSGI in front of Flask (switchboard.api.callback_wsgi): the
same request must get the same answer, and the same log line, as through Flask's route."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy.exc import OperationalError
from werkzeug.test import EnvironBuilder, run_wsgi_app

from switchboard.api import webhooks
from tests.conftest import FROZEN_AT, SECRETS
from tests.signing import honkio_headers, sample_bytes

NOW = int(FROZEN_AT.timestamp())
SECRET = SECRETS["honkio"][0]
BODY = sample_bytes("honkio-delivered.json")


def signed(body: bytes = BODY) -> dict:
    return honkio_headers(body, SECRET, NOW)


def through(wsgi_app, method: str, path: str, body: bytes = b"", headers=None):
    environ = EnvironBuilder(path=path, method=method, data=body,
                             headers={"X-Request-ID": "req-same", **(headers or {})}
                             ).get_environ()
    chunks, status, answer_headers = run_wsgi_app(wsgi_app, environ)
    return status, list(answer_headers.items()), b"".join(chunks)


def both(app, caplog, method: str, path: str, body: bytes = b"", headers=None):
    """The answers, and the request log's fields, from the callback path and from Flask."""
    answers, lines = [], []
    for wsgi_app in (app.wsgi_app, app.wsgi_app.flask_wsgi_app):
        caplog.clear()
        answers.append(through(wsgi_app, method, path, body, headers))
        (line,) = [r.fields for r in caplog.records if r.name == "switchboard.request"]
        lines.append({k: v for k, v in line.items() if k != "duration_ms"})
    return answers, lines


TOO_BIG = b"{" + b" " * (1024 * 1024) + b"}"
CASES = {
    "unknown vendor": ("POST", "/webhooks/nobody", BODY, {}),
    "no signature": ("POST", "/webhooks/honkio", BODY, {"Content-Type": "application/json"}),
    "wrong signature": ("POST", "/webhooks/honkio", BODY, signed(b"another body")),
    "token on a signed vendor": ("POST", "/webhooks/honkio/some-token", BODY, signed()),
    "no token for a token vendor": ("POST", "/webhooks/boomware", b"", {}),
    "wrong token": ("POST", "/webhooks/boomware/not-it", b"", {}),
    "method the vendor does not use": ("GET", "/webhooks/honkio", b"", {}),
    "body over the limit": ("POST", "/webhooks/honkio", TOO_BIG, signed(TOO_BIG)),
    "malformed json, signed": ("POST", "/webhooks/honkio", b"{nope", signed(b"{nope")),
    # Not callbacks to this path: Flask's route map answers them, both ways round.
    "trailing slash": ("POST", "/webhooks/honkio/", BODY, signed()),
    "a third segment": ("POST", f"/webhooks/boomware/{SECRETS['boomware'][0]}/more",
                        b"", {}),
    "empty segment": ("POST", "/webhooks//honkio", BODY, signed()),
    "other method": ("PUT", "/webhooks/honkio", BODY, signed()),
    "head": ("HEAD", "/webhooks/honkio", b"", {}),
}


@pytest.mark.parametrize("case", CASES)
def test_a_refused_callback_gets_the_answer_flask_gives(app, caplog, frozen_clock, case):
    caplog.set_level(logging.INFO, "switchboard.request")
    method, path, body, headers = CASES[case]
    (fast, flask), (fast_line, flask_line) = both(app, caplog, method, path, body, headers)
    assert fast == flask
    assert fast_line == flask_line
    assert fast[0][:3] != "200"


def test_a_stored_callback_and_its_duplicate_answer_as_under_flask(app, caplog, engine,
                                                                    frozen_clock):
    caplog.set_level(logging.INFO, "switchboard.request")
    status, headers, first = through(app.wsgi_app, "POST", "/webhooks/honkio", BODY,
                                     signed())
    assert status == "200 OK"
    stored = json.loads(first)
    assert stored["status"] == "accepted"
    # The copy, once each way: a duplicate naming the stored event, answered alike.
    (fast, flask), (fast_line, flask_line) = both(app, caplog, "POST", "/webhooks/honkio",
                                                  BODY, signed())
    assert fast == flask
    assert json.loads(fast[2]) == {"status": "duplicate", "event_ids": stored["event_ids"]}
    assert ("Content-Type", "application/json") in fast[1]
    assert ("X-Request-ID", "req-same") in fast[1]
    assert fast_line == flask_line
    assert fast_line["outcome"] == "duplicate"


@pytest.mark.parametrize("failure, code", [
    (OperationalError("INSERT ...", {}, Exception("server closed the connection")),
     "database_unavailable"),
    (RuntimeError("a bug of ours"), "internal_error"),
])
def test_a_failure_while_storing_answers_as_flask_does(app, caplog, monkeypatch,
                                                       frozen_clock, failure, code):
    def broken(*args, **kwargs):
        raise failure

    monkeypatch.setattr(webhooks, "ingest", broken)
    caplog.set_level(logging.INFO)
    (fast, flask), (fast_line, flask_line) = both(app, caplog, "POST", "/webhooks/honkio",
                                                  BODY, signed())
    assert fast == flask
    assert fast[0] == "503 SERVICE UNAVAILABLE"
    assert json.loads(fast[2])["error"]["code"] == code
    assert fast_line == flask_line
    assert (fast_line["outcome"], fast_line["reason"]) == ("error", code)


def test_callbacks_skip_flasks_request_machinery_and_nothing_else_does(app, client,
                                                                       frozen_clock):
    """The point of the callback path: Flask's hooks run for every other request."""
    seen = []
    app.before_request(lambda: seen.append("flask"))
    assert client.post("/webhooks/honkio", data=BODY, headers=signed()).status_code == 200
    assert seen == []
    assert client.get("/healthz").status_code == 200
    assert client.put("/webhooks/honkio", data=BODY, headers=signed()).status_code == 405
    assert seen == ["flask", "flask"]


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/webhooks/honkio", "POST, OPTIONS"),  # answered by the callback path
    ("HEAD", "/webhooks/canary", "POST, OPTIONS"),  # by Flask's route, whose view answers
    ("PUT", "/webhooks/honkio", "POST, OPTIONS"),  # by Flask's 405 handler
    ("DELETE", f"/webhooks/transmitsms/{SECRETS['transmitsms'][0]}", "GET, POST, OPTIONS"),
])
def test_a_405_on_a_callback_url_allows_that_providers_methods_only(client, method, path,
                                                                     allow):
    answer = client.open(path, method=method)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == allow


def test_options_on_a_callback_url_names_that_providers_methods(client):
    assert client.options(f"/webhooks/boomware/{SECRETS['boomware'][0]}").headers["Allow"] == \
        "POST, OPTIONS"
    assert client.options("/webhooks/transmitsms/x").headers["Allow"] == "GET, POST, OPTIONS"
    assert client.options("/webhooks/nope").status_code == 404
