"""The delivery client (worker/send.py) against real local servers: TLS to the pinned
address checked against the URL's name, keep-alive reuse, and connections a subscriber
closed while they sat idle."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest
import trustme

from switchboard.url_policy import Target
from switchboard.worker.send import DRAIN_LIMIT, RESPONSE_KEPT, Pool, post
from tests.subscriber import Subscriber


@pytest.fixture
def ca():
    return trustme.CA()


@pytest.fixture
def tls_subscriber(ca):
    server = Subscriber()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.example.test").configure_cert(context)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    server.start()
    yield server
    server.stop()


def trusting(ca) -> Pool:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return Pool(4, tls=context)


def target(server: Subscriber, scheme: str = "http", host: str = "127.0.0.1") -> Target:
    return Target(scheme, host, server.server.server_address[1], "127.0.0.1", "/hooks")


def send(pool: Pool, to: Target):
    return post(pool, to, "msg_1", '{"id": "evt_1"}', ["whsec_" + "A" * 32], timeout=5)


def test_tls_goes_to_the_pinned_address_and_checks_the_name(ca, tls_subscriber):
    to = target(tls_subscriber, "https", "hooks.example.test")
    result = send(trusting(ca), to)
    assert result.ok, result
    [got] = tls_subscriber.received
    assert got.headers["Host"] == f"hooks.example.test:{to.port}"
    assert got.body == b'{"id": "evt_1"}'


def test_tls_refuses_a_certificate_for_another_name(ca, tls_subscriber):
    result = send(trusting(ca), target(tls_subscriber, "https", "elsewhere.example.test"))
    assert result.status_code is None
    assert "SSLCertVerificationError" in result.error
    assert tls_subscriber.received == []


def test_tls_refuses_an_untrusted_certificate(tls_subscriber):
    result = send(Pool(4), target(tls_subscriber, "https", "hooks.example.test"))
    assert result.status_code is None
    assert "SSLCertVerificationError" in result.error


def test_keep_alive_connections_are_reused(subscriber):
    pool = Pool(4)
    to = target(subscriber)
    for _ in range(3):
        assert send(pool, to).ok
    assert len(subscriber.received) == 3
    # One connection carried all three, and waits for the next.
    assert len(pool._idle[("http", "127.0.0.1", to.port, "127.0.0.1")]) == 1  # noqa: SLF001


def test_a_connection_closed_while_idle_is_not_used_again():
    """A subscriber that answers as if keeping the connection, then closes it (a restart,
    an idle timeout): the next delivery takes a new connection instead of failing."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            accepted.append(conn)
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    pool = Pool(4)
    to = Target("http", "127.0.0.1", listener.getsockname()[1], "127.0.0.1", "/hooks")
    try:
        first = send(pool, to)
        assert first.ok and first.body == "ok"
        time.sleep(0.1)  # the close reaches us
        second = send(pool, to)
        assert second.ok, second
        thread.join(5)
        assert len(accepted) == 2
    finally:
        listener.close()


def test_an_answer_marked_close_is_not_kept(subscriber):
    pool = Pool(4)
    to = target(subscriber)
    subscriber.reply(200, {"Connection": "close"})
    assert send(pool, to).ok
    assert not pool._idle.get(("http", "127.0.0.1", to.port, "127.0.0.1"))  # noqa: SLF001


def test_a_long_answer_is_cut_and_its_connection_not_kept(subscriber):
    """The first 1 KiB is kept; an answer longer than the drain limit is not read to its end
    for the sake of reusing the connection."""
    pool = Pool(4)
    to = target(subscriber)
    subscriber.reply(200, {}, b"x" * (RESPONSE_KEPT + DRAIN_LIMIT + 1))  # the rest: over
    result = send(pool, to)
    assert result.ok and result.body == "x" * RESPONSE_KEPT
    assert not pool._idle.get(("http", "127.0.0.1", to.port, "127.0.0.1"))  # noqa: SLF001
    subscriber.reply(200, {}, b"y" * 2000)  # short enough to drain: kept
    assert send(pool, to).ok
    assert len(pool._idle[("http", "127.0.0.1", to.port, "127.0.0.1")]) == 1  # noqa: SLF001
