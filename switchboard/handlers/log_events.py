"""Built-in handler: one log line per event. Enable it with
SWITCHBOARD_HANDLER_MODULES=switchboard.handlers.log_events"""

import logging

from switchboard.handlers.registry import on

log = logging.getLogger("switchboard.events")


@on("*", name="switchboard.log_events")
def log_event(event: dict) -> None:
    data = event.get("data") or {}
    log.info("event %s %s %s message=%s status=%s", event["id"], event["vendor"],
             event["type"], data.get("message_id"), data.get("status"))
