"""In-process handlers: `@on("message.delivered")`, `@on("message.*")`, `@on("*")`, or
blinker's own `event_stored.connect(fn)` (as `@on("*")`; with `sender="message.delivered"`,
as `@on("message.delivered")`), named after the function either way.

Each handler is connected to the blinker signal `event_stored` (by `on`, strongly: blinker
holds weak references by default, and a handler must not vanish), and its patterns are kept
here by name so the worker can owe it a delivery row. The worker dispatches through the
signal: it looks the handler's receiver up among `event_stored.receivers_for(event type)`
and calls that one itself (see switchboard.handlers.signals).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from blinker import ANY

from switchboard.handlers.signals import event_stored

HandlerFn = Callable[[dict], Any]


@dataclass(frozen=True)
class Handler:
    name: str
    patterns: tuple[str, ...]
    vendors: tuple[str, ...] | None
    receiver: Callable[..., Any]

    def wants(self, event_type: str, vendor: str) -> bool:
        return matches(self.patterns, self.vendors, event_type, vendor)


HANDLERS: dict[str, Handler] = {}


def matches(patterns: Iterable[str], vendors: Iterable[str] | None, event_type: str,
            vendor: str) -> bool:
    """Event-type patterns are globs: "message.*", "*", or an exact type."""
    if vendors and vendor not in vendors:
        return False
    return any(fnmatchcase(event_type, pattern) for pattern in patterns)


def on(*patterns: str, vendors: Iterable[str] | None = None,
       name: str | None = None) -> Callable[[HandlerFn], HandlerFn]:
    """Register a function to receive every stored event matching one of the patterns."""
    chosen = patterns or ("*",)

    def register(fn: HandlerFn) -> HandlerFn:
        handler_name = name or _named(fn)
        wanted = tuple(vendors) if vendors else None

        def receiver(sender: str, event: dict, **_: Any) -> Any:
            return fn(event) if matches(chosen, wanted, sender, event["vendor"]) else None

        unregister(handler_name)
        HANDLERS[handler_name] = Handler(handler_name, tuple(chosen), wanted, receiver)
        event_stored.connect(receiver, weak=False)
        return fn

    return register


def _named(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


@event_stored.receiver_connected.connect
def _adopt(_signal: Any, *, receiver: Callable[..., Any], sender: Any, **_: Any) -> None:
    """A receiver connected with blinker's own connect() becomes a handler: for every event,
    or for the one event type given as its sender. Reconnecting a known receiver (or the one
    `on` just connected) changes nothing."""
    if any(h.receiver == receiver for h in HANDLERS.values()):
        return
    if sender is not ANY and not isinstance(sender, str):
        return  # no event type is sent by anything but a string: it could never be called
    name = _named(receiver)
    unregister(name)
    HANDLERS[name] = Handler(name, ("*" if sender is ANY else sender,), None, receiver)


def unregister(name: str) -> None:
    handler = HANDLERS.pop(name, None)
    if handler is not None:
        event_stored.disconnect(handler.receiver)


def receiver_for(name: str, event_type: str) -> Callable[..., Any] | None:
    """The receiver connected to event_stored for this event type under this handler name."""
    handler = HANDLERS.get(name)
    if handler is None:
        return None
    for receiver in event_stored.receivers_for(event_type):
        if receiver == handler.receiver:
            return receiver
    return None


def matching(event_type: str, vendor: str) -> list[Handler]:
    return [h for h in HANDLERS.values() if h.wants(event_type, vendor)]


def import_modules(modules: Iterable[str]) -> None:
    """Import the modules named in SWITCHBOARD_HANDLER_MODULES so their @on calls run."""
    for module in modules:
        importlib.import_module(module)
