"""Public ids are ULIDs that python-ulid reads back, in creation order, unique across forks."""

import os
from datetime import UTC, datetime

from ulid import ULID

from switchboard import ids
from switchboard.ids import new_id


def test_an_id_is_a_prefixed_ulid_of_now():
    before = datetime.now(UTC)
    made = new_id("evt")
    after = datetime.now(UTC)
    prefix, _, body = made.partition("_")
    assert prefix == "evt"
    parsed = ULID.from_str(body)
    assert str(parsed) == body
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) \
        <= parsed.datetime <= after


def test_ids_made_in_one_millisecond_stay_in_order_and_unique():
    made = [new_id("dlv") for _ in range(20_000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_every_bit_is_encoded_as_python_ulid_encodes_it():
    for value in (0, 1, (1 << 128) - 1, 0x0123456789ABCDEF0123456789ABCDEF,
                  int.from_bytes(os.urandom(16), "big")):
        assert ids._encode(value) == str(ULID.from_int(value))


def test_a_clock_that_steps_back_does_not_break_the_order(monkeypatch):
    first = new_id("rcv")
    monkeypatch.setattr(ids.time, "time_ns", lambda: 1_000_000_000)  # 1970
    second = new_id("rcv")
    assert second > first


def test_a_forked_child_does_not_continue_the_parents_sequence():
    new_id("evt")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the value it would build on
        os.write(write, str(ids._last).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as answer:
        assert answer.read() == "0"
    assert ids._last != 0
