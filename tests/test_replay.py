"""Replay and renormalize: by id, by filter, to one subscription, dry run, batches, resume,
and rebuilding events from raw receipts after a mapping fix."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from switchboard import clock
from switchboard.cli import cli
from switchboard.models import Delivery, Event, MessageStatus, Receipt
from switchboard.operations import renormalize as renormalize_module
from switchboard.operations import replay as replay_module
from switchboard.operations import subscriptions as subs
from switchboard.operations.common import OperationError
from switchboard.operations.replay import parse_request, replay, replay_from_json
from switchboard.vendors import honkio
from switchboard.worker import outbox
from switchboard.worker.runner import Worker
from tests.callbacks import honkio_body, send_honkio
from tests.conftest import SECRETS
from tests.signing import honkio_headers


def table(engine, model, *where):
    t = model.__table__
    with engine.connect() as conn:
        order = t.c.id if "id" in t.c else t.c.message_id
        return conn.execute(select(t).where(*where).order_by(order)).mappings().all()


def subscribe(engine, settings, url, event_types=("*",)):
    with engine.begin() as conn:
        return subs.create(conn, settings, clock.now(), url=url,
                           event_types=list(event_types))[0]


def deliver_all(engine, settings):
    worker = Worker(engine, settings, concurrency=2)
    while worker.run_once():
        pass
    worker.close()


def test_replay_by_id_resends_with_the_same_webhook_id(client, engine, settings, subscriber,
                                                       frozen_clock):
    subscribe(engine, settings, subscriber.url)
    (event_id,) = send_honkio(client)
    deliver_all(engine, settings)
    answer = replay_from_json(engine, settings, {"event_ids": [event_id]}, clock.now())
    assert answer == {"matched": 1, "enqueued": 1}
    deliver_all(engine, settings)
    assert subscriber.webhook_ids() == [event_id, event_id]
    rows = table(engine, Delivery)
    assert sorted(r["replay"] for r in rows) == [False, True]
    assert all(r["state"] == "succeeded" for r in rows)


def test_replay_by_filter_skips_late_receipts(client, engine, settings, subscriber,
                                              frozen_clock):
    subscribe(engine, settings, subscriber.url)
    delivered = send_honkio(client, "delivered", message_id="msg_a")[0]
    send_honkio(client, "sent", message_id="msg_a")  # superseded: never resent by a filter
    sent_b = send_honkio(client, "sent", message_id="msg_b")[0]
    request = parse_request({"filter": {"vendor": "honkio"}})
    result = replay(engine, settings, request, clock.now())
    assert (result.matched, result.enqueued) == (2, 2)
    replayed = {r["event_id"] for r in table(engine, Delivery, Delivery.replay.is_(True))}
    assert replayed == {delivered, sent_b}
    by_type = replay_from_json(engine, settings, {"filter": {"type": "message.sent"}},
                               clock.now())
    assert by_type == {"matched": 1, "enqueued": 1}


def test_replay_to_one_subscription_only(client, engine, settings, frozen_clock):
    first = subscribe(engine, settings, "http://127.0.0.1:1/a")
    subscribe(engine, settings, "http://127.0.0.1:1/b")
    (event_id,) = send_honkio(client)
    answer = replay_from_json(engine, settings, {"event_ids": [event_id],
                                                 "subscription_id": first["id"]}, clock.now())
    assert answer == {"matched": 1, "enqueued": 1}
    replayed = table(engine, Delivery, Delivery.replay.is_(True))
    assert [r["subscription_id"] for r in replayed] == [first["id"]]


def test_dry_run_counts_and_makes_nothing(client, engine, settings, frozen_clock):
    subscribe(engine, settings, "http://127.0.0.1:1/a")
    subscribe(engine, settings, "http://127.0.0.1:1/b", ["message.sent"])
    for _ in range(3):
        send_honkio(client)
    before = len(table(engine, Delivery))
    answer = replay_from_json(engine, settings, {"filter": {"vendor": "honkio"},
                                                 "dry_run": True}, clock.now())
    assert answer == {"matched": 3, "enqueued": 3}
    assert len(table(engine, Delivery)) == before


def test_large_replay_runs_in_batches_and_resumes(client, engine, settings, monkeypatch,
                                                  frozen_clock):
    subscribe(engine, settings, "http://127.0.0.1:1/a")
    ids = [send_honkio(client)[0] for _ in range(10)]
    monkeypatch.setattr(replay_module, "BATCH", 3)
    seen = []
    request = parse_request({"filter": {"vendor": "honkio"}})
    result = replay(engine, settings, request, clock.now(),
                    progress=lambda r: seen.append((r.matched, r.last_event_id)))
    assert [m for m, _ in seen] == [3, 6, 9, 10]
    assert result.last_event_id == max(ids)
    # An interrupted run resumes after the last event it reported.
    resumed = replay(engine, settings, replay_module.ReplayRequest(
        filter=replay_module.check_filter({"vendor": "honkio"}), after=seen[1][1]),
        clock.now())
    assert resumed.matched == 4
    assert len(table(engine, Delivery, Delivery.replay.is_(True))) == 14


@pytest.mark.parametrize("body, field", [
    ({"event_ids": ["e"], "filter": {}}, "event_ids"),
    ({}, "event_ids"),
    ({"event_ids": []}, "event_ids"),
    ({"filter": {"colour": "red"}}, "filter.colour"),
    ({"filter": {"since": "yesterday"}}, "filter.since"),
    ({"filter": {"status": "bogus"}}, "filter.status"),
    ({"filter": {"vendor": "nobody"}}, "filter.vendor"),
    ({"filter": {"status": ""}}, "filter.status"),
    ({"filter": {"type": 5}}, "filter.type"),
    ({"filter": {"limit": "5"}}, "filter.limit"),
    ({"filter": {"vendor": "honkio"}, "dry_run": "yes"}, "dry_run"),
    ({"event_ids": ["e"], "speed": 1}, "speed"),
    ([1, 2], "body"),
])
def test_bad_requests_name_the_field(body, field):
    with pytest.raises(OperationError) as bad:
        parse_request(body)
    assert bad.value.field == field


def test_replay_to_a_disabled_or_unknown_subscription_is_refused(client, engine, settings,
                                                                 frozen_clock):
    sub = subscribe(engine, settings, "http://127.0.0.1:1/a")
    with engine.begin() as conn:
        subs.set_active(conn, settings, sub["id"], False)
    (event_id,) = send_honkio(client)
    for sub_id, status, code in ((sub["id"], 409, "not_active"), ("sub_nope", 404, "not_found")):
        with pytest.raises(OperationError) as refused:
            replay_from_json(engine, settings, {"event_ids": [event_id],
                                                "subscription_id": sub_id}, clock.now())
        assert (refused.value.status, refused.value.code) == (status, code)


def test_renormalize_applies_a_fixed_status_map(client, engine, settings, subscriber,
                                                monkeypatch, frozen_clock):
    subscribe(engine, settings, subscriber.url)
    (event_id,) = send_honkio(client, "carrier_lost", message_id="msg_r")
    (stored,) = table(engine, Event)
    assert (stored["type"], stored["status"]) == ("message.unknown", "unknown")
    deliver_all(engine, settings)
    monkeypatch.setitem(honkio.STATUS_MAP, "carrier_lost", "undelivered")
    answer = replay_from_json(engine, settings, {"event_ids": [event_id],
                                                 "renormalize": True}, clock.now())
    report = answer["renormalized"]
    assert report["receipts"] == 1 and report["unchanged"] == 0
    (change,) = report["changed"]
    assert change["event_id"] == event_id
    assert change["changes"]["type"] == ["message.unknown", "message.undelivered"]
    assert change["changes"]["status"] == ["unknown", "undelivered"]
    (stored,) = table(engine, Event)
    assert (stored["type"], stored["status"]) == ("message.undelivered", "undelivered")
    (status,) = table(engine, MessageStatus)
    assert status["status"] == "undelivered"
    assert answer["enqueued"] == 1
    deliver_all(engine, settings)
    bodies = [json.loads(r.body) for r in subscriber.received]
    assert [b["type"] for b in bodies] == ["message.unknown", "message.undelivered"]


def test_renormalize_dry_run_changes_nothing(client, engine, settings, monkeypatch,
                                             frozen_clock):
    (event_id,) = send_honkio(client, "carrier_lost")
    monkeypatch.setitem(honkio.STATUS_MAP, "carrier_lost", "undelivered")
    answer = replay_from_json(engine, settings, {"event_ids": [event_id], "dry_run": True,
                                                 "renormalize": True}, clock.now())
    assert len(answer["renormalized"]["changed"]) == 1
    assert table(engine, Event)[0]["type"] == "message.unknown"


def test_renormalize_parses_receipts_that_failed_on_arrival(client, engine, settings,
                                                            subscriber, monkeypatch,
                                                            frozen_clock):
    subscribe(engine, settings, subscriber.url)
    payload = json.loads(honkio_body("delivered"))
    payload["data"]["msg_id"] = payload["data"].pop("message_id")  # a field HonkIO renamed
    body = json.dumps(payload).encode()
    headers = honkio_headers(body, SECRETS["honkio"][0], int(clock.now().timestamp()))
    assert client.post("/webhooks/honkio", data=body, headers=headers).status_code == 400
    assert [r["state"] for r in table(engine, Receipt)] == ["failed"]
    original = honkio.HonkIO.parse

    def fixed(self, inbound, settings):  # the mapping fix: read the renamed field too
        data = inbound.json.get("data", {})
        if "msg_id" in data:
            data["message_id"] = data["msg_id"]
        return original(self, inbound, settings)

    monkeypatch.setattr(honkio.HonkIO, "parse", fixed)
    answer = replay_from_json(engine, settings, {"filter": {"vendor": "honkio"},
                                                 "renormalize": True}, clock.now())
    assert answer["renormalized"]["created"] == 1
    assert answer == answer | {"matched": 1, "enqueued": 1}
    assert [r["state"] for r in table(engine, Receipt)] == ["parsed"]
    (event,) = table(engine, Event)
    assert event["message_id"] == payload["data"]["msg_id"]
    deliver_all(engine, settings)
    assert subscriber.webhook_ids() == [event["id"]]


def test_renormalize_walks_provider_receipts_only(client, engine, settings, frozen_clock):
    from switchboard.operations.subscription_test_event import send_test_event

    sub = subscribe(engine, settings, "http://127.0.0.1:1/a")
    send_honkio(client, "delivered", message_id="msg_real")
    with engine.begin() as conn:
        send_test_event(conn, sub["id"], clock.now())
    answer = replay_from_json(engine, settings, {"filter": {}, "renormalize": True,
                                                 "dry_run": True}, clock.now())
    report = answer["renormalized"]
    assert (report["receipts"], report["still_failing"]) == (1, 0)


def test_renormalize_replays_only_what_it_changed(client, engine, settings, monkeypatch,
                                                  frozen_clock):
    subscribe(engine, settings, "http://127.0.0.1:1/a")
    (lost,) = send_honkio(client, "carrier_lost", message_id="msg_lost")
    send_honkio(client, "delivered", message_id="msg_fine")  # parses the same today
    monkeypatch.setitem(honkio.STATUS_MAP, "carrier_lost", "undelivered")
    body = {"filter": {"vendor": "honkio"}, "renormalize": True}
    answer = replay_from_json(engine, settings, body, clock.now())
    assert answer["renormalized"]["unchanged"] == 1
    assert (answer["matched"], answer["enqueued"]) == (1, 1)
    assert [r["event_id"] for r in table(engine, Delivery, Delivery.replay.is_(True))] == [lost]
    # Run again: nothing changes, so nothing is owed again.
    again = replay_from_json(engine, settings, body, clock.now())
    assert (again["matched"], again["enqueued"]) == (0, 0)
    assert again["renormalized"]["unchanged"] == 2
    assert len(table(engine, Delivery, Delivery.replay.is_(True))) == 1


def test_renormalize_shows_a_bounded_sample_of_changes(client, engine, settings, monkeypatch,
                                                       frozen_clock):
    for _ in range(5):
        send_honkio(client, "carrier_lost")
    monkeypatch.setitem(honkio.STATUS_MAP, "carrier_lost", "undelivered")
    monkeypatch.setattr(renormalize_module, "SHOWN_CHANGES", 2)
    monkeypatch.setattr(renormalize_module, "BATCH", 2)
    answer = replay_from_json(engine, settings, {"filter": {"vendor": "honkio"},
                                                 "renormalize": True}, clock.now())
    report = answer["renormalized"]
    assert (report["receipts"], report["changed_count"], len(report["changed"])) == (5, 5, 2)
    assert answer["matched"] == 5


def interrupt_on_write(monkeypatch, calls: int) -> None:
    """Ctrl-C while the given (1-based) batch writes its deliveries."""
    real, seen = outbox.write, []

    def write(conn, rows):
        seen.append(1)
        if len(seen) == calls:
            raise KeyboardInterrupt
        real(conn, rows)

    monkeypatch.setattr(outbox, "write", write)


@pytest.mark.parametrize("renormalize", [False, True])
def test_replay_cli_interrupted_resumes_where_it_said(app, client, engine, settings,
                                                      monkeypatch, frozen_clock, renormalize):
    subscribe(engine, settings, "http://127.0.0.1:1/a")
    ids = [send_honkio(client, "carrier_lost")[0] for _ in range(7)]
    monkeypatch.setitem(honkio.STATUS_MAP, "carrier_lost", "undelivered")
    monkeypatch.setattr(replay_module, "BATCH", 3)
    monkeypatch.setattr(renormalize_module, "BATCH", 3)
    flags = ["--renormalize"] if renormalize else []
    runner = app.test_cli_runner()
    real_write = outbox.write
    interrupt_on_write(monkeypatch, calls=2)
    cut = runner.invoke(cli, ["replay", "--vendor", "honkio", *flags])
    assert cut.exit_code == 130, cut.output
    said = re.search(r"interrupted after 3 (events|receipts); resume with (.*)$", cut.stderr,
                     re.M)
    assert said, cut.stderr
    resume = said.group(2).split()
    assert resume[:-1] == [*flags, "--after"]
    # The first batch is done, the second rolled back with the interrupt.
    assert len(table(engine, Delivery, Delivery.replay.is_(True))) == 3
    monkeypatch.setattr(outbox, "write", real_write)
    rest = runner.invoke(cli, ["replay", "--vendor", "honkio", *resume])
    assert rest.exit_code == 0, rest.output
    assert json.loads(rest.stdout)["matched"] == 4
    replayed = [r["event_id"] for r in table(engine, Delivery, Delivery.replay.is_(True))]
    assert sorted(replayed) == sorted(ids)  # each once: none missed, none twice


def test_resume_point_of_the_wrong_kind_is_refused(client, engine, settings, frozen_clock):
    (event_id,) = send_honkio(client)
    for renormalize, after in ((True, event_id), (False, "rcv_01")):
        with pytest.raises(OperationError) as refused:
            replay(engine, settings, replay_module.ReplayRequest(
                filter={"vendor": "honkio"}, renormalize=renormalize, after=after),
                clock.now())
        assert refused.value.field == "after"


def test_replay_cli(app, client, engine, settings, frozen_clock):
    subscribe(engine, settings, "http://127.0.0.1:1/a")
    ids = [send_honkio(client)[0] for _ in range(3)]
    runner = app.test_cli_runner()
    dry = runner.invoke(cli, ["replay", "--vendor", "honkio", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout) == {"matched": 3, "enqueued": 3, "dry_run": True}
    resumed = runner.invoke(cli, ["replay", "--vendor", "honkio", "--after", sorted(ids)[0]])
    assert json.loads(resumed.stdout) == {"matched": 2, "enqueued": 2}
    by_id = runner.invoke(cli, ["replay", "--event-id", ids[0]])
    assert json.loads(by_id.stdout) == {"matched": 1, "enqueued": 1}
    assert runner.invoke(cli, ["replay"]).exit_code != 0
    bad = runner.invoke(cli, ["replay", "--since", "soon"])
    assert bad.exit_code != 0 and "filter.since" in bad.output


def test_every_event_filter_field_becomes_a_condition_and_no_other_is_ignored():
    """A filter field the store did not know would match everything: a replay meant for one
    vendor's events would send every event."""
    from datetime import UTC, datetime

    from switchboard.operations.events import FILTER_FIELDS
    from switchboard.store.events import matching

    moment = datetime(2026, 11, 22, tzinfo=UTC)
    given = {name: moment if name in ("since", "until") else "x" for name in FILTER_FIELDS}
    assert len(matching(given)) == len(FILTER_FIELDS)
    with pytest.raises(ValueError, match="'vendors'"):
        matching({"vendors": "honkio"})
