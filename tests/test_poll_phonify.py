"""The Phonify poller against a fake Phonify: a real HTTP server on 127.0.0.1, in a thread,
serving pages of message objects behind Basic auth."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from switchboard.cli import cli
from switchboard.models import PollState
from switchboard.poll import phonify as poller
from switchboard.store.db import make_engine
from tests.conftest import SECRETS, load_event, rows
from tests.signing import sample_json

API_KEY = "ph_live_0123456789"
PAGE = 2
OURS = ("+34911000000",)  # SWITCHBOARD_PHONIFY_NUMBERS: the sample is sent from it


def message(index: int, state: str = "sent", **fields) -> dict:
    payload = sample_json("phonify-message-sent.json") | {"id": f"msg{index:03d}",
                                                           "state": state}
    return payload | fields


class FakePhonify:
    """GET /messages?offset=&limit= as Phonify lists it; `fail_once` holds offsets whose
    next request answers 500."""

    def __init__(self, messages: list[dict]) -> None:
        self.messages = messages
        self.fail_once: set[int] = set()
        self.key = API_KEY
        self.requests: list[tuple[int, int, str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                offset = int(query.get("offset", ["0"])[0])
                limit = int(query.get("limit", ["50"])[0])
                fake.requests.append((offset, limit, self.headers.get("Authorization")))
                expected = "Basic " + base64.b64encode(f"{fake.key}:".encode()).decode()
                if url.path != "/v1/messages":
                    return self.answer(404, {"errors": [{"type": "not_found"}]})
                if self.headers.get("Authorization") != expected:
                    return self.answer(401, {"errors": [{"type": "unauthorized"}]})
                if offset in fake.fail_once:
                    fake.fail_once.discard(offset)
                    return self.answer(500, {"errors": [{"type": "internal"}]})
                return self.answer(200, fake.messages[offset:offset + limit])

            def answer(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def set_state(self, index: int, state: str) -> None:
        self.messages[index] = self.messages[index] | {"state": state}


@pytest.fixture
def phonify_api():
    # msg004 is a customer's SMS to us, as Phonify lists it: no direction, only `to`.
    fake = FakePhonify([message(0, "unconfirmed"), message(1, "sent"), message(2, "error"),
                        message(3, "unconfirmed"),
                        message(4, "sent", to="+34911000000",
                                origin={"number": "+34600000000", "country": "ES"})])
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def poll_settings(settings, phonify_api):
    return dataclasses.replace(settings, phonify_api_url=phonify_api.url,
                               phonify_api_key=API_KEY, phonify_numbers=OURS)


def poll(engine, poll_settings, frozen_clock):
    return poller.poll_once(engine, poll_settings, frozen_clock, page_size=PAGE)


def event_types(engine) -> list[tuple[str, str]]:
    return sorted((r["message_id"], r["type"]) for r in
                  rows(engine, "SELECT message_id, type FROM events"))


def poll_states(engine) -> dict[str, str]:
    return {r["object_id"]: r["state"] for r in
            rows(engine, "SELECT object_id, state FROM poll_state WHERE vendor = 'phonify'")}


ALL_FIRST = [("msg000", "message.accepted"), ("msg001", "message.sent"),
             ("msg002", "message.failed"), ("msg003", "message.accepted"),
             ("msg004", "message.received")]


def test_first_poll_ingests_every_page(app, engine, poll_settings, phonify_api, frozen_clock):
    summary = poll(engine, poll_settings, frozen_clock)
    assert summary.error is None
    assert (summary.pages, summary.listed, summary.accepted) == (3, 5, 5)
    # The summary names the events it stored.
    assert sorted(summary.event_ids) == sorted(r["id"] for r in
                                               rows(engine, "SELECT id FROM events"))
    assert len(summary.event_ids) == 5
    # Page by page until a short page, with the API key as the Basic username.
    auth = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
    assert phonify_api.requests == [(0, PAGE, auth), (2, PAGE, auth), (4, PAGE, auth)]
    assert event_types(engine) == ALL_FIRST
    assert poll_states(engine) == {m["id"]: m["state"] for m in phonify_api.messages}
    statuses = {r["message_id"]: r["status"] for r in
                rows(engine, "SELECT message_id, status FROM message_status")}
    assert statuses == {"msg000": "accepted", "msg001": "sent", "msg002": "failed",
                        "msg003": "accepted"}


def test_received_message_is_inbound_from_its_origin(app, engine, poll_settings,
                                                     frozen_clock):
    poll(engine, poll_settings, frozen_clock)
    (stored,) = rows(engine, "SELECT type, data FROM events WHERE message_id = 'msg004'")
    data = stored["data"] if isinstance(stored["data"], dict) else json.loads(stored["data"])
    assert (stored["type"], data["direction"], data["from"], data["to"]) == (
        "message.received", "inbound", "+34600000000", "+34911000000")


def test_without_our_numbers_a_received_message_is_outbound(app, engine, poll_settings,
                                                            frozen_clock):
    # README: without SWITCHBOARD_PHONIFY_NUMBERS nothing Phonify lists can be told inbound.
    poll(engine, dataclasses.replace(poll_settings, phonify_numbers=()), frozen_clock)
    assert ("msg004", "message.sent") in event_types(engine)


def test_created_at_in_unix_seconds_or_milliseconds(app, engine, poll_settings, phonify_api,
                                                    frozen_clock):
    # 90 s before tests/conftest.py FROZEN_AT, as Phonify may type its "timestamp".
    phonify_api.messages = [message(0, created_at=1795323510),
                            message(1, created_at=1795323510250)]
    summary = poll(engine, poll_settings, frozen_clock)
    assert (summary.accepted, summary.invalid) == (2, 0)
    occurred = {r["message_id"]: load_event(engine, r["id"])["occurred_at"]
                for r in rows(engine, "SELECT id, message_id FROM events")}
    assert occurred == {"msg000": "2026-11-22T04:58:30Z", "msg001": "2026-11-22T04:58:30.250Z"}


def test_a_polled_receipt_is_kept_as_what_the_api_answered(app, engine, poll_settings,
                                                           frozen_clock):
    """No provider called us: the receipt holds the message as JSON, with no query string
    or headers of a request that never came."""
    poll(engine, poll_settings, frozen_clock)
    kept = rows(engine, "SELECT method, content_type, query_string, state FROM receipts")
    assert len(kept) == 5
    assert {(r["method"], r["content_type"], r["query_string"], r["state"]) for r in kept} \
        == {("POST", "application/json", None, "parsed")}


def test_second_poll_without_changes_stores_nothing(app, engine, poll_settings, frozen_clock):
    poll(engine, poll_settings, frozen_clock)
    frozen_clock.advance(30)
    summary = poll(engine, poll_settings, frozen_clock)
    assert (summary.accepted, summary.unchanged, summary.duplicates) == (0, 5, 0)
    assert summary.event_ids == []
    assert len(rows(engine, "SELECT id FROM events")) == 5
    assert len(rows(engine, "SELECT id FROM receipts")) == 5


def test_changed_states_become_new_events(app, engine, poll_settings, phonify_api,
                                          frozen_clock):
    poll(engine, poll_settings, frozen_clock)
    phonify_api.set_state(0, "sent")
    phonify_api.set_state(3, "error")
    phonify_api.set_state(4, "error")  # an inbound message: still one message.received
    frozen_clock.advance(30)
    summary = poll(engine, poll_settings, frozen_clock)
    assert (summary.accepted, summary.unchanged, summary.duplicates) == (2, 2, 1)
    assert event_types(engine) == sorted(ALL_FIRST + [("msg000", "message.sent"),
                                                      ("msg003", "message.failed")])
    assert poll_states(engine)["msg000"] == "sent"
    assert poll_states(engine)["msg003"] == "error"
    with engine.connect() as conn:
        seen_at = conn.execute(select(PollState.seen_at).where(
            PollState.object_id == "msg000")).scalar_one()
    assert seen_at == frozen_clock()
    statuses = {r["message_id"]: r["status"] for r in
                rows(engine, "SELECT message_id, status FROM message_status")}
    assert (statuses["msg000"], statuses["msg003"]) == ("sent", "failed")


def test_page_failing_once_is_retried_next_run(app, engine, poll_settings, phonify_api,
                                               frozen_clock):
    phonify_api.fail_once = {2}
    first = poll(engine, poll_settings, frozen_clock)
    assert first.error == f"GET /messages?offset=2&limit={PAGE}: HTTP 500"
    assert (first.pages, first.accepted) == (1, 2)
    # What came before the failing page is stored and remembered; nothing after it.
    assert set(poll_states(engine)) == {"msg000", "msg001"}
    assert len(rows(engine, "SELECT id FROM events")) == 2
    frozen_clock.advance(30)
    second = poll(engine, poll_settings, frozen_clock)
    assert second.error is None
    assert (second.accepted, second.unchanged, second.duplicates) == (3, 2, 0)
    assert event_types(engine) == ALL_FIRST
    assert len(poll_states(engine)) == 5


def test_restart_neither_loses_nor_repeats(app, engine, poll_settings, phonify_api,
                                           frozen_clock):
    poll(engine, poll_settings, frozen_clock)
    engine.dispose()
    # A new process: a new engine on the same database, nothing kept in memory.
    restarted = make_engine(poll_settings.database_url)
    try:
        phonify_api.set_state(1, "error")
        summary = poll(restarted, poll_settings, frozen_clock)
        assert (summary.accepted, summary.unchanged) == (1, 4)
        assert event_types(restarted) == sorted(ALL_FIRST + [("msg001", "message.failed")])
    finally:
        restarted.dispose()


def test_crash_after_ingest_before_remembering_is_a_duplicate(app, engine, poll_settings,
                                                              frozen_clock):
    poll(engine, poll_settings, frozen_clock)
    # As if the process died after each ingest committed but before poll_state was written.
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM poll_state")
    summary = poll(engine, poll_settings, frozen_clock)
    assert (summary.accepted, summary.duplicates) == (0, 5)
    assert len(rows(engine, "SELECT id FROM events")) == 5
    assert len(rows(engine, "SELECT id FROM receipts")) == 5
    assert len(poll_states(engine)) == 5


def test_pushed_then_polled_counts_once(client, engine, poll_settings, phonify_api,
                                        frozen_clock):
    pushed = client.post(f"/webhooks/phonify/{SECRETS['phonify'][0]}",
                         data=json.dumps(phonify_api.messages[1]),
                         headers={"Content-Type": "application/json"})
    assert pushed.get_json()["status"] == "accepted"
    summary = poll(engine, poll_settings, frozen_clock)
    assert (summary.accepted, summary.duplicates) == (4, 1)
    assert event_types(engine) == ALL_FIRST


def test_unusable_messages(app, engine, poll_settings, phonify_api, frozen_clock):
    phonify_api.messages = [message(0, created_at="soon"), {"state": "sent"}, "junk",
                            message(1)]
    first = poll(engine, poll_settings, frozen_clock)
    assert (first.accepted, first.invalid) == (1, 3)
    # The one with an id that did not parse is kept for re-normalisation, once.
    second = poll(engine, poll_settings, frozen_clock)
    assert (second.accepted, second.invalid, second.unchanged) == (0, 2, 2)
    failed = rows(engine, "SELECT error FROM receipts WHERE state = 'failed'")
    assert [r["error"] for r in failed] == [
        "invalid_field: field 'created_at' is not an ISO 8601 time, or Unix seconds or "
        "milliseconds"]
    assert event_types(engine) == [("msg001", "message.sent")]


def test_wrong_api_key_stores_nothing(app, engine, poll_settings, phonify_api, frozen_clock):
    phonify_api.key = "another key"
    summary = poll(engine, poll_settings, frozen_clock)
    assert summary.error == f"GET /messages?offset=0&limit={PAGE}: HTTP 401"
    assert (summary.pages, summary.accepted) == (0, 0)
    assert rows(engine, "SELECT id FROM receipts") == []


def test_unreachable_api_is_reported(app, engine, poll_settings, phonify_api, frozen_clock):
    phonify_api.server.shutdown()
    phonify_api.server.server_close()
    summary = poll(engine, poll_settings, frozen_clock)
    assert summary.error == f"GET /messages?offset=0&limit={PAGE}: ConnectionError"
    assert rows(engine, "SELECT id FROM receipts") == []


def test_not_configured(app, engine, settings):
    with pytest.raises(poller.PollNotConfigured):
        poller.poll_once(engine, settings)


def test_cli(app, engine, poll_settings, phonify_api, frozen_clock):
    app.extensions["switchboard"].settings = poll_settings
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["poll", "phonify"])
    assert result.exit_code == 0, result.output
    assert result.output == ("phonify: 1 page(s), 5 message(s): 5 accepted, 0 duplicate, "
                             "0 unchanged, 0 invalid\n")
    phonify_api.fail_once = {0}
    failed = runner.invoke(cli, ["poll", "phonify"])
    assert failed.exit_code == 1
    assert "stopped: GET /messages?offset=0&limit=100: HTTP 500" in failed.output


def test_cli_not_configured(app):
    result = app.test_cli_runner().invoke(cli, ["poll", "phonify"])
    assert result.exit_code == 2
    assert "SWITCHBOARD_PHONIFY_API_URL" in result.output



def test_worker_polls_phonify_every_interval(engine, poll_settings, phonify_api):
    from switchboard.worker.runner import Worker

    worker = Worker(engine, dataclasses.replace(poll_settings, phonify_poll_interval=0.2),
                    concurrency=2, poll_interval=0.05)
    runner = threading.Thread(target=worker.run_forever, kwargs={"idle_wait": 0.05})
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while len(poll_states(engine)) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(poll_states(engine)) == 5
        phonify_api.set_state(0, "sent")  # changes between polls are picked up
        while poll_states(engine).get("msg000") != "sent" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert poll_states(engine)["msg000"] == "sent"
    finally:
        worker.stop()
        runner.join(timeout=10)
        worker.close()
    assert not runner.is_alive()
    assert ("msg000", "message.sent") in event_types(engine)
