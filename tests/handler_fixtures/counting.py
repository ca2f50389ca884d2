"""A user's handler module, as SWITCHBOARD_HANDLER_MODULES would name it."""

from switchboard.handlers.registry import on

SEEN: list[str] = []


@on("message.delivered", name="tests.counting")
def count_delivered(event: dict) -> None:
    SEEN.append(event["id"])
