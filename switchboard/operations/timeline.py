"""One message's life for operators: its status over time, every receipt in the order
things happened at the provider (superseded and conflicting ones marked), and each event's
deliveries. admin.messages gives the status and history; this adds the deliveries."""

from __future__ import annotations

from sqlalchemy import Connection

from switchboard.operations.events import delivery_json
from switchboard.operations.messages import get_message
from switchboard.store.events import deliveries_of


def timeline(conn: Connection, vendor: str, message_id: str) -> dict:
    message = get_message(conn, vendor, message_id)
    ids = [event["id"] for event in message["history"]]
    deliveries: dict[str, list[dict]] = {event_id: [] for event_id in ids}
    if ids:
        for row in deliveries_of(conn, ids):
            deliveries[row.event_id].append(delivery_json(row))
    # The steps the status took: each receipt that moved it (fan-out), in order.
    steps = [{"status": e["status"], "at": e["occurred_at"] or e["received_at"],
              "event_id": e["id"]}
             for e in message["history"] if e["disposition"] == "fanout" and e["status"]]
    return message | {"steps": steps,
                      "history": [e | {"deliveries": deliveries[e["id"]]}
                                  for e in message["history"]]}
