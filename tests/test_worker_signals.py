"""SIGTERM and SIGINT stop a worker, whatever its main thread is doing when they arrive."""

from __future__ import annotations

import signal
import threading
import time

import pytest


@pytest.fixture
def restore_signal_handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_inside_event_wait_stops_the_worker(make_worker, restore_signal_handlers,
                                                     signum):
    """An idle worker spends its time in Event.wait(); a signal can arrive just as that has
    taken the event's lock back. The handler then runs in that thread, holding the lock:
    if it set the event itself it would wait on its own thread forever (an idle SQLite
    worker once ignored SIGTERM that way)."""
    worker = make_worker()
    worker.install_signal_handlers()
    handler = signal.getsignal(signum)
    returned = threading.Event()

    def main_thread_inside_wait():
        with worker.wakeup._stop._cond, worker.stopping._cond:  # noqa: SLF001
            handler(signum, None)
            returned.set()

    holder = threading.Thread(target=main_thread_inside_wait, daemon=True)
    holder.start()
    holder.join(5)
    assert returned.is_set(), "the signal handler blocked on a lock its own thread holds"
    deadline = time.monotonic() + 5
    while not worker.stopping.is_set():
        assert time.monotonic() < deadline, "the worker never heard the signal"
        time.sleep(0.01)
    assert worker.stop_by is not None
