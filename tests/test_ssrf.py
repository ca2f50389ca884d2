"""Subscriber URLs that lead to private addresses: by name, by DNS rebinding between the
check and the connection, and by redirect. Refused unless ALLOW_PRIVATE_URLS is set."""

from __future__ import annotations

import dataclasses
import socket

import pytest
from sqlalchemy import select

from switchboard import clock, url_policy
from switchboard import subscriptions as subs
from switchboard.models import Attempt, Delivery
from switchboard.worker.runner import Worker
from tests.callbacks import send_honkio
from tests.subscriber import Subscriber


@pytest.fixture(autouse=True)
def _fresh_dns_cache():
    url_policy._RESOLVED.clear()
    yield
    url_policy._RESOLVED.clear()


class FakeDns:
    """getaddrinfo for names under .test: a list of answers handed out in turn."""

    def __init__(self, monkeypatch, answers: dict[str, list[str]]) -> None:
        self.answers = {name: list(ips) for name, ips in answers.items()}
        self.asked: list[str] = []
        real = socket.getaddrinfo

        def fake(host, *args, **kwargs):
            if isinstance(host, str) and host.endswith(".test"):
                self.asked.append(host)
                ip = self.answers[host].pop(0) if len(self.answers[host]) > 1 \
                    else self.answers[host][0]
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 0))]
            return real(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", fake)


def attempts(engine):
    with engine.connect() as conn:
        return conn.execute(select(Attempt.__table__)).mappings().all()


def test_a_name_that_resolves_to_a_private_address_is_refused(engine, settings, monkeypatch):
    FakeDns(monkeypatch, {"internal.test": ["10.0.0.7"]})
    strict = dataclasses.replace(settings, allow_private_urls=False)
    with engine.begin() as conn, pytest.raises(subs.SubscriptionError) as refused:
        subs.create(conn, strict, clock.now(), url="http://internal.test/hook",
                    event_types=["*"])
    assert "10.0.0.7" in refused.value.message


def test_dns_rebinding_after_the_check_does_not_reach_the_private_address(
        client, engine, settings, subscriber, monkeypatch, frozen_clock):
    port = subscriber.server.server_address[1]
    # Public when checked at creation, public when pinned at send time, loopback for any
    # lookup after that: a client that resolved again would land on the subscriber.
    dns = FakeDns(monkeypatch, {"rebind.test": ["93.184.216.34", "93.184.216.34",
                                                "127.0.0.1"]})
    strict = dataclasses.replace(settings, allow_private_urls=False)
    with engine.begin() as conn:
        subs.create(conn, strict, clock.now(), url=f"http://rebind.test:{port}/hooks",
                    event_types=["*"])
    send_honkio(client)
    worker = Worker(engine, strict, concurrency=1)
    worker.run_once()
    worker.close()
    assert subscriber.received == []  # nothing reached 127.0.0.1
    assert dns.asked == ["rebind.test", "rebind.test"]  # resolved once per check, no more
    (attempt,) = attempts(engine)
    # The test harness refuses non-loopback connections, so the pinned public address
    # fails to connect: what matters is that the socket went there and not inward.
    assert attempt["status_code"] is None and "93.184.216.34" in attempt["error"]


def test_redirects_are_not_followed(client, engine, settings, subscriber, frozen_clock):
    inner = Subscriber().start()
    try:
        with engine.begin() as conn:
            subs.create(conn, settings, clock.now(), url=subscriber.url, event_types=["*"])
        subscriber.reply(302, {"Location": inner.url})
        send_honkio(client)
        worker = Worker(engine, settings, concurrency=1)
        worker.run_once()
        worker.close()
        assert len(subscriber.received) == 1 and inner.received == []
        (attempt,) = attempts(engine)
        assert attempt["status_code"] == 302
        with engine.connect() as conn:
            (delivery,) = conn.execute(select(Delivery.__table__)).mappings().all()
        assert delivery["state"] == "pending"  # a redirect is a failure, retried as such
    finally:
        inner.stop()


def test_host_header_and_path_survive_pinning(client, engine, settings, subscriber,
                                              monkeypatch, frozen_clock):
    port = subscriber.server.server_address[1]
    FakeDns(monkeypatch, {"hooks.test": ["127.0.0.1"]})
    with engine.begin() as conn:
        subs.create(conn, settings, clock.now(), url=f"http://hooks.test:{port}/in?x=1",
                    event_types=["*"])
    send_honkio(client)
    worker = Worker(engine, settings, concurrency=1)
    worker.run_once()
    worker.close()
    (got,) = subscriber.received
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["host"] == f"hooks.test:{port}"
