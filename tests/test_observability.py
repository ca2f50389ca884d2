"""Operators' view: /healthz, /readyz, /metrics, JSON log lines (request id, no secrets, PII
masked unless asked), the start-up warning, and SQLite's WAL mode."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import subprocess
import sys
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from switchboard.app import create_app
from switchboard.config import Settings
from switchboard.observability.logging import (
    JsonFormatter,
    _JsonHandler,
    mask_value,
    route,
)
from switchboard.operations import subscriptions as subs
from switchboard.store.db import SQLITE_BUSY_TIMEOUT_MS, make_engine
from switchboard.worker.runner import Worker
from tests.callbacks import honkio_body, send_honkio
from tests.conftest import SECRETS, expand_owed
from tests.signing import honkio_headers, sample_bytes

HONKIO_SECRET = SECRETS["honkio"][0]
BOOMWARE_TOKEN = SECRETS["boomware"][0]


def scrape(client) -> dict[tuple[str, tuple], float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before, after, name, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def json_lines(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def signed_honkio(client, body: bytes, **headers):
    from switchboard import clock

    sent = honkio_headers(body, HONKIO_SECRET, int(clock.now().timestamp()))
    return client.post("/webhooks/honkio", data=body, headers={**sent, **headers})


# --- health --------------------------------------------------------------------------------

def test_healthz_needs_nothing(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok"}


def test_readyz_when_database_answers_and_schema_is_current(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"status": "ready"}


def test_readyz_is_503_when_the_schema_is_behind(tmp_path):
    fresh = create_app(settings=Settings(database_url=f"sqlite:///{tmp_path}/empty.db"))
    answer = fresh.test_client().get("/readyz")
    fresh.extensions["switchboard"].engine.dispose()
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "migrations_pending"
    assert fresh.test_client().get("/healthz").status_code == 200


def _set_version(engine, revision: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


@pytest.fixture
def _stamp(engine):
    """Writes another revision over the database's, and puts the true one back after: a
    later test that migrates down from the stamped one would skip the migrations above it
    and find their tables and indexes still there."""
    with engine.connect() as conn:
        (true_revision,) = conn.execute(text("SELECT version_num FROM alembic_version")).one()
    yield lambda revision: _set_version(engine, revision)
    _set_version(engine, true_revision)


def test_readyz_stays_ready_when_the_schema_is_ahead(app, _stamp):
    """`db upgrade` runs before new code takes traffic: the old processes, which do not
    know the new revision, must stay in the load balancer meanwhile."""
    _stamp("9999_from_a_newer_release")
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"status": "ready"}


def test_readyz_is_503_when_one_migration_behind(app, _stamp):
    from alembic.script import ScriptDirectory

    from switchboard.models.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    previous = script.get_revision(script.get_current_head()).down_revision
    assert isinstance(previous, str)
    _stamp(previous)
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "migrations_pending"


def test_readyz_is_503_when_the_database_is_away():
    away = create_app(settings=Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    answer = away.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    assert away.test_client().get("/healthz").status_code == 200


# --- metrics -------------------------------------------------------------------------------

def test_metrics_count_callbacks_by_vendor_and_outcome(client, frozen_clock):
    before = scrape(client)
    send_honkio(client)
    send_honkio(client, event_id="evt_dup")
    send_honkio(client, event_id="evt_dup")
    assert client.post("/webhooks/honkio", data=honkio_body(),
                       headers={"X-HonkIO-Signature": "00", "X-HonkIO-Timestamp": "1",
                                "X-HonkIO-Event": "message.delivered"}).status_code == 401
    assert signed_honkio(client, b'{"type": "message.delivered"}').status_code == 400
    assert client.post("/webhooks/nobody").status_code == 404
    after = scrape(client)
    counted = "switchboard_callbacks_total"
    assert delta(before, after, counted, vendor="honkio", outcome="accepted", reason="") == 2
    assert delta(before, after, counted, vendor="honkio", outcome="duplicate", reason="") == 1
    assert delta(before, after, counted, vendor="honkio", outcome="rejected",
                 reason="invalid_signature") == 1
    assert delta(before, after, counted, vendor="honkio", outcome="rejected",
                 reason="missing_field") == 1
    assert delta(before, after, counted, vendor="unknown", outcome="rejected",
                 reason="unknown_vendor") == 1
    assert delta(before, after, "switchboard_ingest_duration_seconds_count",
                 vendor="honkio") == 5
    assert delta(before, after, "switchboard_ingest_duration_seconds_bucket",
                 vendor="honkio", le="+Inf") == 5


def test_metrics_count_deliveries_and_read_the_queue(client, engine, settings, subscriber,
                                                     frozen_clock):
    with engine.begin() as conn:
        subs.create(conn, settings, frozen_clock(), url=subscriber.url, event_types=["*"])
    before = scrape(client)
    assert value(before, "switchboard_metrics_database_up") == 1
    assert value(before, "switchboard_deliveries_pending") == 0
    send_honkio(client)
    send_honkio(client)
    frozen_clock.advance(30)
    owed = scrape(client)
    assert value(owed, "switchboard_fanouts_owed") == 2
    assert value(owed, "switchboard_deliveries_pending") == 0
    assert value(owed, "switchboard_worker_lag_seconds") == 30  # behind on expanding
    frozen_clock.advance(-30)
    expand_owed(engine)
    frozen_clock.advance(90)
    waiting = scrape(client)
    assert value(waiting, "switchboard_fanouts_owed") == 0
    assert value(waiting, "switchboard_deliveries_pending") == 2
    assert value(waiting, "switchboard_oldest_pending_delivery_age_seconds") == 90
    assert value(waiting, "switchboard_worker_lag_seconds") == 90

    subscriber.default = (500, {}, b"no")
    worker = Worker(engine, dataclasses.replace(settings, retry_schedule=(0, 1)),
                    concurrency=2)
    try:
        assert worker.run_once() == 2  # both fail, retried in 1 s
        frozen_clock.advance(0.5)
        retried = scrape(client)
        assert value(retried, "switchboard_worker_lag_seconds") == 0  # not due yet
        assert value(retried, "switchboard_oldest_pending_delivery_age_seconds") == 90.5
        frozen_clock.advance(2)
        subscriber.default = (200, {}, b"ok")
        send_honkio(client)
        subscriber.default = (500, {}, b"no")
        assert worker.run_once() == 3  # two dead now, the new one retried
        subscriber.default = (200, {}, b"ok")
        frozen_clock.advance(2)
        assert worker.run_once() == 1
    finally:
        worker.close()
    after = scrape(client)
    counted = "switchboard_deliveries_total"
    assert delta(before, after, counted, target="http", outcome="retry") == 3
    assert delta(before, after, counted, target="http", outcome="dead") == 2
    assert delta(before, after, counted, target="http", outcome="succeeded") == 1
    assert delta(before, after, "switchboard_delivery_attempt_duration_seconds_count",
                 target="http") == 6
    assert value(after, "switchboard_deliveries_pending") == 0
    assert value(after, "switchboard_deliveries_dead") == 2
    assert value(after, "switchboard_oldest_pending_delivery_age_seconds") == 0


def test_metrics_still_answer_when_the_database_is_away():
    away = create_app(settings=Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    samples = scrape(away.test_client())
    assert value(samples, "switchboard_metrics_database_up") == 0
    assert ("switchboard_deliveries_pending", ()) not in samples


def test_gunicorn_config_sets_up_multiprocess_metrics(tmp_path):
    code = ("import os, switchboard.gunicorn_conf as c; "
            "print(c.workers, c.worker_class, c.accesslog, c.timeout, "
            "os.path.isdir(os.environ['PROMETHEUS_MULTIPROC_DIR']), callable(c.child_exit))")
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["WEB_CONCURRENCY"] = "3"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["3", "sync", "None", "30", "True", "True"]


# --- logs ----------------------------------------------------------------------------------

def test_request_line_carries_request_id_vendor_outcome_and_no_secret(capfd, client,
                                                                      frozen_clock):
    body = honkio_body()
    answer = signed_honkio(client, body, **{"X-Request-ID": "req-abc.123"})
    assert answer.status_code == 200
    assert answer.headers["X-Request-ID"] == "req-abc.123"
    signature = honkio_headers(body, HONKIO_SECRET, int(frozen_clock().timestamp()))[
        "X-HonkIO-Signature"]
    err = capfd.readouterr().err
    (line,) = [x for x in json_lines(err) if x["logger"] == "switchboard.request"]
    assert line["request_id"] == "req-abc.123"
    assert line["vendor"] == "honkio"
    assert line["outcome"] == "accepted"
    assert line["event_ids"] == answer.get_json()["event_ids"]
    assert line["status"] == 200 and line["route"] == "/webhooks/honkio"
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "info" and line["ts"].endswith("Z")
    for secret in (HONKIO_SECRET, signature):
        assert secret not in err


def test_a_missing_or_unsafe_request_id_is_replaced(capfd, client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    unsafe = client.get("/healthz", headers={"X-Request-ID": 'x" injected'})
    assert unsafe.headers["X-Request-ID"] not in ('x" injected', generated)


def test_url_tokens_are_masked_and_pii_too(capfd, client):
    answer = client.post(f"/webhooks/boomware/{BOOMWARE_TOKEN}",
                         data=sample_bytes("boomware-inbound.json"),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.get_json()
    wrong = client.post("/webhooks/boomware/not-the-token-at-all", data=b"{}")
    assert wrong.status_code == 401
    err = capfd.readouterr().err
    lines = [x for x in json_lines(err) if x["logger"] == "switchboard.request"]
    assert [x["route"] for x in lines] == ["/webhooks/boomware/***"] * 2
    assert [x["outcome"] for x in lines] == ["accepted", "rejected"]
    assert lines[1]["reason"] == "invalid_token"
    (event,) = lines[0]["events"]
    assert event["from"] == "+44********01" and event["text"] == "<11 chars>"
    for hidden in (BOOMWARE_TOKEN, "not-the-token-at-all", "447700900001", "Hello world"):
        assert hidden not in err


def test_pii_is_logged_when_asked(capfd, settings):
    app = create_app(settings=dataclasses.replace(settings, log_pii=True))
    answer = app.test_client().post(f"/webhooks/boomware/{BOOMWARE_TOKEN}",
                                    data=sample_bytes("boomware-inbound.json"),
                                    headers={"Content-Type": "application/json"})
    app.extensions["switchboard"].engine.dispose()
    assert answer.status_code == 200
    err = capfd.readouterr().err
    (line,) = [x for x in json_lines(err) if x["logger"] == "switchboard.request"]
    assert line["events"][0]["from"] == "+447700900001"
    assert line["events"][0]["text"] == "Hello world"
    assert BOOMWARE_TOKEN not in err  # tokens are never PII-optional


def test_delivery_attempt_line(capfd, client, engine, settings, subscriber, frozen_clock):
    with engine.begin() as conn:
        subs.create(conn, settings, frozen_clock(), url=subscriber.url + "?key=sekrit",
                    event_types=["*"])
    answer = signed_honkio(client, honkio_body(), **{"X-Request-ID": "req-trace-42"})
    (event_id,) = answer.get_json()["event_ids"]
    worker = Worker(engine, settings, concurrency=2)
    try:
        assert worker.run_once() == 1
    finally:
        worker.close()
    err = capfd.readouterr().err
    (line,) = [x for x in json_lines(err) if x.get("msg") == "delivery attempt"]
    assert line["event_id"] == event_id and line["vendor"] == "honkio"
    # One id follows the callback from its request line to each delivery attempt's line.
    assert line["request_id"] == "req-trace-42"
    assert line["outcome"] == "succeeded" and line["status_code"] == 200
    assert line["target"] == "http" and line["attempt"] == 1
    assert line["url"] == subscriber.url
    assert isinstance(line["duration_ms"], float)
    assert "sekrit" not in err


def test_formatter_scrubs_secrets_and_numbers_in_any_message():
    formatter = JsonFormatter(secrets=("tok-secret-1",), log_pii=False)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1,
                               "failed for %s on /webhooks/x/%s", ("+16135550199",
                                                                  "tok-secret-1"), None)
    line = json.loads(formatter.format(record))
    assert line["msg"] == "failed for +16*******99 on /webhooks/x/***"
    assert mask_value("hello") == "<5 chars>"
    assert route("/webhooks/transmitsms/abc/def") == "/webhooks/transmitsms/***"
    assert route("/webhooks/honkio") == "/webhooks/honkio"


def format_line(formatter, msg, *args, exc=None, **fields) -> dict:
    record = logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, msg, args, exc)
    if fields:
        record.fields = fields
    line = formatter.format(record)
    return json.loads(line)


def test_every_secret_is_masked_whatever_its_length_and_the_line_stays_json():
    formatter = JsonFormatter(secrets=("Zq", 'quote"and\\slash', "tok-secret-1"))
    line = format_line(formatter, "got %s and %s", "xZqx", 'a quote"and\\slash b',
                       note="tok-secret-1")
    assert line["msg"] == "got x***x and a *** b" and line["note"] == "***"
    # the frame is never masked, so a short secret cannot cost the line its logger or keys
    assert line["logger"] == "gunicorn.error" and line["level"] == "error"
    # a secret ending in a backslash must not eat half of an escaped quote
    assert format_line(JsonFormatter(secrets=("ab\\",)), 'ab"')["msg"] == 'ab"'


@pytest.mark.parametrize("secret", ["20", "0", "n", "tru", "nul", ": ", ", ", "e", "\\"])
def test_a_secret_that_is_also_json_syntax_leaves_the_line_json(secret):
    """Strings are masked before they are encoded: a secret that is also a digit, a keyword
    or a separator of JSON must not break the line, nor show where it was cut."""
    formatter = JsonFormatter(secrets=(secret,))
    line = format_line(formatter, f"signed with {secret} here", status=200, duration_ms=20.5,
                       ok=True, missing=None, note=f"x{secret}y")
    assert (line["status"], line["duration_ms"], line["ok"], line["missing"]) == \
        (200, 20.5, True, None)
    assert secret not in line["msg"] + line["note"]
    assert "***" in line["msg"] and line["note"].startswith("x***")


def test_webhook_tokens_and_query_strings_are_masked_by_their_shape():
    formatter = JsonFormatter(secrets=())
    try:
        raise RuntimeError("bad request GET /webhooks/boomware/abc?number=61400000000")
    except RuntimeError:
        exc = sys.exc_info()
    line = format_line(
        formatter, "Invalid HTTP request line: %r", 'GET /webhooks/transmitsms/t"ok/x?mobile='
        '61400000000&response=it\'s"hi" HTTP/1.1', exc=exc)
    assert line["msg"] == "Invalid HTTP request line: 'GET /webhooks/transmitsms/***?*** " \
        "HTTP/1.1'"
    assert "/webhooks/boomware/***?***" in line["exc"] and "61400000000" not in line["exc"]
    assert format_line(formatter, "GET /WEBHOOKS%2Fphonify%2Fsecret-ish")["msg"] == \
        "GET /WEBHOOKS%2Fphonify%2F***"
    # a question mark in prose is not a query string
    assert format_line(formatter, "why? because")["msg"] == "why? because"


def test_private_urls_on_postgresql_warn_at_start_up(capfd, database_url):
    app = create_app(settings=Settings(database_url=database_url, allow_private_urls=True))
    app.extensions["switchboard"].engine.dispose()
    warned = [x for x in json_lines(capfd.readouterr().err)
              if x["level"] == "warning" and "ALLOW_PRIVATE_URLS" in x["msg"]]
    assert len(warned) == (1 if database_url.startswith("postgresql") else 0)


# --- SQLite --------------------------------------------------------------------------------

def test_sqlite_runs_wal_with_a_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/wal.db")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()
    assert SQLITE_BUSY_TIMEOUT_MS >= 1000


def test_a_line_is_formatted_outside_the_handler_lock():
    # The worker's delivery threads log a line per attempt: one slow to format must not make
    # the others wait for the handler's lock.
    stream = io.StringIO()
    handler = _JsonHandler(stream)
    formatting, finish = threading.Event(), threading.Event()

    class SlowFirst(JsonFormatter):
        def format(self, record):
            if record.msg == "slow":
                formatting.set()
                finish.wait(2)
            return super().format(record)

    handler.setFormatter(SlowFirst())
    logger = logging.Logger("test.handler_lock")
    logger.addHandler(handler)
    slow = threading.Thread(target=logger.info, args=("slow",))
    slow.start()
    assert formatting.wait(5)
    logger.info("fast")  # with logging's own handle(), waits out the slow one's lock
    finish.set()
    slow.join(5)
    assert [json.loads(line)["msg"] for line in stream.getvalue().splitlines()] == \
        ["fast", "slow"]


def test_a_line_that_cannot_be_formatted_is_reported_not_raised(capsys):
    handler = _JsonHandler(io.StringIO())

    class Broken(JsonFormatter):
        def format(self, record):
            raise ValueError("no")

    handler.setFormatter(Broken())
    logger = logging.Logger("test.handler_error")
    logger.addHandler(handler)
    logger.info("anything")  # does not raise
    assert "ValueError: no" in capsys.readouterr().err
