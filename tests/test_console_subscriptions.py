"""Console subscription actions: create (secret shown once), disable, enable, rotate,
delete, and a test event sent through the worker to that subscription only; each through
operations.subscriptions, as the admin API and the CLI do."""

from __future__ import annotations

import dataclasses
import re

import pytest
from standardwebhooks.webhooks import Webhook

from switchboard import clock
from switchboard.app import create_app
from switchboard.operations import subscriptions as subs
from switchboard.operations.subscription_test_event import send_test_event
from tests.conftest import rows
from tests.console_forms import TOKEN, signed_in, submit


@pytest.fixture
def console_app(settings):
    app = create_app(settings=dataclasses.replace(settings, admin_token=TOKEN))
    yield app
    app.extensions["switchboard"].engine.dispose()


def make_sub(app, url, **fields):
    state = app.extensions["switchboard"]
    with state.engine.begin() as conn:
        return subs.create(conn, state.settings, clock.now(), url=url,
                           event_types=fields.pop("event_types", ["*"]), **fields)


def test_create_shows_the_secret_once_and_stores_what_was_asked(console_app, frozen_clock,
                                                                 subscriber):
    client = signed_in(console_app)
    answer = submit(client, "/console/subscriptions", "/console/subscriptions",
                    url=subscriber.url, event_types="message.delivered, call.*",
                    vendors=["honkio", "canary"], description="billing")
    assert answer.status_code == 201 and answer.headers["Cache-Control"] == "no-store"
    page = answer.get_data(as_text=True)
    (row,) = rows(console_app.extensions["switchboard"].engine, "SELECT * FROM subscriptions")
    assert row["secret"] in page and row["url"] == subscriber.url
    with console_app.extensions["switchboard"].engine.connect() as conn:
        (listed,) = subs.list_all(conn)
    assert listed["event_types"] == ["message.delivered", "call.*"]
    assert listed["vendors"] == ["honkio", "canary"] and listed["description"] == "billing"
    # Never again: not on the list, not on its health page.
    for path in ("/console/subscriptions", f"/console/subscriptions/{row['id']}"):
        shown = client.get(path).get_data(as_text=True)
        assert row["id"] in shown and row["secret"] not in shown


@pytest.mark.parametrize("fields, named", [
    ({"url": "ftp://example.org/x", "event_types": "message.*"}, "url:"),
    ({"url": "http://127.0.0.1:9/x", "event_types": ""}, "event_types:"),
    ({"url": "http://127.0.0.1:9/x", "event_types": "Message.Delivered"}, "event_types:"),
])
def test_a_bad_subscription_is_refused_naming_the_field(console_app, fields, named):
    client = signed_in(console_app)
    answer = submit(client, "/console/subscriptions", "/console/subscriptions", **fields)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert 'id="error"' in page and named in page
    assert f'value="{fields["url"]}"' in page  # what was typed is kept to correct it
    assert rows(console_app.extensions["switchboard"].engine,
                "SELECT id FROM subscriptions") == []


def test_every_action_needs_the_csrf_token(console_app, frozen_clock):
    sub, _ = make_sub(console_app, "http://127.0.0.1:9/x")
    client = signed_in(console_app)
    for action in ("disable", "enable", "rotate-secret", "delete", "test"):
        answer = client.post(f"/console/subscriptions/{sub['id']}/{action}",
                             data={"csrf": "forged"})
        assert answer.status_code == 400, action
    assert client.post("/console/subscriptions", data={"url": "http://127.0.0.1:9/y",
                                                       "event_types": "*"}).status_code == 400
    (row,) = rows(console_app.extensions["switchboard"].engine, "SELECT * FROM subscriptions")
    assert row["active"] and row["deleted_at"] is None and row["previous_secret"] is None


def test_disable_enable_rotate_delete(console_app, frozen_clock):
    sub, secret = make_sub(console_app, "http://127.0.0.1:9/x")
    engine = console_app.extensions["switchboard"].engine
    client = signed_in(console_app)
    base = f"/console/subscriptions/{sub['id']}"

    def row():
        return rows(engine, "SELECT * FROM subscriptions")[0]

    answer = submit(client, "/console/subscriptions", f"{base}/disable")
    assert answer.status_code == 302 and answer.location == "/console/subscriptions"
    assert not row()["active"] and row()["disabled_reason"] == "disabled by an operator"
    assert "is disabled" in client.get(answer.location).get_data(as_text=True)

    submit(client, "/console/subscriptions", f"{base}/enable")
    assert row()["active"] and row()["disabled_reason"] is None

    rotated = submit(client, base, f"{base}/rotate-secret")
    assert rotated.status_code == 200 and rotated.headers["Cache-Control"] == "no-store"
    new = row()
    assert new["previous_secret"] == secret and new["secret"] != secret
    assert new["secret"] in rotated.get_data(as_text=True)
    assert secret not in rotated.get_data(as_text=True)

    deleted = submit(client, base, f"{base}/delete")
    assert deleted.status_code == 302 and deleted.location == base
    assert row()["deleted_at"] is not None and not row()["active"]
    # Deleted: its page still shows its history, and no action offered on it.
    page = client.get(base).get_data(as_text=True)
    assert "is deleted" in page and f"{base}/enable" not in page
    assert sub["id"] not in client.get("/console/subscriptions").get_data(as_text=True)


def test_an_unknown_subscription_is_a_visible_not_found(console_app, frozen_clock):
    client = signed_in(console_app)
    sub, _ = make_sub(console_app, "http://127.0.0.1:9/x")
    page = client.get("/console/subscriptions").get_data(as_text=True)
    action = "/console/subscriptions/sub_01JD0000000000000000000000/disable"
    answer = client.post(action, data={"csrf": _csrf(page)})
    assert answer.status_code == 302
    assert "no subscription" in client.get(answer.location).get_data(as_text=True)
    assert client.get("/console/subscriptions/sub_01JD0000000000000000000000").status_code \
        == 404


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_test_event_goes_through_the_worker_to_that_subscription_only(
        console_app, frozen_clock, subscriber):
    state = console_app.extensions["switchboard"]
    # Wants only call events: a test event still reaches it (a ping ignores filters).
    target, secret = make_sub(console_app, subscriber.url, event_types=["call.*"])
    make_sub(console_app, subscriber.url + "/other", event_types=["*"])
    client = signed_in(console_app)
    base = f"/console/subscriptions/{target['id']}"
    answer = submit(client, "/console/subscriptions", f"{base}/test")
    assert answer.status_code == 302 and answer.location == base
    (delivery,) = rows(state.engine, "SELECT * FROM deliveries")
    assert delivery["subscription_id"] == target["id"] and delivery["state"] == "pending"
    page = client.get(base).get_data(as_text=True)
    assert f"queued as delivery {delivery['id']}" in page and 'class="attempt"' not in page

    from switchboard.worker.runner import Worker
    worker = Worker(state.engine, state.settings, concurrency=1, poll_interval=0.02)
    try:
        assert worker.run_once() == 1
    finally:
        worker.close()
    (got,) = subscriber.received
    assert got.path == "/hooks"
    sent = Webhook(secret).verify(got.body, got.headers)
    assert sent["type"] == "switchboard.test" and sent["vendor"] == "switchboard"
    assert sent["id"] == delivery["event_id"] == got.headers["webhook-id"]
    assert sent["data"]["subscription_id"] == target["id"]
    assert rows(state.engine, "SELECT state FROM deliveries")[0]["state"] == "succeeded"
    page = client.get(base).get_data(as_text=True)
    assert page.count('class="attempt"') == 1 and "switchboard.test" in page
    assert "{&#34;ok&#34;: true}" in page  # the start of the subscriber's answer


def test_a_test_event_shows_no_provider_receipt(console_app, frozen_clock):
    sub, _ = make_sub(console_app, "http://127.0.0.1:9/x")
    state = console_app.extensions["switchboard"]
    with state.engine.begin() as conn:
        event_id = send_test_event(conn, sub["id"], clock.now())["event_id"]
    shown = console_app.test_client().get(f"/api/events/{event_id}",
                                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert shown.status_code == 200 and shown.get_json()["receipt"] is None
    page = signed_in(console_app).get(f"/console/events/{event_id}").get_data(as_text=True)
    assert "switchboard.test" in page and "<h2>Receipt</h2>" not in page
    (receipt,) = rows(state.engine, "SELECT state, vendor FROM receipts")
    assert dict(receipt) == {"state": "generated", "vendor": "switchboard"}


def test_a_disabled_subscription_gets_no_test_event(console_app, frozen_clock):
    sub, _ = make_sub(console_app, "http://127.0.0.1:9/x")
    state = console_app.extensions["switchboard"]
    with state.engine.begin() as conn:
        subs.set_active(conn, state.settings, sub["id"], False)
    client = signed_in(console_app)
    base = f"/console/subscriptions/{sub['id']}"
    page = client.get(base).get_data(as_text=True)
    assert f"{base}/test" not in page  # no button offered
    answer = client.post(f"{base}/test", data={"csrf": _csrf(page)})
    assert "is disabled; enable it first" in client.get(answer.location).get_data(as_text=True)
    assert rows(state.engine, "SELECT id FROM deliveries") == []


def test_health_page_counts_the_last_day(console_app, frozen_clock, subscriber):
    state = console_app.extensions["switchboard"]
    sub, _ = make_sub(console_app, subscriber.url, event_types=["message.*"])
    from switchboard.worker.runner import Worker
    worker = Worker(state.engine, dataclasses.replace(state.settings, retry_schedule=(0, 1)),
                    concurrency=1, poll_interval=0.02)
    client = console_app.test_client()
    from tests.callbacks import send_honkio
    try:
        send_honkio(client, "delivered", message_id="msg_a")
        send_honkio(client, "delivered", message_id="msg_b")
        send_honkio(client, "delivered", message_id="msg_c")
        # Attempts in order of the deliveries: ok, down, ok; then the retry, down again.
        subscriber.reply(200, body=b"fine")
        subscriber.reply(500, body=b"database down")
        subscriber.reply(200, body=b"fine")
        subscriber.reply(503, body=b"still down")
        assert sum(worker.run_once() for _ in range(3)) == 3
        frozen_clock.advance(2)
        assert worker.run_once() == 1
    finally:
        worker.close()
    page = signed_in(console_app).get(f"/console/subscriptions/{sub['id']}") \
        .get_data(as_text=True)

    def figure(name):
        return re.search(rf'<dd id="{name}">(.*?)</dd>', page, re.S).group(1).strip()

    assert (figure("succeeded"), figure("failed"), figure("dead")) == ("2", "2", "1")
    assert figure("success-rate") == "50.0 %"
    assert figure("pending") == "0"
    assert "2026-11-22 05:00:00 UTC" in figure("last-success")
    assert page.count('class="attempt"') == 4
    assert page.index("still down") < page.index("database down")  # newest first
    assert "05:00 UTC succeeded: 2</title>" in page and "05:00 UTC failed: 2</title>" in page


def test_health_counts_todays_attempts_and_deaths_of_older_deliveries(
        console_app, frozen_clock, subscriber):
    # The default schedule spans ~27.6 h: a delivery dies a day after it was made, and its
    # last attempts are today's news though the delivery is not.
    state = console_app.extensions["switchboard"]
    sub, _ = make_sub(console_app, subscriber.url, event_types=["message.*"])
    from switchboard.worker.runner import Worker
    worker = Worker(state.engine, dataclasses.replace(state.settings,
                                                      retry_schedule=(0, 24 * 3600)),
                    concurrency=1, poll_interval=0.02)
    from tests.callbacks import send_honkio
    try:
        send_honkio(console_app.test_client(), "delivered", message_id="msg_old")
        subscriber.reply(500, body=b"down yesterday")
        subscriber.reply(503, body=b"down today")
        assert worker.run_once() == 1
        frozen_clock.advance(30 * 3600)  # past the retry, jitter (20 %) and all
        assert worker.run_once() == 1
    finally:
        worker.close()
    assert rows(state.engine, "SELECT state FROM deliveries")[0]["state"] == "dead"
    page = signed_in(console_app).get(f"/console/subscriptions/{sub['id']}") \
        .get_data(as_text=True)

    def figure(name):
        return re.search(rf'<dd id="{name}">(.*?)</dd>', page, re.S).group(1).strip()

    assert (figure("succeeded"), figure("failed"), figure("dead")) == ("0", "1", "1")
    assert figure("success-rate") == "0.0 %"
    assert page.count('class="attempt"') == 1
    assert "down today" in page and "down yesterday" not in page
    assert "11:00 UTC failed: 1</title>" in page  # 2026-11-23 11:00, 30 h after 05:00


def test_ages_and_percentiles():
    from switchboard.api.console.display import age
    from switchboard.operations.subscription_health import percentile

    assert [age(s) for s in (0.4, 59, 61, 3600, 3 * 86400 + 7200 + 5)] == [
        "0 s", "59 s", "1 min 1 s", "1 h", "3 d 2 h"]
    assert percentile([], 0.5) is None
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile(list(map(float, range(1, 101))), 0.95) == 95.0


def test_subscriptions_page_with_the_keyset_cursor(console_app, frozen_clock):
    made = []
    for n in range(3):
        made.append(make_sub(console_app, f"http://127.0.0.1:9/s{n}")[0]["id"])
        frozen_clock.advance(1)
    client = signed_in(console_app)
    first = client.get("/console/subscriptions?limit=2").get_data(as_text=True)
    assert re.findall(r'<tr class="subscription" id="(sub_\w+)">', first) == made[:0:-1]
    older = re.search(r'<a href="([^"]+)" rel="next">', first).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert re.findall(r'<tr class="subscription" id="(sub_\w+)">', second) == made[:1]
    assert 'rel="next"' not in second
    bad = client.get("/console/subscriptions?cursor=nonsense").get_data(as_text=True)
    assert "cursor is not one this API gave out" in bad


def test_a_nul_in_the_description_is_the_callers_mistake(console_app):
    client = signed_in(console_app)
    answer = submit(client, "/console/subscriptions", "/console/subscriptions",
                    url="http://127.0.0.1:9/x", event_types="*", description="bad\x00")
    assert answer.status_code == 400
    assert "description must be a string without NUL" in answer.get_data(as_text=True)
