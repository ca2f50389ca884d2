"""Send real, signed provider callbacks through the test client."""

from __future__ import annotations

import json
import uuid

from switchboard import clock
from tests.conftest import SECRETS
from tests.signing import honkio_headers, sample_json


def honkio_body(status: str = "delivered", message_id: str | None = None,
                event_id: str | None = None) -> bytes:
    payload = sample_json("honkio-delivered.json")
    payload["id"] = event_id or f"evt_{uuid.uuid4().hex}"
    payload["type"] = f"message.{status}"
    payload["data"]["status"] = status
    payload["data"]["message_id"] = message_id or f"msg_{uuid.uuid4().hex}"
    return json.dumps(payload).encode()


def send_honkio(client, status: str = "delivered", message_id: str | None = None,
                event_id: str | None = None) -> list[str]:
    body = honkio_body(status, message_id, event_id)
    headers = honkio_headers(body, SECRETS["honkio"][0], int(clock.now().timestamp()))
    answer = client.post("/webhooks/honkio", data=body, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["event_ids"]
