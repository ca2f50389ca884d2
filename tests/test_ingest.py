"""Ingest: the status projection, concurrent copies, a failing database, kept receipts."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from switchboard.app import create_app
from switchboard.config import Settings
from switchboard.router import ingest as ingest_module
from switchboard.store.db import RawTransaction
from switchboard.vendors import honkio
from tests.conftest import FROZEN_AT, SECRETS, rows
from tests.signing import canary_headers, honkio_headers

SECRET = SECRETS["canary"][0]
NOW = int(FROZEN_AT.timestamp())


def receipt(event_id: str, status: str, message_id: str = "msg_1") -> bytes:
    return json.dumps({"id": event_id, "type": f"message.{status}", "created": NOW,
                       "data": {"message_id": message_id, "to": "+15551234567",
                                "status": status}}).encode()


def post(client, body: bytes):
    return client.post("/webhooks/canary", data=body, headers=canary_headers(body, SECRET))


def accepted(client, event_id: str, status: str) -> str:
    answer = post(client, receipt(event_id, status))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "accepted"
    (stored,) = answer.get_json()["event_ids"]
    return stored


def message_status(engine, message_id: str = "msg_1"):
    (row,) = rows(engine, "SELECT * FROM message_status WHERE vendor = 'canary' "
                          "AND message_id = :m", m=message_id)
    return row


def disposition(engine, event_id: str) -> str:
    (row,) = rows(engine, "SELECT disposition FROM events WHERE id = :id", id=event_id)
    return row["disposition"]


# --- the status projection ---------------------------------------------------------------

def test_status_moves_forward(client, engine, frozen_clock):
    ids = [accepted(client, f"evt_{s}", s) for s in ("queued", "sent", "delivered")]
    state = message_status(engine)
    assert (state["status"], state["rank"], state["event_id"]) == ("delivered", 100, ids[-1])
    assert [disposition(engine, i) for i in ids] == ["fanout"] * 3
    assert state["conflict_status"] is None


def test_late_receipt_is_superseded(client, engine, frozen_clock):
    delivered = accepted(client, "evt_d", "delivered")
    sent = accepted(client, "evt_s", "sent")
    state = message_status(engine)
    assert (state["status"], state["rank"], state["event_id"]) == ("delivered", 100, delivered)
    assert disposition(engine, delivered) == "fanout"
    # Stored, so an operator sees it, but marked late and not sent on.
    assert disposition(engine, sent) == "superseded"
    assert state["conflict_status"] is None


def test_the_same_status_again_is_not_news(client, engine, frozen_clock):
    # A provider that reports "sent" twice (two event ids) has said nothing new the second
    # time: subscribers already heard it.
    first = accepted(client, "evt_s1", "sent")
    again = accepted(client, "evt_s2", "sent")
    assert disposition(engine, again) == "superseded"
    state = message_status(engine)
    assert (state["status"], state["event_id"]) == ("sent", first)


def test_first_terminal_wins_and_a_different_one_is_a_conflict(client, engine, frozen_clock):
    delivered = accepted(client, "evt_d", "delivered")
    failed = accepted(client, "evt_f", "failed")
    state = message_status(engine)
    assert (state["status"], state["event_id"]) == ("delivered", delivered)
    assert (state["conflict_status"], state["conflict_event_id"]) == ("failed", failed)
    assert disposition(engine, failed) == "conflict"
    # A third terminal status is a conflict too, but the first conflict stays on record.
    undelivered = accepted(client, "evt_u", "undelivered")
    assert disposition(engine, undelivered) == "conflict"
    state = message_status(engine)
    assert (state["status"], state["conflict_status"]) == ("delivered", "failed")
    # The same terminal status again (a new event id) is simply late.
    again = accepted(client, "evt_d2", "delivered")
    assert disposition(engine, again) == "superseded"
    assert message_status(engine)["event_id"] == delivered


def test_messages_are_projected_apart(client, engine, frozen_clock):
    post(client, receipt("evt_a", "delivered", "msg_a"))
    post(client, receipt("evt_b", "sent", "msg_b"))
    assert message_status(engine, "msg_a")["status"] == "delivered"
    assert message_status(engine, "msg_b")["status"] == "sent"


# --- concurrent copies -------------------------------------------------------------------

def test_fifty_concurrent_copies_store_one_event(app, engine, frozen_clock):
    body = receipt("evt_race", "delivered")
    headers = canary_headers(body, SECRET)
    copies = 50
    barrier = threading.Barrier(copies)
    answers: list = [None] * copies

    def send(slot: int) -> None:
        client = app.test_client()
        barrier.wait(timeout=30)
        answer = client.post("/webhooks/canary", data=body, headers=headers)
        answers[slot] = (answer.status_code, answer.get_json())

    threads = [threading.Thread(target=send, args=(slot,)) for slot in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    assert [code for code, _ in answers] == [200] * copies, answers
    (event,) = rows(engine, "SELECT id FROM events")
    assert {tuple(body["event_ids"]) for _, body in answers} == {(event["id"],)}
    assert sorted(body["status"] for _, body in answers) == \
        ["accepted"] + ["duplicate"] * (copies - 1)
    assert len(rows(engine, "SELECT id FROM receipts")) == 1
    assert message_status(engine)["event_id"] == event["id"]


# --- callbacks that carry many events ----------------------------------------------------

PHONIFY_TOKEN = SECRETS["phonify"][0]


def phonify_list(count: int, prefix: str) -> list[dict]:
    """A relay's list of Phonify message objects (shared/vendors/phonify-api.txt), kept
    short so that the largest list fits the default body limit."""
    return [{"id": f"{prefix}{i}", "state": "sent", "to": "+34600000000"}
            for i in range(count)]


def test_a_callback_at_the_event_limit_is_stored_whole(client, engine, settings,
                                                      frozen_clock):
    limit = settings.max_events_per_callback
    answer = client.post(f"/webhooks/phonify/{PHONIFY_TOKEN}",
                         json=phonify_list(limit, "at-limit-"))
    assert answer.status_code == 200, answer.get_json()
    assert len(set(answer.get_json()["event_ids"])) == limit
    assert rows(engine, "SELECT count(*) AS n FROM events")[0]["n"] == limit
    assert rows(engine, "SELECT count(*) AS n FROM message_status")[0]["n"] == limit


def test_a_callback_over_the_event_limit_is_413_and_writes_nothing(app, engine, settings,
                                                                  frozen_clock):
    small = dataclasses.replace(settings, max_events_per_callback=3)
    limited = create_app(settings=small)
    try:
        client = limited.test_client()
        over = client.post(f"/webhooks/phonify/{PHONIFY_TOKEN}",
                           json=phonify_list(4, "over-"))
        assert over.status_code == 413
        error = over.get_json()["error"]
        assert error["code"] == "too_many_events"
        assert "3" in error["message"] and "4" in error["message"]
        for table in ("receipts", "events", "message_status", "deliveries"):
            assert rows(engine, f"SELECT * FROM {table}") == [], table
        at = client.post(f"/webhooks/phonify/{PHONIFY_TOKEN}", json=phonify_list(3, "at-"))
        assert at.status_code == 200
    finally:
        limited.extensions["switchboard"].engine.dispose()


def test_other_callbacks_are_stored_while_a_large_one_is(app, engine, settings,
                                                         frozen_clock):
    """A 1,000-message list holds the write lock (SQLite) while it is stored: every other
    provider's callback sent meanwhile must wait its turn and be stored, not refused."""
    big_answer = {}

    def send_big():
        big_answer["answer"] = app.test_client().post(
            f"/webhooks/phonify/{PHONIFY_TOKEN}",
            json=phonify_list(settings.max_events_per_callback, "big-"))

    big = threading.Thread(target=send_big)
    client = app.test_client()
    big.start()
    statuses = []
    while big.is_alive() or not statuses:
        event_id = f"evt_meanwhile_{len(statuses)}"
        statuses.append(post(client, receipt(event_id, "sent", f"msg_{event_id}")).status_code)
    big.join()
    assert big_answer["answer"].status_code == 200
    assert set(statuses) == {200}
    stored = rows(engine, "SELECT count(*) AS n FROM events WHERE vendor = 'canary'")[0]["n"]
    assert stored == len(statuses)


# --- a database that fails ---------------------------------------------------------------

@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_url(request, tmp_path):
    if request.param == "postgresql":
        return "postgresql+psycopg://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    return f"sqlite:///{tmp_path}"  # a directory: SQLite cannot open it as a database


@pytest.mark.parametrize("body", [receipt("evt_down", "delivered"), b"{not json"],
                         ids=["valid", "malformed"])
def test_database_unreachable_is_503(unreachable_url, frozen_clock, body):
    app = create_app(settings=Settings(database_url=unreachable_url, vendor_secrets=SECRETS))
    try:
        answer = post(app.test_client(), body)
    finally:
        app.extensions["switchboard"].engine.dispose()
    # Not the caller's fault: a 5xx so the provider retries, even for a body that would be a
    # 400, because its receipt could not be kept.
    assert answer.status_code == 503
    assert answer.is_json
    assert answer.get_json()["error"]["code"] == "database_unavailable"


def test_failure_inside_the_transaction_leaves_nothing(client, engine, frozen_clock,
                                                      monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("UPDATE message_status ...", {}, Exception("connection lost"))

    monkeypatch.setattr(ingest_module, "project", broken)
    body = receipt("evt_half", "delivered")
    answer = post(client, body)
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    for table in ("receipts", "events", "message_status", "deliveries"):
        assert rows(engine, f"SELECT * FROM {table}") == [], table

    # The provider's retry is then stored as new, not mistaken for a duplicate.
    monkeypatch.undo()
    retried = post(client, body)
    assert retried.status_code == 200
    assert retried.get_json()["status"] == "accepted"
    assert len(rows(engine, "SELECT id FROM events")) == 1


def test_a_refused_write_sent_with_the_commit_leaves_nothing(client, engine, frozen_clock,
                                                            monkeypatch):
    """On PostgreSQL the writes after the last read (here the message's status moving on)
    go out with the COMMIT, and the database's answer to them arrives with its answer to the
    COMMIT: a refusal must still leave nothing of that callback."""
    accepted(client, "evt_first", "sent")
    sql, at = ingest_module.ingest_sql(engine)
    broken = dataclasses.replace(sql, advance_status="UPDATE message_status SET no_such_column = 1")
    monkeypatch.setattr(ingest_module, "ingest_sql", lambda _engine: (broken, at))
    answer = post(client, receipt("evt_commit", "delivered"))
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    for table in ("receipts", "events", "message_status"):
        assert len(rows(engine, f"SELECT * FROM {table}")) == 1, table
    assert rows(engine, "SELECT status FROM message_status") == [{"status": "sent"}]

    monkeypatch.undo()
    retried = post(client, receipt("evt_commit", "delivered"))
    assert retried.get_json()["status"] == "accepted"
    assert rows(engine, "SELECT status FROM message_status") == [{"status": "delivered"}]
    assert len(rows(engine, "SELECT id FROM events WHERE fanout_owed IS NOT NULL")) == 2


@pytest.mark.parametrize("hot_path_fails", [False, True])
def test_the_connection_goes_back_to_the_pool_transactional(engine, hot_path_fails):
    """The hot path changes its pooled connection (PostgreSQL: autocommit on, to send its
    own BEGIN; SQLite: the busy handler off); the next SQLAlchemy transaction on that
    connection must still be one transaction."""
    with engine.connect() as conn:
        first = conn.connection.driver_connection
        conn.exec_driver_sql("CREATE TABLE pool_probe (x INTEGER)")
        conn.commit()
    try:
        if hot_path_fails:
            with pytest.raises(DBAPIError), RawTransaction(engine) as tx:
                assert tx.driver is first  # one connection in the pool: this same one
                tx.execute("SELECT no_such_column FROM pool_probe")
        else:
            with RawTransaction(engine) as tx:
                assert tx.driver is first
                tx.execute("SELECT x FROM pool_probe")
        with engine.connect() as conn:
            assert conn.connection.driver_connection is first
            conn.exec_driver_sql("INSERT INTO pool_probe VALUES (1)")
            conn.rollback()
        assert rows(engine, "SELECT x FROM pool_probe") == []
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE pool_probe")


# --- receipts kept for re-normalisation --------------------------------------------------

def test_receipt_of_a_400_reads_back_as_sent(client, engine, frozen_clock):
    body = b'{"id": "evt_bad", "type": "message.delivered", "data": \xff\x00 broken'
    answer = client.post("/webhooks/canary?attempt=2", data=body,
                         headers=canary_headers(body, SECRET))
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "malformed_json"
    (kept,) = rows(engine, "SELECT * FROM receipts")
    assert bytes(kept["body"]) == body
    assert (kept["vendor"], kept["method"], kept["state"]) == ("canary", "POST", "failed")
    assert kept["content_type"] == "application/json"
    assert kept["query_string"] == "attempt=2"
    assert kept["error"].startswith("malformed_json: ")
    assert rows(engine, "SELECT id FROM events") == []


def test_receipt_keeps_the_headers_parsing_needs(client, engine, frozen_clock):
    body = json.dumps({"id": "evt_no_data", "type": "message.delivered",
                       "created": "2026-11-22T05:00:00Z"}).encode()
    answer = client.post("/webhooks/honkio", data=body,
                         headers=honkio_headers(body, SECRETS["honkio"][0], NOW))
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == "data"
    (kept,) = rows(engine, "SELECT body, headers FROM receipts")
    assert bytes(kept["body"]) == body
    headers = kept["headers"] if isinstance(kept["headers"], dict) else json.loads(
        kept["headers"])
    # The event header is needed to parse again; the signature is never kept.
    assert headers == {honkio.EVENT: "message.delivered"}


def test_every_error_names_its_field_or_null(client, frozen_clock):
    """DESIGN.md's error shape is {"code", "message", "field"}: always all three keys."""
    unknown = client.post("/webhooks/nobody", data=b"{}")
    assert unknown.status_code == 404
    assert unknown.get_json() == {"error": {"code": "unknown_vendor", "field": None,
                                            "message": "no provider 'nobody' is configured "
                                                       "here"}}
    token = SECRETS["boomware"][0]
    malformed = client.post(f"/webhooks/boomware/{token}", data=b"{",
                            headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["field"] is None
    assert set(malformed.get_json()["error"]) == {"code", "message", "field"}
