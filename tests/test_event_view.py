"""What the provider is answered, the subscriber is sent and the operator reads of one
callback: ids of a prefix and a ULID (DESIGN.md: "evt_01JD..."), and the receipt as it
arrived."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from ulid import ULID

from tests.callbacks import honkio_body
from tests.conftest import FROZEN_AT, SECRETS
from tests.signing import honkio_headers
from tests.test_fanout import subscribe

TOKEN = "view-admin-token-1"
CROCKFORD = r"[0-9A-HJKMNP-TV-Z]{26}"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, admin_token=TOKEN)


def a_public_id(public_id: str, prefix: str) -> None:
    """`prefix` and a ULID (read back with python-ulid, as tests/test_ids.py does)."""
    assert re.fullmatch(prefix + CROCKFORD, public_id), public_id
    assert str(ULID.from_str(public_id.removeprefix(prefix))) == public_id.removeprefix(prefix)


def test_one_callback_as_provider_subscriber_and_operator_see_it(
        client, engine, settings, subscriber, make_worker, frozen_clock):
    subscribe(engine, settings, subscriber.url)
    body = honkio_body("delivered", message_id="msg_view", event_id="evt_view")
    headers = honkio_headers(body, SECRETS["honkio"][0], int(FROZEN_AT.timestamp()))
    answer = client.post("/webhooks/honkio?attempt=1", data=body,
                         headers=headers | {"X-Request-Id": "req-view-1"})
    assert answer.status_code == 200
    (event_id,) = answer.get_json()["event_ids"]
    a_public_id(event_id, "evt_")

    assert make_worker().run_once() == 1
    (got,) = subscriber.received
    sent = json.loads(got.body)
    assert sent["id"] == got.headers["webhook-id"] == event_id
    assert (sent["vendor"], sent["type"], sent["vendor_event_id"]) == \
        ("honkio", "message.delivered", "evt_view")
    assert sent["received_at"] == "2026-11-22T05:00:00Z"
    assert sent["occurred_at"] == json.loads(body)["created"]
    assert sent["data"]["message_id"] == "msg_view"
    assert sent["raw"] == json.loads(body)

    shown = client.get(f"/api/events/{event_id}",
                       headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert shown["id"] == event_id
    assert (shown["message_id"], shown["status"], shown["disposition"]) == \
        ("msg_view", "delivered", "fanout")
    receipt = shown["receipt"]
    a_public_id(receipt["id"], "rcv_")
    assert shown["receipt_id"] == receipt["id"]
    assert receipt == receipt | {
        "vendor": "honkio", "received_at": "2026-11-22T05:00:00Z", "method": "POST",
        "content_type": "application/json", "query_string": "attempt=1", "state": "parsed",
        "error": None, "body": body.decode(), "body_encoding": "utf-8",
        "request_id": "req-view-1"}
    (delivery,) = shown["deliveries"]
    a_public_id(delivery["id"], "dlv_")
