"""A subscription or a handler for one provider gets that provider's events and no other's."""

from __future__ import annotations

import json

from switchboard import clock
from switchboard.handlers.registry import on, unregister
from tests.callbacks import send_honkio
from tests.conftest import SECRETS, expand_owed, rows
from tests.signing import canary_headers, sample_json
from tests.test_fanout import deliveries, subscribe


def send_canary(client) -> str:
    payload = sample_json("canary-delivered.json")
    payload["created"] = int(clock.now().timestamp())  # inside Canary's replay window
    body = json.dumps(payload).encode()
    answer = client.post("/webhooks/canary", data=body,
                         headers=canary_headers(body, SECRETS["canary_secrets"][0]))
    assert answer.status_code == 200, answer.get_json()
    (event_id,) = answer.get_json()["event_ids"]
    return event_id


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
        from_canary = send_canary(client)
        expand_owed(engine)
    finally:
        unregister(name)
    made = {(d["event_id"], d["subscription_id"], d["handler"]) for d in deliveries(engine)}
    assert made == {(from_honkio, honkio_only["id"], None), (from_honkio, None, name),
                    (from_canary, canary_only["id"], None)}
    assert {r["vendor"] for r in rows(engine, "SELECT vendor FROM events")} == \
        {"honkio", "canary"}
