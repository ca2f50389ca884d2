"""Blinker signals for fan-out. Sent by the worker after commit, never inside a request."""

from blinker import Namespace

switchboard_signals = Namespace()

# sender: the event type; kwargs: event (the normalised event JSON).
event_stored = switchboard_signals.signal("event-stored")
