"""Fan-out through the worker: owed fan-outs expanded into delivery rows, signed deliveries
to real local subscribers, filters, retries, Retry-After, 410, dead letters, handler
isolation, secret rotation."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from switchboard.handlers.registry import on, unregister
from switchboard.models import Attempt, Delivery
from switchboard.operations import subscriptions as subs
from switchboard.operations.common import OperationError
from tests.callbacks import send_honkio
from tests.conftest import SECRETS, expand_owed, load_event, rows
from tests.signing import canary_headers, sample_json
from tests.subscriber import Subscriber


def subscribe(engine, settings, url, event_types=("*",), vendors=None):
    with engine.begin() as conn:
        return subs.create(conn, settings, settings_now(), url=url,
                           event_types=list(event_types), vendors=vendors)


def settings_now():
    from switchboard import clock

    return clock.now()


def deliveries(engine):
    table = Delivery.__table__
    with engine.connect() as conn:
        return conn.execute(select(table).order_by(table.c.created_at, table.c.id)) \
            .mappings().all()


def attempts(engine, delivery_id):
    table = Attempt.__table__
    with engine.connect() as conn:
        return conn.execute(select(table).where(table.c.delivery_id == delivery_id)
                            .order_by(table.c.id)).mappings().all()


def test_delivery_is_signed_per_standard_webhooks(client, engine, settings, subscriber,
                                                  make_worker, frozen_clock):
    sub, secret = subscribe(engine, settings, subscriber.url)
    (event_id,) = send_honkio(client)
    assert make_worker().run_once() == 1
    (got,) = subscriber.received
    verified = Webhook(secret).verify(got.body, got.headers)
    assert verified == json.loads(json.dumps(load_event(engine, event_id)))
    assert got.headers["webhook-id"] == event_id
    with pytest.raises(WebhookVerificationError):
        Webhook(subs.new_secret()).verify(got.body, got.headers)
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "succeeded" and delivery["subscription_id"] == sub["id"]
    (attempt,) = attempts(engine, delivery["id"])
    assert attempt["status_code"] == 200 and attempt["response_body"] == '{"ok": true}'


def test_type_and_vendor_filters(client, engine, settings, subscriber, make_worker,
                                 frozen_clock):
    exact, _ = subscribe(engine, settings, subscriber.url + "/exact", ["message.delivered"])
    wildcard, _ = subscribe(engine, settings, subscriber.url + "/all", ["message.*"])
    other_vendor, _ = subscribe(engine, settings, subscriber.url + "/canary", ["*"],
                                vendors=["canary"])
    (delivered,) = send_honkio(client, "delivered")
    (sent,) = send_honkio(client, "sent")
    expand_owed(engine)
    made = {(d["event_id"], d["subscription_id"]) for d in deliveries(engine)}
    assert made == {(delivered, exact["id"]), (delivered, wildcard["id"]),
                    (sent, wildcard["id"])}
    make_worker().run_once()
    assert sorted(subscriber.webhook_ids()) == sorted([delivered, delivered, sent])
    assert other_vendor["id"] not in {d["subscription_id"] for d in deliveries(engine)}


def test_one_providers_subscription_and_handler_get_only_its_events(
        client, engine, settings, subscriber, frozen_clock):
    honkio_only, _ = subscribe(engine, settings, subscriber.url + "/honkio",
                               vendors=["honkio"])
    canary_only, _ = subscribe(engine, settings, subscriber.url + "/canary",
                               vendors=["canary"])
    name = "test.honkio_only"

    @on("*", vendors=["honkio"], name=name)
    def handler(event):
        pass

    try:
        (from_honkio,) = send_honkio(client)
        payload = sample_json("canary-delivered.json")
        payload["created"] = int(settings_now().timestamp())  # inside Canary's window
        body = json.dumps(payload).encode()
        answer = client.post("/webhooks/canary", data=body,
                             headers=canary_headers(body, SECRETS["canary"][0]))
        (from_canary,) = answer.get_json()["event_ids"]
        expand_owed(engine)
    finally:
        unregister(name)
    made = {(d["event_id"], d["subscription_id"], d["handler"]) for d in deliveries(engine)}
    assert made == {(from_honkio, honkio_only["id"], None), (from_honkio, None, name),
                    (from_canary, canary_only["id"], None)}


def test_ingest_writes_no_deliveries_and_expansion_writes_each_target_once(
        client, engine, settings, subscriber, frozen_clock):
    first, _ = subscribe(engine, settings, subscriber.url + "/a")
    second, _ = subscribe(engine, settings, subscriber.url + "/b", ["message.*"])
    odd_name = 'test."quoted", {braced} \\ handler'  # travels inside a JSON parameter

    @on("message.delivered", name=odd_name)
    def handler(event):
        pass

    try:
        (event_id,) = send_honkio(client)
        assert deliveries(engine) == []
        assert rows(engine, "SELECT fanout_owed FROM events")[0]["fanout_owed"] in (True, 1)
        frozen_clock.advance(3)
        assert expand_owed(engine) == 3
        assert expand_owed(engine) == 0  # expanded once: the mark is gone
    finally:
        unregister(odd_name)
    assert rows(engine, "SELECT fanout_owed FROM events")[0]["fanout_owed"] is None
    made = deliveries(engine)
    assert {(d["subscription_id"], d["handler"]) for d in made} == {
        (first["id"], None), (second["id"], None), (None, odd_name)}
    assert len({d["id"] for d in made}) == 3
    for row in made:
        assert row["id"].startswith("dlv_") and row["event_id"] == event_id
        assert (row["state"], row["attempts"], row["replay"]) == ("pending", 0, False)
        assert row["next_attempt_at"] == row["created_at"] == frozen_clock.moment
        assert row["lease_until"] is row["leased_by"] is row["finished_at"] is None
        assert row["last_error"] is None


def test_retry_after_500_then_success(client, engine, settings, subscriber, make_worker,
                                      frozen_clock):
    subscribe(engine, settings, subscriber.url)
    subscriber.reply(500, body=b"boom")
    send_honkio(client)
    worker = make_worker(retry_schedule=(0, 10, 60))
    worker.run_once()
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "pending" and delivery["attempts"] == 1
    wait = (delivery["next_attempt_at"] - frozen_clock.moment).total_seconds()
    assert 8 <= wait <= 12  # 10 s, ±20% jitter
    assert worker.run_once() == 0  # not due yet
    frozen_clock.advance(12.5)
    assert worker.run_once() == 1
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "succeeded" and delivery["attempts"] == 2
    got = attempts(engine, delivery["id"])
    assert [(a["status_code"], a["response_body"]) for a in got] == [
        (500, "boom"), (200, '{"ok": true}')]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(client, engine, settings, subscriber, make_worker,
                                 frozen_clock, status):
    subscribe(engine, settings, subscriber.url)
    subscriber.reply(status, {"Retry-After": "120"})
    send_honkio(client)
    make_worker(retry_schedule=(0, 5, 5)).run_once()
    (delivery,) = deliveries(engine)
    assert delivery["next_attempt_at"] == frozen_clock.moment + timedelta(seconds=120)


def test_410_disables_the_subscription(client, engine, settings, subscriber, make_worker,
                                       frozen_clock):
    sub, _ = subscribe(engine, settings, subscriber.url)
    subscriber.reply(410)
    send_honkio(client)
    make_worker().run_once()
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "dead"
    (stored,) = rows(engine, "SELECT active, disabled_reason FROM subscriptions")
    assert stored["active"] in (False, 0) and "410" in stored["disabled_reason"]
    send_honkio(client)
    expand_owed(engine)
    assert len(deliveries(engine)) == 1  # nothing more owed to a gone subscriber


def test_dead_after_the_last_attempt(client, engine, settings, subscriber, make_worker,
                                     frozen_clock):
    subscribe(engine, settings, subscriber.url)
    subscriber.default = (500, {}, b"down")
    send_honkio(client)
    worker = make_worker(retry_schedule=(0, 1, 2))
    for _ in range(3):
        assert worker.run_once() == 1
        frozen_clock.advance(3)
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "dead" and delivery["attempts"] == 3
    assert delivery["last_error"] == "HTTP 500"
    assert worker.run_once() == 0
    assert len(subscriber.received) == 3


def test_connection_refused_is_retried(client, engine, settings, make_worker, frozen_clock):
    closed = Subscriber()
    url = closed.url
    closed.server.server_close()  # nothing listens on this port now
    subscribe(engine, settings, url)
    send_honkio(client)
    make_worker().run_once()
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "pending" and delivery["attempts"] == 1
    (attempt,) = attempts(engine, delivery["id"])
    assert attempt["status_code"] is None and "Error" in attempt["error"]


def test_failing_handler_is_isolated_and_retried(client, engine, settings, make_worker,
                                                 frozen_clock):
    seen = {"first": [], "third": []}
    calls = {"broken": 0}

    @on("message.*", name="test.first")
    def first(event):
        seen["first"].append(event["id"])

    @on("message.delivered", name="test.broken")
    def broken(event):
        calls["broken"] += 1
        raise RuntimeError("handler bug")

    @on("*", name="test.third")
    def third(event):
        seen["third"].append(event["id"])

    try:
        (event_id,) = send_honkio(client)
        worker = make_worker(retry_schedule=(0, 1))
        worker.run_once()
        assert seen == {"first": [event_id], "third": [event_id]}
        states = {d["handler"]: (d["state"], d["last_error"]) for d in deliveries(engine)}
        assert states == {"test.first": ("succeeded", None), "test.third": ("succeeded", None),
                          "test.broken": ("pending", "RuntimeError: handler bug")}
        frozen_clock.advance(2)
        worker.run_once()
        states = {d["handler"]: d["state"] for d in deliveries(engine)}
        assert states["test.broken"] == "dead" and calls["broken"] == 2
        assert seen == {"first": [event_id], "third": [event_id]}  # not rerun
    finally:
        for name in ("test.first", "test.broken", "test.third"):
            unregister(name)


def test_superseded_receipts_fan_out_nothing(client, engine, settings, subscriber,
                                             make_worker, frozen_clock):
    subscribe(engine, settings, subscriber.url)
    (delivered,) = send_honkio(client, "delivered", message_id="msg_late")
    (late_sent,) = send_honkio(client, "sent", message_id="msg_late")
    assert rows(engine, "SELECT fanout_owed FROM events WHERE id = :id",
                id=late_sent)[0]["fanout_owed"] is None
    expand_owed(engine)
    assert [d["event_id"] for d in deliveries(engine)] == [delivered]
    make_worker().run_once()
    assert subscriber.webhook_ids() == [delivered]


def test_rotated_secret_signs_beside_the_new_one_for_24h(client, engine, settings, subscriber,
                                                          make_worker, frozen_clock):
    sub, old = subscribe(engine, settings, subscriber.url)
    with engine.begin() as conn:
        new = subs.rotate_secret(conn, sub["id"], frozen_clock.moment)["secret"]
    worker = make_worker()
    send_honkio(client)
    worker.run_once()
    during = subscriber.received[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(during.body, during.headers)
    Webhook(new).verify(during.body, during.headers)
    frozen_clock.advance(24 * 3600 + 1)
    send_honkio(client)
    worker.run_once()
    after = subscriber.received[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)
    Webhook(new).verify(after.body, after.headers)


def test_failing_for_disable_after_disables(client, engine, settings, subscriber, make_worker,
                                            frozen_clock):
    sub, _ = subscribe(engine, settings, subscriber.url)
    subscriber.default = (500, {}, b"")
    worker = make_worker(retry_schedule=(0, 100, 100, 100), disable_after=250)
    send_honkio(client)
    worker.run_once()
    frozen_clock.advance(130)
    worker.run_once()
    assert rows(engine, "SELECT active FROM subscriptions")[0]["active"] in (True, 1)
    frozen_clock.advance(130)
    worker.run_once()  # 260 s of failure without a success
    (stored,) = rows(engine, "SELECT active, disabled_reason FROM subscriptions")
    assert stored["active"] in (False, 0) and "failing" in stored["disabled_reason"]
    # What it still owed is cancelled, and enabling it again resends nothing by itself.
    frozen_clock.advance(130)
    worker.run_once()
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "cancelled"
    with engine.begin() as conn:
        subs.set_active(conn, settings, sub["id"], True)
    received = len(subscriber.received)
    frozen_clock.advance(1000)
    worker.run_once()
    assert len(subscriber.received) == received


def test_success_clears_the_failure_streak(client, engine, settings, subscriber, make_worker,
                                           frozen_clock):
    subscribe(engine, settings, subscriber.url)
    subscriber.reply(500)
    worker = make_worker(retry_schedule=(0, 10))
    send_honkio(client)
    worker.run_once()
    assert rows(engine, "SELECT failing_since FROM subscriptions")[0]["failing_since"]
    frozen_clock.advance(13)
    worker.run_once()
    assert rows(engine, "SELECT failing_since FROM subscriptions")[0]["failing_since"] is None


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9000/x", "http://localhost/x", "http://10.1.2.3/x",
    "http://192.168.0.5/x", "http://[::1]/x", "http://169.254.169.254/latest",
])
def test_private_urls_are_refused_unless_allowed(engine, settings, url):
    strict = dataclasses.replace(settings, allow_private_urls=False)
    with engine.begin() as conn, pytest.raises(OperationError) as refused:
        subs.create(conn, strict, settings_now(), url=url, event_types=["*"])
    assert refused.value.field == "url" and "ALLOW_PRIVATE_URLS" in refused.value.message
    with engine.begin() as conn:
        subs.create(conn, settings, settings_now(), url=url, event_types=["*"])


@pytest.mark.parametrize("url", ["ftp://example.com/x", "example.com/x", "http://u:p@h.io/"])
def test_urls_must_be_http(engine, settings, url):
    with engine.begin() as conn, pytest.raises(OperationError):
        subs.create(conn, settings, settings_now(), url=url, event_types=["*"])


def test_private_url_is_refused_at_send_time_too(client, engine, settings, subscriber,
                                                 make_worker, frozen_clock):
    subscribe(engine, settings, subscriber.url)  # allowed when created
    send_honkio(client)
    make_worker(allow_private_urls=False).run_once()
    (delivery,) = deliveries(engine)
    assert subscriber.received == []
    (attempt,) = attempts(engine, delivery["id"])
    assert attempt["error"].startswith("refused")


def test_handlers_are_dispatched_through_the_blinker_signal(client, engine, settings,
                                                            make_worker, frozen_clock):
    """The worker calls the receiver connected to event_stored for the event's type: a
    handler disconnected from the signal is not called, and its delivery fails and retries."""
    from switchboard.handlers.registry import HANDLERS
    from switchboard.handlers.signals import event_stored

    seen = []

    @on("message.delivered", name="test.signalled")
    def signalled(event):
        seen.append(event["id"])

    receiver = HANDLERS["test.signalled"].receiver
    try:
        (event_id,) = send_honkio(client)
        event_stored.disconnect(receiver)
        worker = make_worker(retry_schedule=(0, 1))
        worker.run_once()
        (delivery,) = deliveries(engine)
        assert seen == [] and delivery["state"] == "pending"
        assert "not connected to event_stored" in delivery["last_error"]
        event_stored.connect(receiver, weak=False)
        frozen_clock.advance(2)
        worker.run_once()
        assert seen == [event_id] and deliveries(engine)[0]["state"] == "succeeded"
    finally:
        unregister("test.signalled")


def test_a_function_connected_with_blinker_itself_is_a_handler(client, engine, make_worker,
                                                               frozen_clock):
    """event_stored.connect(fn) works as @on("*") does, named after the function; connected
    for one sender, it is owed only that event type."""
    from switchboard.handlers.signals import event_stored

    seen = []

    def everything(sender, event):
        seen.append(("all", sender, event["id"]))

    def only_sent(sender, event):
        seen.append(("sent", sender, event["id"]))

    event_stored.connect(everything)
    event_stored.connect(only_sent, sender="message.sent")
    try:
        (event_id,) = send_honkio(client)  # message.delivered
        make_worker().run_once()
        assert seen == [("all", "message.delivered", event_id)]
        (delivery,) = deliveries(engine)
        assert delivery["handler"] == f"{__name__}.{everything.__qualname__}"
        assert delivery["state"] == "succeeded"
    finally:
        unregister(f"{__name__}.{everything.__qualname__}")
        unregister(f"{__name__}.{only_sent.__qualname__}")
    assert everything not in list(event_stored.receivers_for("message.delivered"))


def test_a_subscription_created_after_the_event_was_received_does_not_get_it(
        client, engine, settings, subscriber, make_worker, frozen_clock):
    subscribe(engine, settings, subscriber.url + "/early")
    (before,) = send_honkio(client)
    frozen_clock.advance(1)
    late, _ = subscribe(engine, settings, subscriber.url + "/late")
    (after,) = send_honkio(client)  # received at the moment the late one was created
    make_worker().run_once()
    got = sorted((r.path.rsplit("/", 1)[1], r.headers["webhook-id"])
                 for r in subscriber.received)
    assert got == sorted([("early", before), ("early", after), ("late", after)])


def test_a_subscription_disabled_before_expansion_does_not_get_it(
        client, engine, settings, subscriber, make_worker, frozen_clock):
    sub, _ = subscribe(engine, settings, subscriber.url)
    send_honkio(client)
    with engine.begin() as conn:
        subs.set_active(conn, settings, sub["id"], False)
    make_worker().run_once()
    assert deliveries(engine) == [] and subscriber.received == []
    assert rows(engine, "SELECT count(*) AS n FROM events WHERE fanout_owed IS NOT NULL"
                )[0]["n"] == 0


def test_the_unique_key_refuses_a_second_row_for_one_event_and_target(
        client, engine, settings, subscriber, frozen_clock):
    """The backstop behind the claim: even a second expansion that got past it could not
    owe an event twice to one target. Replays are new rows by design."""
    from sqlalchemy.exc import IntegrityError

    from switchboard.store.fanout import insert_deliveries
    from switchboard.worker.outbox import delivery_row

    sub, _ = subscribe(engine, settings, subscriber.url)
    (event_id,) = send_honkio(client)
    expand_owed(engine)  # the subscription's row
    now = frozen_clock.moment
    with engine.begin() as conn:  # a handler's row, as a worker that loaded it would write
        insert_deliveries(conn, [delivery_row(event_id, now, handler="test.twice")])
    for twice in (delivery_row(event_id, now, subscription_id=sub["id"]),
                  delivery_row(event_id, now, handler="test.twice")):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            insert_deliveries(conn, [twice])
    with engine.begin() as conn:
        insert_deliveries(conn, [delivery_row(event_id, now, subscription_id=sub["id"],
                                              replay=True) for _ in range(2)])
    assert len(deliveries(engine)) == 4


def test_two_expansions_at_once_take_disjoint_events(client, engine, settings, subscriber,
                                                     frozen_clock, database_url):
    """PostgreSQL: a second worker skips the events the first holds and does not wait for
    it (SKIP LOCKED). SQLite: it waits for the write lock, then finds them expanded."""
    import threading

    from switchboard.worker.expand import expand

    subscribe(engine, settings, subscriber.url)
    events = [send_honkio(client)[0] for _ in range(6)]
    second: dict = {}
    with engine.begin() as first:
        assert expand(first, frozen_clock.moment, 4) == (4, 4)

        def other() -> None:
            with engine.begin() as conn:
                second["got"] = expand(conn, frozen_clock.moment, 10)
            second["done"] = time.monotonic()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(timeout=1.0)
        committed = time.monotonic()
    thread.join(timeout=10)
    if engine.dialect.name == "postgresql":
        assert second["got"] == (2, 2) and second["done"] < committed
    else:
        assert second["got"] == (2, 2) and second["done"] >= committed
    made = [d["event_id"] for d in deliveries(engine)]
    assert sorted(made) == sorted(events)


def test_an_event_expanded_again_gets_no_second_row(client, engine, settings, subscriber,
                                                    frozen_clock):
    """Were an expanded event ever marked owed again (what two racing expansions would
    amount to), expanding it once more adds nothing and fails nothing."""
    from sqlalchemy import update

    from switchboard.models import Event

    subscribe(engine, settings, subscriber.url)
    (event_id,) = send_honkio(client)
    expand_owed(engine)
    (first,) = deliveries(engine)
    with engine.begin() as conn:
        conn.execute(update(Event.__table__).values(fanout_owed=True))
    frozen_clock.advance(1)
    expand_owed(engine)
    assert [d["id"] for d in deliveries(engine)] == [first["id"]]
    assert rows(engine, "SELECT fanout_owed FROM events")[0]["fanout_owed"] is None
