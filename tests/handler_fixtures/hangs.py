"""A handler that hangs (until the process ends), touching SB_TEST_HANG_MARKER on entry."""

import os
import pathlib
import threading

from switchboard.handlers.registry import on


@on("message.delivered", name="tests.hangs")
def hang(event: dict) -> None:
    marker = os.environ.get("SB_TEST_HANG_MARKER")
    if marker:
        pathlib.Path(marker).touch()
    threading.Event().wait()
