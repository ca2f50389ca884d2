"""Subscriber URLs that lead to private addresses: by name, by DNS rebinding between the
check and the connection, and by redirect. Refused unless ALLOW_PRIVATE_URLS is set."""

from __future__ import annotations

import dataclasses
import socket

import pytest
from sqlalchemy import select

from switchboard import clock, url_policy
from switchboard.app import create_app
from switchboard.models import Attempt, Delivery
from switchboard.operations import subscriptions as subs
from switchboard.operations.common import OperationError
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
                if ":" in ip:
                    return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, 0, 0, 0))]
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 0))]
            return real(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", fake)


def attempts(engine):
    with engine.connect() as conn:
        return conn.execute(select(Attempt.__table__)).mappings().all()


def test_a_name_that_resolves_to_a_private_address_is_refused(engine, settings, monkeypatch):
    FakeDns(monkeypatch, {"internal.test": ["10.0.0.7"]})
    strict = dataclasses.replace(settings, allow_private_urls=False)
    with engine.begin() as conn, pytest.raises(OperationError) as refused:
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
    assert got.path == "/in?x=1"


# IPv6 addresses that stand for an IPv4 one: judged by the IPv4 address they carry.
CARRY_PRIVATE = [
    "::127.0.0.1",                            # IPv4-compatible
    "::ffff:127.0.0.1",                       # IPv4-mapped
    "::ffff:0:127.0.0.1",                     # IPv4-translated (RFC 2765)
    "::ffff:0:a9fe:a9fe",                     # ... 169.254.169.254
    "64:ff9b::7f00:1",                        # NAT64 well-known prefix, 127.0.0.1
    "64:ff9b::a9fe:a9fe",                     # ... 169.254.169.254, the metadata service
    "64:ff9b::a00:1",                         # ... 10.0.0.1
    "64:ff9b:1::808:808",                     # local-use NAT64 (RFC 8215): refused whole
    "64:ff9b:1:7f00:1::",                     # ... 127.0.0.1 where a /48 prefix puts it
    "2002:7f00:1::1",                         # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",                      # 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",   # Teredo: public server, client 10.0.0.1
    "2001:0:a00:1:8000:63bf:f7f7:f7f7",       # Teredo: server 10.0.0.1, public client
    "::1", "::",
]
CARRY_PUBLIC = [
    "::8.8.8.8", "::ffff:8.8.8.8", "::ffff:0:8.8.8.8", "64:ff9b::808:808",
    "2002:808:808::1",
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7",   # Teredo: server 65.54.227.120, client 8.8.8.8
]
ADMIN = "ssrf-admin-token-0123"


@pytest.fixture
def strict_api(settings):
    """The admin API of an app that refuses private subscriber URLs."""
    app = create_app(settings=dataclasses.replace(settings, admin_token=ADMIN,
                                                  allow_private_urls=False))
    client = app.test_client()

    def create(url: str):
        return client.post("/api/subscriptions", json={"url": url, "event_types": ["*"]},
                           headers={"Authorization": f"Bearer {ADMIN}"})

    yield create
    app.extensions["switchboard"].engine.dispose()


@pytest.mark.parametrize("address", CARRY_PRIVATE)
def test_ipv6_forms_of_a_private_ipv4_address_are_refused_at_creation(strict_api, address):
    answer = strict_api(f"http://[{address}]/hooks")
    assert answer.status_code == 400, answer.get_json()
    error = answer.get_json()["error"]
    assert error["field"] == "url" and "ALLOW_PRIVATE_URLS" in error["message"]


@pytest.mark.parametrize("address", CARRY_PUBLIC)
def test_ipv6_forms_of_a_public_ipv4_address_are_accepted(strict_api, address):
    assert strict_api(f"http://[{address}]/hooks").status_code == 201


def test_a_name_resolving_to_an_ipv6_form_of_a_private_address_is_refused_at_creation(
        strict_api, monkeypatch):
    FakeDns(monkeypatch, {"nat64.test": ["64:ff9b::a9fe:a9fe"]})
    answer = strict_api("http://nat64.test/latest")
    assert answer.status_code == 400 and "64:ff9b::a9fe:a9fe" in answer.get_json()[
        "error"]["message"]


def test_allow_private_urls_still_allows_them(engine, settings):
    with engine.begin() as conn:
        for address in CARRY_PRIVATE:
            subs.create(conn, settings, clock.now(), url=f"http://[{address}]/hooks",
                        event_types=["*"])


@pytest.mark.parametrize("url, dns", [
    ("http://[::ffff:0:127.0.0.1]:{port}/hooks", {}),
    ("http://[64:ff9b::7f00:1]:{port}/hooks", {}),
    ("http://nat64.test:{port}/hooks", {"nat64.test": ["64:ff9b::a9fe:a9fe"]}),
    ("http://sixtofour.test:{port}/hooks", {"sixtofour.test": ["2002:7f00:1::1"]}),
    ("http://teredo.test:{port}/hooks",
     {"teredo.test": ["2001:0:4136:e378:8000:63bf:f5ff:fffe"]}),
])
def test_ipv6_forms_of_a_private_address_are_not_attempted_at_send_time(
        client, engine, settings, subscriber, monkeypatch, frozen_clock, url, dns):
    FakeDns(monkeypatch, dns)
    with engine.begin() as conn:  # allowed when created, refused when sent
        subs.create(conn, settings, clock.now(),
                    url=url.format(port=subscriber.server.server_address[1]),
                    event_types=["*"])
    send_honkio(client)
    worker = Worker(engine, dataclasses.replace(settings, allow_private_urls=False),
                    concurrency=1)
    worker.run_once()
    worker.close()
    assert subscriber.received == []
    (attempt,) = attempts(engine)
    # "refused", not the test harness's "test tried to reach": no socket was opened.
    assert attempt["error"].startswith("refused: url resolves to a private")


def test_an_ipv6_form_of_a_public_address_is_attempted_at_send_time(
        client, engine, settings, monkeypatch, frozen_clock):
    FakeDns(monkeypatch, {"public64.test": ["64:ff9b::808:808"]})
    strict = dataclasses.replace(settings, allow_private_urls=False)
    with engine.begin() as conn:
        subs.create(conn, strict, clock.now(), url="http://public64.test/hooks",
                    event_types=["*"])
    send_honkio(client)
    worker = Worker(engine, strict, concurrency=1)
    worker.run_once()
    worker.close()
    (attempt,) = attempts(engine)
    # The harness refuses every address but loopback: the attempt went to the one pinned.
    assert "test tried to reach 64:ff9b::808:808" in attempt["error"]


# What the URL itself may carry, and what a pinned target keeps of it.

@pytest.mark.parametrize("url", ["https://93.184.216.34/hooks", "http://93.184.216.34/hooks",
                                 "https://93.184.216.34:8443/hooks?k=v"])
def test_public_http_and_https_urls_are_accepted(strict_api, url):
    assert strict_api(url).status_code == 201


CREDENTIALS = "url must not carry credentials"


@pytest.mark.parametrize("url, message", [
    ("http://user@93.184.216.34/", CREDENTIALS), ("http://:pw@93.184.216.34/", CREDENTIALS),
    ("http://user:pw@93.184.216.34/", CREDENTIALS),
    ("ftp://93.184.216.34/", "url must start with http:// or https://"),
    ("file:///etc/passwd", "url must start with http:// or https://"),
    ("http://93.184.216.34:99999/", "url has an invalid port"),
    ("http:///nohost", "url has no host"),
])
def test_urls_with_credentials_other_schemes_or_bad_ports_are_refused(strict_api, url, message):
    answer = strict_api(url)
    assert answer.status_code == 400
    assert answer.get_json()["error"] == {"code": "invalid_request", "field": "url",
                                          "message": message}


@pytest.mark.parametrize("url, port, host_header, path", [
    ("http://93.184.216.34/hooks", 80, "93.184.216.34", "/hooks"),
    ("https://93.184.216.34/hooks", 443, "93.184.216.34", "/hooks"),
    ("http://93.184.216.34:443/hooks", 443, "93.184.216.34:443", "/hooks"),
    ("https://93.184.216.34:80/", 80, "93.184.216.34:80", "/"),
    ("https://93.184.216.34:8443/a/b?k=v&w=1", 8443, "93.184.216.34:8443", "/a/b?k=v&w=1"),
    ("http://93.184.216.34", 80, "93.184.216.34", "/"),
    ("http://[2606:2800:220:1::1]/x?y", 80, "[2606:2800:220:1::1]", "/x?y"),
    ("https://[2606:2800:220:1::1]:8443/x", 8443, "[2606:2800:220:1::1]:8443", "/x"),
])
def test_a_pinned_target_keeps_port_host_and_path(url, port, host_header, path):
    target = url_policy.pin(url, allow_private=False)
    assert (target.port, target.host_header, target.path) == (port, host_header, path)
    assert target.scheme == url.split(":")[0] and target.address == target.host


# How a host name becomes the addresses judged.

@pytest.mark.parametrize("url", ["http://127.1/hooks", "http://2130706433/hooks",
                                 "http://0x7f.0.0.1/hooks"])
def test_shorthand_forms_of_loopback_are_refused(strict_api, url):
    # Not addresses to Python's ipaddress, but the C resolver reads them as 127.0.0.1.
    error = strict_api(url).get_json()["error"]
    assert error["message"] == ("url resolves to a private or loopback address (127.0.0.1); "
                                "set SWITCHBOARD_ALLOW_PRIVATE_URLS=true to allow it")


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "api.localhost", "API.LocalHost"])
def test_localhost_names_are_loopback_whatever_dns_says(strict_api, monkeypatch, host):
    # RFC 6761: a resolver that answers a public address for them is not believed.
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))])
    answer = strict_api(f"http://{host}/hooks")
    assert answer.status_code == 400 and "(127.0.0.1)" in answer.get_json()["error"]["message"]


def test_an_address_in_the_url_is_judged_without_dns(strict_api, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert strict_api("http://93.184.216.34/hooks").status_code == 201
    answer = strict_api("http://hooks.example.test/in")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"] == \
        "url host 'hooks.example.test' does not resolve"


def test_a_link_local_answer_with_its_zone_is_refused(strict_api, monkeypatch):
    # getaddrinfo writes a link-local IPv6 answer with its interface: fe80::1%eth0.
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1%eth0", 0, 0, 2))])
    answer = strict_api("http://zoned.test/hooks")
    assert answer.status_code == 400 and "fe80::1%eth0" in answer.get_json()["error"]["message"]


def test_a_host_is_resolved_once_for_deliveries_close_together(monkeypatch):
    dns = FakeDns(monkeypatch, {"busy.test": ["93.184.216.34", "93.184.216.35"]})
    first = url_policy.pin("http://busy.test/a", allow_private=False)
    second = url_policy.pin("http://busy.test/b", allow_private=False)
    assert dns.asked == ["busy.test"]
    assert first.address == second.address == "93.184.216.34"


def test_a_host_is_resolved_again_after_thirty_seconds(monkeypatch):
    # A subscriber that moves (or a name rebound inward) is followed within half a minute.
    dns = FakeDns(monkeypatch, {"moved.test": ["93.184.216.34", "10.0.0.7"]})
    now = [1000.0]
    monkeypatch.setattr(url_policy.time, "monotonic", lambda: now[0])
    url_policy.pin("http://moved.test/a", allow_private=False)
    now[0] += 29.5
    url_policy.pin("http://moved.test/a", allow_private=False)
    now[0] += 0.5  # thirty seconds to the tick
    with pytest.raises(url_policy.UrlRefused, match="10.0.0.7"):
        url_policy.pin("http://moved.test/a", allow_private=False)
    assert dns.asked == ["moved.test", "moved.test"]
