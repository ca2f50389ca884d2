"""/openapi.json against a real gunicorn holding real callbacks of every provider: the
schemathesis CLI with every check and every phase finds nothing, and a client generated
from the document by openapi-python-client works."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
import requests

from switchboard.vendors.registry import VENDORS
from tests.conftest import SECRETS, secrets_environ
from tests.gunicorn_server import gunicorn

TOKEN = "admin-token-for-openapi-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# A few callbacks of each provider, as its own sampler (what `switchboard simulate` sends)
# builds and proves them: outbound receipts, inbound SMS, an opt-out.
CALLBACKS = {
    "honkio": ("message.sent", "message.delivered", "message.received"),
    "canary": ("message.delivered", "message.failed"),
    "boomware": ("message.delivered", "message.received"),
    "transmitsms": ("message.delivered", "message.received", "message.opted_out"),
    "phonify": ("message.sent", "message.received"),
}
# Bounds the run: the 4 phases make at most about this many cases per operation each, and
# every one is a request to a 2-worker gunicorn.
MAX_EXAMPLES = 15


def test_every_vendor_is_seeded():
    assert set(CALLBACKS) == set(VENDORS)


@pytest.fixture
def live(database_url, tmp_path, make_worker):
    """(base URL, seeded ids) of a gunicorn whose store holds a subscription, callbacks of
    every provider and, once the worker has tried a closed port, dead deliveries with
    their attempts."""
    env = {**os.environ, "SWITCHBOARD_DATABASE_URL": database_url,
           "SWITCHBOARD_ADMIN_TOKEN": TOKEN, "SWITCHBOARD_ALLOW_PRIVATE_URLS": "true",
           **secrets_environ()}
    with gunicorn(env, tmp_path, timeout=30) as (port, _):
        base = f"http://127.0.0.1:{port}"
        sub = requests.post(f"{base}/api/subscriptions", headers=AUTH, timeout=10, json={
            "url": "http://127.0.0.1:9/closed", "event_types": ["*"]}).json()
        events = [event_id for vendor, types in CALLBACKS.items() for type_ in types
                  for event_id in send(base, vendor, type_)]
        worker = make_worker(retry_schedule=(0,))
        worker.run_once()
        yield base, {"subscription": sub["id"], "events": events}


def send(base: str, vendor: str, type_: str) -> list[str]:
    """One callback proven with the real time: gunicorn runs on the real clock."""
    sample = VENDORS[vendor].sample(type_, SECRETS[vendor], datetime.now(UTC))
    answer = requests.request(sample.method, base + sample.path, data=sample.body,
                              headers=sample.headers, params=sample.query_string or None,
                              timeout=10)
    assert answer.status_code == 200, (vendor, type_, answer.text)
    return answer.json()["event_ids"]


# schemathesis's default refusals for invalid data, and 413: a body past MAX_CONTENT_LENGTH
# (a list of event ids far past maxItems, say) is refused before any view reads it.
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                     "428", "429", "5xx"]
"""


def test_schemathesis_finds_nothing_with_every_check_and_phase(live, tmp_path):
    base, seeded = live
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
         "--config-file", str(tmp_path / "schemathesis.toml"),
         "run", f"{base}/openapi.json", "--checks", "all",
         "--phases", "examples,coverage,fuzzing,stateful", "--header", f"Authorization: "
         f"Bearer {TOKEN}", "--max-examples", str(MAX_EXAMPLES), "--workers", "1",
         "--generation-database", "none", "--request-timeout", "20", "--no-color",
         "--report", "junit", "--report-dir", str(tmp_path / "report")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - started
    print(run.stdout, run.stderr, f"schemathesis took {took:.0f} s", sep="\n")
    assert run.returncode == 0, "schemathesis found something: see its report above"
    # It exits 0 having tested nothing if the document fails to load or names no operation.
    assert "19 selected / 19 total" in run.stdout and " generated, " in run.stdout
    assert "Stateful" in run.stdout and "API Links:" in run.stdout
    assert took < 180


def generated_client(base: str, tmp_path):
    """The client openapi-python-client makes from the served document, imported."""
    document = tmp_path / "openapi.json"
    document.write_bytes(requests.get(f"{base}/openapi.json", timeout=10).content)
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: it is read by Python only
    run = subprocess.run(
        [sys.executable, "-c", "from openapi_python_client.cli import app; app()",
         "generate", "--path", str(document), "--output-path", str(tmp_path / "client"),
         "--meta", "none", "--config", str(config)],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "Warning" not in run.stdout, run.stdout + run.stderr
    for name in [m for m in sys.modules if m == "client" or m.startswith("client.")]:
        del sys.modules[name]  # another database's run generated one too
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module("client")
    finally:
        sys.path.remove(str(tmp_path))


def test_a_generated_client_lists_reads_subscribes_and_replays(live, tmp_path):
    base, seeded = live
    sb = generated_client(base, tmp_path)
    from client.api.admin import create_subscription, get_event, list_events, start_replay
    from client.models import (
        EventFilter,
        NewSubscription,
        ReplayByFilter,
        ReplayByIds,
        Status,
        Vendor,
    )

    api = sb.AuthenticatedClient(base_url=base, token=TOKEN)
    page = list_events.sync(client=api, vendor=Vendor.HONKIO, limit=2)
    assert len(page.events) == 2 and page.next_cursor
    rest = list_events.sync(client=api, vendor=Vendor.HONKIO, cursor=page.next_cursor)
    assert [e.vendor for e in page.events + rest.events] == [Vendor.HONKIO] * 3

    event = get_event.sync(client=api, id=page.events[0].id)
    assert event.id in seeded["events"] and event.receipt.vendor == Vendor.HONKIO
    assert event.deliveries[0].attempts, "the worker tried it once"

    made = create_subscription.sync(client=api, body=NewSubscription(
        url="http://127.0.0.1:9/billing", event_types=["message.*"],
        vendors=[Vendor.CANARY]))
    assert made.secret.startswith("whsec_") and made.active

    counted = start_replay.sync(client=api, body=ReplayByFilter(
        filter_=EventFilter(vendor=Vendor.CANARY, status=Status.DELIVERED),
        subscription_id=made.id, dry_run=True))
    assert (counted.matched, counted.enqueued) == (1, 1)  # would enqueue
    replayed = start_replay.sync(client=api, body=ReplayByIds(
        event_ids=seeded["events"][:2], subscription_id=seeded["subscription"]))
    assert (replayed.matched, replayed.enqueued) == (2, 2)
