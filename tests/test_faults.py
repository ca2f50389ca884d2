"""Faults: SQLite held locked by another process past the busy timeout, and a PostgreSQL
connection killed under a running app. The answer is a clear 503 (never a 500, never a 200
for something not stored), a clear log line, and the provider's retry is then accepted."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from switchboard.app import create_app
from switchboard.config import Settings
from switchboard.store import db as db_module
from tests.callbacks import honkio_body
from tests.conftest import PG_URL, SECRETS, rows
from tests.signing import honkio_headers

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def post(client, body):
    headers = honkio_headers(body, SECRETS["honkio"][0], int(time.time()))
    return client.post("/webhooks/honkio", data=body, headers=headers)


@pytest.fixture
def sqlite_settings(_sqlite_template, tmp_path):
    path = tmp_path / "locked.db"
    shutil.copy(_sqlite_template, path)
    return Settings(database_url=f"sqlite:///{path}", vendor_secrets=SECRETS)


@pytest.fixture
def pg_settings(request):
    return Settings(database_url=request.getfixturevalue("_pg_migrated"), vendor_secrets=SECRETS)


def test_sqlite_locked_past_the_busy_timeout_is_503_then_the_retry_lands(
        sqlite_settings, monkeypatch, caplog):
    settings = sqlite_settings
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    app = create_app(settings=settings)
    client = app.test_client()
    path = settings.database_url.removeprefix("sqlite:///")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, path, "2"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        body = honkio_body()
        with caplog.at_level(logging.ERROR, logger="switchboard.errors"):
            answer = post(client, body)
        assert answer.status_code == 503
        assert answer.get_json()["error"]["code"] == "database_unavailable"
        assert any("database is locked" in r.getMessage() for r in caplog.records)
    finally:
        holder.wait(timeout=10)
    assert rows(app.extensions["switchboard"].engine, "SELECT id FROM events") == []
    retry = post(client, body)  # the provider retries once the lock is gone
    assert retry.status_code == 200 and retry.get_json()["status"] == "accepted"
    app.extensions["switchboard"].engine.dispose()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL runs only when "
                    "SWITCHBOARD_TEST_DATABASE_URL is set (CI sets it)")
def test_postgresql_connections_killed_under_the_app_recover_without_restart(pg_settings):
    settings = pg_settings
    app = create_app(settings=settings)
    client = app.test_client()
    engine = app.extensions["switchboard"].engine
    # The scratch database is shared with earlier PostgreSQL tests: count only ours.
    earlier = len(rows(engine, "SELECT id FROM events"))
    assert post(client, honkio_body()).status_code == 200
    killer = db_module.make_engine(settings.database_url)
    with killer.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        conn.commit()
    killer.dispose()
    answers = [post(client, honkio_body()).status_code for _ in range(3)]
    # At most the first request meets a dead connection (503: the provider retries);
    # the pool is then renewed and everything after is stored.
    assert set(answers[:1]) <= {200, 503} and answers[1:] == [200, 200]
    stored = len(rows(engine, "SELECT id FROM events"))
    assert stored == earlier + 1 + answers.count(200)
    engine.dispose()

