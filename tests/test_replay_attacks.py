"""Replay attacks: a captured, genuinely signed request sent again."""

from __future__ import annotations

import json

from switchboard import clock
from switchboard.operations import subscriptions as subs
from tests.conftest import SECRETS, expand_owed, rows
from tests.signing import canary_headers, honkio_headers, sample_json


def test_old_signed_honkio_request_outside_the_tolerance_is_401(client, engine,
                                                                 frozen_clock):
    body = json.dumps(sample_json("honkio-delivered.json")).encode()
    captured = honkio_headers(body, SECRETS["honkio"][0],
                              int(frozen_clock.moment.timestamp()))
    assert client.post("/webhooks/honkio", data=body, headers=captured).status_code == 200
    frozen_clock.advance(301)
    again = client.post("/webhooks/honkio", data=body, headers=captured)
    assert again.status_code == 401
    assert again.get_json()["error"]["code"] == "timestamp_out_of_tolerance"


def test_canary_replay_inside_its_window_is_a_duplicate_and_fans_out_nothing(
        client, engine, settings, frozen_clock):
    with engine.begin() as conn:
        subs.create(conn, settings, clock.now(), url="http://127.0.0.1:9/in",
                    event_types=["*"])
    payload = sample_json("canary-delivered.json") | {"created": int(clock.now().timestamp())}
    body = json.dumps(payload).encode()
    headers = canary_headers(body, SECRETS["canary"][0])
    first = client.post("/webhooks/canary", data=body, headers=headers).get_json()
    assert first["status"] == "accepted"
    frozen_clock.advance(3600)  # an hour later, well inside the 3-day window
    again = client.post("/webhooks/canary", data=body, headers=headers)
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate", "event_ids": first["event_ids"]}
    assert expand_owed(engine) == 1
    assert len(rows(engine, "SELECT id FROM deliveries")) == 1
    assert len(rows(engine, "SELECT id FROM events")) == 1
