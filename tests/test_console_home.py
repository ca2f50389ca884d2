"""The console's home page: the last 24 hours per hour as SVG charts with their numbers
beside them (callbacks per vendor, failed receipts, deliveries by outcome) and the queue
as /metrics reads it."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from switchboard import clock
from switchboard.app import create_app
from switchboard.operations import subscriptions as subs
from tests.callbacks import send_honkio
from tests.conftest import SECRETS, expand_owed
from tests.console_forms import TOKEN, signed_in
from tests.signing import honkio_headers, sample_json


@pytest.fixture
def console_app(settings):
    app = create_app(settings=dataclasses.replace(settings, admin_token=TOKEN))
    yield app
    app.extensions["switchboard"].engine.dispose()


def send_unparseable_honkio(client) -> None:
    """Proved by its signature, but with no data: kept as a failed receipt."""
    body = json.dumps({"id": "evt_broken", "type": "message.delivered",
                       "created": "2026-11-22T04:00:00Z"}).encode()
    headers = honkio_headers(body, SECRETS["honkio"][0], int(clock.now().timestamp()))
    assert client.post("/webhooks/honkio", data=body, headers=headers).status_code == 400


def send_canary(client) -> None:
    from tests.signing import canary_headers

    payload = sample_json("canary-delivered.json")
    payload["created"] = int(clock.now().timestamp())
    body = json.dumps(payload).encode()
    answer = client.post("/webhooks/canary", data=body,
                         headers=canary_headers(body, SECRETS["canary"][0]))
    assert answer.status_code == 200, answer.get_json()


def totals(page: str, chart: str) -> dict[str, tuple[int, int]]:
    figure = re.search(rf'<figure id="chart-{chart}">(.*?)</figure>', page, re.S).group(1)
    return {name: (int(total), int(now)) for name, total, now in re.findall(
        r'<tr><td>([\w.]+)</td><td class="total">(\d+)</td><td>(\d+)</td></tr>', figure)}


def test_home_counts_the_last_day_by_hour(console_app, frozen_clock):
    state = console_app.extensions["switchboard"]
    client = console_app.test_client()
    frozen_clock.advance(-25 * 3600)
    send_honkio(client)  # 25 hours ago: outside the window
    frozen_clock.advance(23 * 3600)
    send_honkio(client)  # two hours ago
    with state.engine.begin() as conn:
        subs.create(conn, state.settings, clock.now(), url="http://127.0.0.1:9/x",
                    event_types=["message.*"])
    frozen_clock.advance(2 * 3600)
    send_honkio(client)
    send_honkio(client)
    send_canary(client)
    send_unparseable_honkio(client)
    # Owed to the subscription: every event received since it was made (the one two hours
    # ago, at that same moment, included), expanded now, all pending.
    expand_owed(state.engine)
    page = signed_in(console_app).get("/console/").get_data(as_text=True)
    assert totals(page, "callbacks") == {"canary": (1, 1), "honkio": (3, 2)}
    assert totals(page, "failed") == {"honkio": (1, 1)}
    assert totals(page, "deliveries") == {"succeeded": (0, 0), "pending": (4, 4),
                                          "dead": (0, 0), "cancelled": (0, 0)}
    assert re.search(r'<dd id="pending">4</dd>', page)
    assert re.search(r'<dd id="dead">0</dd>', page)
    # The hour two hours back has its own bar; the one 25 hours back is on no chart.
    assert "03:00 UTC honkio: 1</title>" in page and "05:00 UTC honkio: 2</title>" in page
    assert "04:00 UTC honkio" not in page
    assert page.count('<svg class="chart" role="img"') == 5


def test_home_charts_no_test_event_as_a_callback(console_app, frozen_clock):
    from switchboard.operations.subscription_test_event import send_test_event

    state = console_app.extensions["switchboard"]
    send_honkio(console_app.test_client())
    with state.engine.begin() as conn:
        sub, _ = subs.create(conn, state.settings, clock.now(), url="http://127.0.0.1:9/x",
                             event_types=["message.*"])
        send_test_event(conn, sub["id"], clock.now())
    page = signed_in(console_app).get("/console/").get_data(as_text=True)
    assert totals(page, "callbacks") == {"honkio": (1, 1)}
    assert totals(page, "failed") == {}
    assert "switchboard" not in re.search(r'<figure id="chart-callbacks">(.*?)</figure>',
                                          page, re.S).group(1)


def test_home_is_where_sign_in_lands(console_app):
    answer = console_app.test_client().post("/console/login", data={"token": TOKEN})
    assert answer.location == "/console/"


def test_home_shows_how_far_behind_the_workers_are(console_app, frozen_clock):
    state = console_app.extensions["switchboard"]
    with state.engine.begin() as conn:
        subs.create(conn, state.settings, clock.now(), url="http://127.0.0.1:9/x",
                    event_types=["*"])
    send_honkio(console_app.test_client())
    frozen_clock.advance(3 * 60 + 5)  # owed its fan-out, no worker has run
    page = signed_in(console_app).get("/console/").get_data(as_text=True)
    assert '<dd id="worker-lag">3 min 5 s</dd>' in page
    assert '<dd id="owed">1</dd>' in page and '<dd id="oldest-pending">—</dd>' in page


def attempted(engine, seconds_after_due: float, state: str = "succeeded") -> None:
    """The one delivery not yet attempted gets its first attempt, that long after it was
    owed (a real row, as the worker writes it), and ends in `state`."""
    from datetime import timedelta

    from sqlalchemy import insert, update

    from switchboard.models import Attempt, Delivery

    d, a = Delivery.__table__, Attempt.__table__
    with engine.begin() as conn:
        (row,) = conn.execute(d.select().where(d.c.attempts == 0)).all()
        started = row.created_at + timedelta(seconds=seconds_after_due)
        conn.execute(insert(a).values(delivery_id=row.id, started_at=started,
                                      duration_ms=12.0, status_code=200))
        conn.execute(update(d).where(d.c.id == row.id).values(
            state=state, attempts=1, next_attempt_at=started, finished_at=started))


def test_home_charts_worker_lag_per_hour(console_app, frozen_clock):
    """Per hour a delivery was owed in: the longest wait from falling due to its first
    attempt starting, or until now while it still waits; a later retry does not count."""
    state = console_app.extensions["switchboard"]
    client = console_app.test_client()
    frozen_clock.advance(-3 * 3600)  # 02:00
    with state.engine.begin() as conn:
        subs.create(conn, state.settings, clock.now(), url="http://127.0.0.1:9/x",
                    event_types=["*"])
    send_honkio(client)
    expand_owed(state.engine)
    attempted(state.engine, 90)
    send_honkio(client)
    expand_owed(state.engine)
    attempted(state.engine, 30)
    frozen_clock.advance(3 * 3600)  # 05:00, this hour: one owed, not yet attempted
    send_honkio(client)
    expand_owed(state.engine)
    frozen_clock.advance(40)
    page = signed_in(console_app).get("/console/").get_data(as_text=True)
    figure = re.search(r'<figure id="chart-worker-lag">(.*?)</figure>', page, re.S).group(1)
    assert "02:00 UTC worker lag: 1 min 30 s</title>" in figure
    assert "05:00 UTC worker lag: 40 s</title>" in figure
    assert "03:00 UTC worker lag" not in figure and "04:00 UTC worker lag" not in figure
    assert '<td class="lag-max">1 min 30 s</td>' in figure
    assert '<td class="lag-now">40 s</td>' in figure
    assert page.count('<svg class="chart" role="img"') == 5


def test_home_charts_dead_letters_by_the_hour_they_died(console_app, frozen_clock):
    """Counted when each died (from what the worker wrote at death), so a delivery owed
    before the window that died in it counts, and one still retrying does not."""
    state = console_app.extensions["switchboard"]
    client = console_app.test_client()
    frozen_clock.advance(-26 * 3600)  # 03:00 the day before: owed outside the window
    with state.engine.begin() as conn:
        subs.create(conn, state.settings, clock.now(), url="http://127.0.0.1:9/x",
                    event_types=["*"])
    send_honkio(client)
    expand_owed(state.engine)
    attempted(state.engine, 24.5 * 3600, state="dead")  # died at 03:30 today
    frozen_clock.advance(26 * 3600)  # 05:00
    send_honkio(client)
    expand_owed(state.engine)
    attempted(state.engine, 10, state="dead")
    send_honkio(client)
    expand_owed(state.engine)
    attempted(state.engine, 5, state="pending")  # a retry is due later: not dead
    frozen_clock.advance(60)
    page = signed_in(console_app).get("/console/").get_data(as_text=True)
    assert totals(page, "dead-letters") == {"dead": (2, 1)}
    figure = re.search(r'<figure id="chart-dead-letters">(.*?)</figure>', page, re.S).group(1)
    assert "03:00 UTC dead: 1</title>" in figure and "05:00 UTC dead: 1</title>" in figure
    # Owed a day ago, the one that died at 03:30 is on no hour of the deliveries chart.
    assert totals(page, "deliveries")["dead"] == (1, 1)
    assert re.search(r'<dd id="dead">2</dd>', page)
