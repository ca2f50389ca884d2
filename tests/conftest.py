"""Fixtures: a migrated database per test (SQLite always, PostgreSQL when
SWITCHBOARD_TEST_DATABASE_URL is set), the app, a client, a frozen clock."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from switchboard import clock
from switchboard.app import create_app
from switchboard.config import Settings, load_settings
from switchboard.config.settings import _database_url, vendor_variable
from switchboard.event_rows import event_json
from switchboard.models import Base
from switchboard.models.migrate import upgrade
from switchboard.store.db import make_engine
from switchboard.store.events import event_by_id
from switchboard.vendors.registry import VENDORS
from switchboard.worker.runner import Worker
from tests.subscriber import Subscriber

# Subprocesses (gunicorn, the console script) start in other folders: without this they would
# import whichever switchboard the venv has installed, not the checkout under test.
ROOT = str(Path(__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(
    [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != ROOT])

PG_URL = os.environ.get("SWITCHBOARD_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

# Two secrets or URL tokens for every registered vendor (the second to test rotation), so a
# new provider's test table finds its own here; 12 characters at least, as start-up demands
# of a URL token.
SECRETS = {name: (f"{name}-test-proof-1-7f3a9c2e", f"{name}-test-proof-2-5d8b1e4f")
           for name in VENDORS}


def secrets_environ() -> dict[str, str]:
    """SECRETS as the variables a process started by a test reads them from."""
    return {vendor_variable(VENDORS[name]): ",".join(values) for name, values in SECRETS.items()}


FROZEN_AT = datetime(2026, 11, 22, 5, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Tests may talk to 127.0.0.1 only: anything else is a bug in the test."""
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in {"127.0.0.1", "localhost", "::1"} \
                and not host.startswith("/"):
            # An OSError, as a closed network would give, but saying what happened.
            raise ConnectionRefusedError(f"test tried to reach {host}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_migrated():
    """A scratch database of our own beside the given one, so two test runs on one server
    (a developer's and CI's, or two developers') never truncate each other's rows."""
    base = make_url(_database_url(PG_URL))
    scratch = f"{base.database}_sb{os.getpid()}"
    admin = make_engine(base.render_as_string(hide_password=False))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}"'))
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
        url = base.set(database=scratch).render_as_string(hide_password=False)
    except DBAPIError:  # no CREATEDB right: use the given database as it is
        url, scratch = base.render_as_string(hide_password=False), None
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()
    yield url
    if scratch:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "switchboard.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("_pg_migrated")
    engine = make_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def settings(database_url) -> Settings:
    # Through load_settings, so the fixtures are settings start-up would accept.
    return load_settings(environ={}, overrides=dict(database_url=database_url,
                                                    allow_private_urls=True,
                                                    vendor_secrets=dict(SECRETS)))


@pytest.fixture
def app(settings):
    app = create_app(settings=settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["switchboard"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def client_without(settings):
    """`client_without("boomware")`: a client for an app with no secret or token for that
    vendor, whose callbacks must then answer 404."""
    made = []

    def build(vendor: str):
        kept = {k: v for k, v in settings.vendor_secrets.items() if k != vendor}
        app = create_app(settings=dataclasses.replace(settings, vendor_secrets=kept))
        made.append(app)
        return app.test_client()

    yield build
    for app in made:
        app.extensions["switchboard"].engine.dispose()


@pytest.fixture
def engine(app):
    return app.extensions["switchboard"].engine


@pytest.fixture
def subscriber():
    """A real HTTP subscriber on 127.0.0.1, in a thread of the test process."""
    server = Subscriber().start()
    yield server
    server.stop()


@pytest.fixture
def make_worker(engine, settings):
    """Workers on this test's database, with settings changed per worker; closed after."""
    made = []

    def build(**changes):
        worker = Worker(engine, dataclasses.replace(settings, **changes), concurrency=4,
                        poll_interval=0.02)
        made.append(worker)
        return worker

    yield build
    for worker in made:
        worker.close()


class FrozenClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def frozen_clock() -> Iterator[FrozenClock]:
    """Not through monkeypatch: a test that calls `monkeypatch.undo()` to take back its own
    patches would thaw the clock too, and its payloads, dated FROZEN_AT, would then be as
    old as the machine's date makes them (tests/test_clock.py)."""
    frozen = FrozenClock(FROZEN_AT)
    real = clock.now
    clock.now = frozen
    try:
        yield frozen
    finally:
        clock.now = real


def rows(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def expand_owed(engine) -> int:
    """What a worker does first on each round, alone: turn every owed fan-out into its
    delivery rows (without sending them); returns how many rows it wrote."""
    from switchboard.worker.expand import expand

    written = 0
    while True:
        with engine.begin() as conn:
            events, made = expand(conn, clock.now(), 500)
        written += made
        if not events:
            return written


def load_event(engine, event_id: str) -> dict | None:
    """A stored event as subscribers get it (the one JSON the worker and operators send), or
    None."""
    with engine.connect() as conn:
        row = event_by_id(conn, event_id)
    return event_json(row.id, row) if row else None
