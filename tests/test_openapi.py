"""/openapi.json describes the app truthfully: schemathesis drives every documented operation
through the WSGI app with the admin token and finds no 5xx and no answer outside the schema;
real answers for stored events, deliveries and messages match it too."""

from __future__ import annotations

import dataclasses
from datetime import UTC

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from switchboard import subscriptions as subs
from switchboard.admin.common import encode_cursor
from switchboard.worker.runner import Worker
from tests.callbacks import send_honkio
from tests.subscriber import Subscriber

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, admin_token=TOKEN, retry_schedule=(0,))


@pytest.fixture
def seeded(app, client, engine, settings, frozen_clock):
    """A subscription, two events of one message (the second superseded) and a dead
    delivery with its attempt, so answers carry every kind of row."""
    server = Subscriber().start()
    server.default = (500, {}, b"down")
    with engine.begin() as conn:
        sub, _ = subs.create(conn, settings, frozen_clock(), url=server.url,
                             event_types=["*"])
    (delivered,) = send_honkio(client, "delivered", message_id="msg_seeded")
    frozen_clock.advance(1)
    (late,) = send_honkio(client, "sent", message_id="msg_seeded")
    worker = Worker(engine, settings, concurrency=2, poll_interval=0.02)
    try:
        worker.run_once()
    finally:
        worker.close()
        server.stop()
    return {"subscription": sub["id"], "events": [delivered, late]}


@pytest.fixture
def api_schema(app, seeded):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")
# A cursor is opaque: only ones the API could have given out are valid.
schemathesis.openapi.format("cursor", st.builds(
    encode_cursor, st.datetimes(timezones=st.just(UTC)),
    st.from_regex(r"\A(evt|dlv)_[0-9A-Z]{26}\Z")))


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """schemathesis 4.x's lazy loader reads Node._nodeid, which pytest 9 no longer keeps; it
    only uses it to name each operation's subtest."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
@hypothesis_settings(max_examples=25, deadline=None,
                     suppress_health_check=list(HealthCheck))
def test_api_matches_its_schema(case):
    # Checked: no 5xx, documented status codes, content types, headers and bodies, 405s with
    # Allow, auth not ignored. Not checked: positive_data_acceptance (a schema cannot say which
    # URLs resolve or which ids exist) and negative_data_rejection (it blames parameters that
    # serialise to nothing, e.g. an empty list); the rejections they look for (unknown or
    # repeated parameters, NUL, overlong values) are tests in test_admin_api.py.
    case.call_and_validate(headers=AUTH, excluded_checks=[
        schemathesis.checks.positive_data_acceptance,
        schemathesis.checks.negative_data_rejection])


def test_document_is_served_without_auth_and_lists_every_route(client):
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    document = answer.get_json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/webhooks/{vendor}", "/webhooks/{vendor}/{token}", "/api/events",
        "/api/events/{id}", "/api/subscriptions", "/api/subscriptions/{id}",
        "/api/subscriptions/{id}/rotate-secret", "/api/deliveries",
        "/api/deliveries/{id}/retry", "/api/messages/{vendor}/{message_id}", "/api/replays"}
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            if path.startswith("/webhooks/"):
                assert operation["security"] == []
                assert {"200", "400", "401", "404", "405", "413", "503"} <= set(
                    operation["responses"])
            else:
                assert "security" not in operation  # the document's bearerAuth applies
                assert {"401", "503"} <= set(operation["responses"])


def test_real_answers_match_the_schema(app, client, seeded):
    loaded = schemathesis.openapi.from_wsgi("/openapi.json", app)
    event_id = seeded["events"][0]
    dead = client.get("/api/deliveries?state=dead", headers=AUTH).get_json()
    (delivery,) = dead["deliveries"]
    calls = [
        ("GET", "/api/events", client.get("/api/events?limit=1", headers=AUTH)),
        ("GET", "/api/events/{id}", client.get(f"/api/events/{event_id}", headers=AUTH)),
        ("GET", "/api/deliveries", client.get("/api/deliveries?state=dead", headers=AUTH)),
        ("GET", "/api/messages/{vendor}/{message_id}",
         client.get("/api/messages/honkio/msg_seeded", headers=AUTH)),
        ("GET", "/api/subscriptions/{id}",
         client.get(f"/api/subscriptions/{seeded['subscription']}", headers=AUTH)),
        ("POST", "/api/deliveries/{id}/retry",
         client.post(f"/api/deliveries/{delivery['id']}/retry", headers=AUTH)),
        ("POST", "/api/deliveries/{id}/retry",
         client.post(f"/api/deliveries/{delivery['id']}/retry", headers=AUTH)),  # 409
        ("POST", "/api/subscriptions/{id}/rotate-secret",
         client.post(f"/api/subscriptions/{seeded['subscription']}/rotate-secret",
                     headers=AUTH)),
        ("DELETE", "/api/subscriptions/{id}",
         client.delete(f"/api/subscriptions/{seeded['subscription']}", headers=AUTH)),
        ("GET", "/api/events", client.get("/api/events")),  # 401
    ]
    for method, path, answer in calls:
        assert answer.status_code < 500, (path, answer.get_json())
        loaded[path][method].validate_response(answer)
    detail = calls[1][2].get_json()
    assert detail["deliveries"][0]["attempts"], "the seeded delivery has an attempt"
