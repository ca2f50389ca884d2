"""The blinker signal handlers connect to. Nothing calls send(): the worker calls each
handler's receiver itself, after commit, so that one handler's failure is recorded against
it alone (send() would call them all in no set order and stop at the first exception)."""

from blinker import Namespace

switchboard_signals = Namespace()

# sender: the event type; kwargs: event (the normalised event JSON).
event_stored = switchboard_signals.signal("event-stored")
