"""`switchboard subscriptions test <id>`: the console's test event from the command line,
through the same function, delivered by the worker to that subscription alone."""

from __future__ import annotations

from standardwebhooks.webhooks import Webhook

from switchboard import clock
from switchboard.cli import cli
from switchboard.operations import subscriptions as subs
from tests.conftest import rows


def test_cli_sends_a_test_event_the_worker_delivers(app, engine, settings, subscriber,
                                                    make_worker, frozen_clock):
    with engine.begin() as conn:
        sub, secret = subs.create(conn, settings, clock.now(), url=subscriber.url,
                                  event_types=["call.*"])
        subs.create(conn, settings, clock.now(), url=subscriber.url + "/x", event_types=["*"])
    result = app.test_cli_runner().invoke(cli, ["subscriptions", "test", sub["id"]])
    assert result.exit_code == 0, result.output
    event_id = result.stdout.strip()
    assert make_worker().run_once() == 1
    (got,) = subscriber.received
    sent = Webhook(secret).verify(got.body, got.headers)
    assert (sent["id"], sent["type"]) == (event_id, "switchboard.test")
    assert [r["subscription_id"] for r in rows(engine, "SELECT * FROM deliveries")] == \
        [sub["id"]]


def test_cli_says_why_it_cannot(app, engine, settings, frozen_clock):
    with engine.begin() as conn:
        sub, _ = subs.create(conn, settings, clock.now(), url="http://127.0.0.1:9/x",
                             event_types=["*"])
        subs.set_active(conn, settings, sub["id"], False)
    runner = app.test_cli_runner()
    disabled = runner.invoke(cli, ["subscriptions", "test", sub["id"]])
    assert disabled.exit_code == 1 and "is disabled; enable it first" in disabled.output
    unknown = runner.invoke(cli, ["subscriptions", "test", "sub_01JD0000000000000000000000"])
    assert unknown.exit_code == 1 and "no subscription" in unknown.output
    assert rows(engine, "SELECT id FROM deliveries") == []
