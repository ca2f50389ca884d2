"""A handler module only a worker loads: writes each event id it gets to the file named by
SB_TEST_RECORD_FILE, one a line, so the test process can see what the worker ran."""

import os

from switchboard.handlers.registry import on


@on("message.*", name="tests.records")
def record(event: dict) -> None:
    with open(os.environ["SB_TEST_RECORD_FILE"], "a") as out:
        out.write(event["id"] + "\n")
