"""The provider scorecard, checked against figures worked out by hand from a fixture of
mixed providers and countries sent as the providers send them: the API, the CLI and the
metrics."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from prometheus_client import REGISTRY

from switchboard import clock
from switchboard.cli import cli
from switchboard.store.scorecard import interpolate
from switchboard.worker import overdue
from tests.conftest import SECRETS
from tests.signing import canary_headers, honkio_headers, sample_json

ADMIN = "s3cret-admin-token"
TX = SECRETS["transmitsms"][0]
BW = SECRETS["boomware"][0]


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, admin_token=ADMIN)


def transmit(client, message_id: str, status: str, at: str) -> None:
    query = urlencode({"message_id": message_id, "mobile": "61400000000",
                       "datetime": f"2026-11-22 {at}", "status": status})
    assert client.get(f"/webhooks/transmitsms/{TX}", query_string=query).status_code == 200


def honkio(client, message_id: str, status: str, created: str, code: str | None = None):
    payload = sample_json("honkio-delivered.json")
    payload.update(id=f"evt_{message_id}_{status}", type=f"message.{status}",
                   created=f"2026-11-22T{created}Z")
    payload["data"].update(message_id=message_id, status=status)
    if code:
        payload["data"]["error_code"] = code
    body = json.dumps(payload).encode()
    headers = honkio_headers(body, SECRETS["honkio"][0], int(clock.now().timestamp()))
    assert client.post("/webhooks/honkio", data=body, headers=headers).status_code == 200


def canary_failed(client, message_id: str, code: str) -> None:
    payload = sample_json("canary-delivered.json")
    payload.update(id=f"evt_{message_id}", type="message.failed",
                   created=int(clock.now().timestamp()))
    payload["data"] = {"message_id": message_id, "to": "+15551234567", "status": "failed",
                       "error_code": code}
    body = json.dumps(payload).encode()
    headers = canary_headers(body, SECRETS["canary"][0])
    assert client.post("/webhooks/canary", data=body, headers=headers).status_code == 200


@pytest.fixture
def fixture(client, engine, frozen_clock):
    """What was sent, and what each row must say (worked out by hand below)."""
    # Boomware, eight days before: outside the default window of the last seven days.
    frozen_clock.moment -= timedelta(days=8)
    payload = sample_json("boomware-dlr-delivered.json")
    assert client.post(f"/webhooks/boomware/{BW}", json=payload).status_code == 200
    frozen_clock.moment += timedelta(days=8)
    # Transmit SMS to Australia.
    transmit(client, "t1", "pending", "04:00:00")
    transmit(client, "t1", "delivered", "04:00:30")  # 30 s
    transmit(client, "t2", "pending", "04:00:00")
    transmit(client, "t2", "delivered", "04:02:00")  # 120 s
    transmit(client, "t3", "delivered", "04:10:00")  # its first receipt: no time to deliver
    transmit(client, "t4", "pending", "04:00:00")
    transmit(client, "t4", "hard-bounce", "04:03:00")  # invalid_number
    transmit(client, "t5", "pending", "04:00:00")  # never more: overdue below
    transmit(client, "t6", "pending", "04:00:00")
    transmit(client, "t6", "soft-bounce", "04:01:00")
    transmit(client, "t6", "delivered", "04:10:00")  # 600 s, past its soft bounce
    # HonkIO to Canada.
    honkio(client, "h1", "sent", "04:00:00")
    honkio(client, "h1", "delivered", "04:01:40")  # 100 s
    honkio(client, "h2", "failed", "04:00:00", "NO_CONSENT")
    honkio(client, "h3", "rejected", "04:00:00", "OPT_OUT_BLOCKED")
    # Canary to a +1 555 number: no country.
    canary_failed(client, "c1", "429")
    frozen_clock.advance(86401)
    assert overdue.check(engine, 86400, clock.now()).events == 1  # t5


AU = {"vendor": "transmitsms", "country": "AU", "messages": 6, "delivered": 4, "failed": 1,
      "pending": 1, "overdue": 1, "delivery_rate": 0.8, "reasons": {"invalid_number": 1},
      # 30, 120, 600: p50 the middle; p95 at rank 1.9, 120 + 0.9 * (600 - 120)
      "time_to_deliver_seconds": {"p50": 120.0, "p95": 552.0},
      "time_to_deliver_samples": 3}
CA = {"vendor": "honkio", "country": "CA", "messages": 3, "delivered": 1, "failed": 2,
      "pending": 0, "overdue": 0, "delivery_rate": 0.3333,
      "reasons": {"no_consent": 1, "opted_out": 1},
      "time_to_deliver_seconds": {"p50": 100.0, "p95": 100.0}, "time_to_deliver_samples": 1}
NOWHERE = {"vendor": "canary", "country": None, "messages": 1, "delivered": 0, "failed": 1,
           "pending": 0, "overdue": 0, "delivery_rate": 0.0, "reasons": {"rate_limited": 1},
           "time_to_deliver_seconds": {"p50": None, "p95": None},
           "time_to_deliver_samples": 0}


def get(client, **params):
    return client.get("/api/stats/providers", query_string=params,
                      headers={"Authorization": f"Bearer {ADMIN}"})


def test_scorecard_matches_the_hand_computed_figures(client, fixture):
    answer = get(client)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["until"] == "2026-11-23T05:00:01Z"
    assert body["since"] == "2026-11-16T05:00:01Z"
    assert body["providers"] == [NOWHERE, CA, AU]


def test_scorecard_filters(client, fixture):
    assert get(client, vendor="honkio").get_json()["providers"] == [CA]
    assert get(client, country="au").get_json()["providers"] == [AU]
    assert get(client, vendor="honkio", country="AU").get_json()["providers"] == []
    # The window is on each message's first receipt: the Boomware one is eight days old.
    wide = get(client, since="2026-11-01T00:00:00Z").get_json()["providers"]
    assert [(r["vendor"], r["country"], r["messages"]) for r in wide] == [
        ("boomware", "EE", 1), ("canary", None, 1), ("honkio", "CA", 3),
        ("transmitsms", "AU", 6)]
    # until alone: the seven days before it.
    assert [r["vendor"] for r in get(client, until="2026-11-20T00:00:00Z")
            .get_json()["providers"]] == ["boomware"]
    assert get(client, until="2026-11-14T00:00:00Z").get_json()["providers"] == []
    backwards = get(client, since="2026-11-22T00:00:00Z", until="2026-11-21T00:00:00Z")
    assert backwards.status_code == 200 and backwards.get_json()["providers"] == []


@pytest.mark.parametrize(("params", "field"), [
    ({"since": "yesterday"}, "since"), ({"vendor": "nokia"}, "vendor"),
    ({"country": "CAN"}, "country"), ({"country": "CA\n"}, "country"),
    ({"limit": "5"}, "limit"),
])
def test_bad_parameters_are_400_naming_them(client, params, field):
    answer = get(client, **params)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == field


def test_needs_the_admin_token(client):
    assert client.get("/api/stats/providers").status_code == 401


def test_cli_prints_the_same_table(app, fixture):
    result = app.test_cli_runner().invoke(cli, ["stats", "providers"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["vendor", "country", "messages", "delivered", "failed",
                                "pending", "overdue", "rate", "p50", "p95", "reasons"]
    assert lines[1].split() == ["canary", "-", "1", "0", "1", "0", "0", "0.0%", "-", "-",
                                "rate_limited=1"]
    assert lines[2].split() == ["honkio", "CA", "3", "1", "2", "0", "0", "33.3%", "100s",
                                "100s", "no_consent=1,opted_out=1"]
    assert lines[3].split() == ["transmitsms", "AU", "6", "4", "1", "1", "1", "80.0%", "120s",
                                "552s", "invalid_number=1"]
    only = app.test_cli_runner().invoke(cli, ["stats", "providers", "--vendor", "honkio",
                                              "--json"])
    assert json.loads(only.output)["providers"] == [CA]
    wide = app.test_cli_runner().invoke(cli, ["stats", "providers", "--since", "30d",
                                              "--country", "EE"])
    assert [line.split()[0] for line in wide.output.splitlines()] == ["vendor", "boomware"]
    bad = app.test_cli_runner().invoke(cli, ["stats", "providers", "--since", "soon"])
    assert bad.exit_code != 0 and "since" in bad.output
    too_far = app.test_cli_runner().invoke(cli, ["stats", "providers", "--since",
                                                 "9999999999999d"])
    assert too_far.exit_code == 2 and "--since" in too_far.output  # no traceback


def test_metrics_count_terminal_statuses_and_time_to_deliver(client, frozen_clock):
    def sample(name, labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    bounced = {"vendor": "transmitsms", "status": "undelivered", "reason": "invalid_number"}
    before = (sample("switchboard_messages_terminal_total", bounced),
              sample("switchboard_time_to_deliver_seconds_count", {"vendor": "transmitsms"}),
              sample("switchboard_time_to_deliver_seconds_sum", {"vendor": "transmitsms"}))
    transmit(client, "m1", "pending", "04:00:00")
    transmit(client, "m1", "delivered", "04:00:45")
    transmit(client, "m2", "hard-bounce", "04:00:00")
    transmit(client, "m2", "hard-bounce", "04:00:00")  # a duplicate counts nothing
    after = (sample("switchboard_messages_terminal_total", bounced),
             sample("switchboard_time_to_deliver_seconds_count", {"vendor": "transmitsms"}),
             sample("switchboard_time_to_deliver_seconds_sum", {"vendor": "transmitsms"}))
    assert after[0] - before[0] == 1
    assert after[1] - before[1] == 1
    assert after[2] - before[2] == 45
    text = client.get("/metrics").get_data(as_text=True)
    assert 'switchboard_messages_terminal_total{reason="invalid_number",' in text
    assert "switchboard_time_to_deliver_seconds_bucket" in text


@pytest.mark.parametrize(("values", "fraction", "expected"), [
    ([], 0.5, None), ([7.0], 0.95, 7.0), ([1.0, 2.0], 0.5, 1.5),
    ([30.0, 120.0, 600.0], 0.95, 552.0), ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
])
def test_interpolate_is_percentile_cont(values, fraction, expected):
    result = interpolate(values, fraction)
    assert result == (None if expected is None else pytest.approx(expected))
