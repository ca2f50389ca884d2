"""/openapi.json describes the app truthfully: it is a valid OpenAPI 3.1 document whose
examples fit their schemas; schemathesis drives every documented operation through the WSGI
app with the admin token and finds no 5xx and no answer outside the schema; real answers for
stored events, deliveries and messages match it too. (Against a real gunicorn, with every
check and phase: tests/test_openapi_live.py.)"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from switchboard.api.openapi import DOCUMENT
from switchboard.operations import subscriptions as subs
from switchboard.operations.common import CURSOR_PATTERN, decode_cursor, encode_cursor
from switchboard.url_policy import URL_PATTERN, check_url
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
    # In-process and quick: no 5xx, documented status codes, content types, headers and
    # bodies, 405s with Allow, auth not ignored. The two data checks need the server's own
    # behaviour under load of every phase: test_openapi_live.py runs them against gunicorn.
    case.call_and_validate(headers=AUTH, excluded_checks=[
        schemathesis.checks.positive_data_acceptance,
        schemathesis.checks.negative_data_rejection])


def test_document_is_served_without_auth_and_lists_every_route(client):
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    document = answer.get_json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/webhooks/honkio", "/webhooks/canary", "/webhooks/boomware/{token}",
        "/webhooks/transmitsms/{token}", "/webhooks/phonify/{token}", "/api/events",
        "/api/events/{id}", "/api/subscriptions", "/api/subscriptions/{id}",
        "/api/subscriptions/{id}/rotate-secret", "/api/deliveries",
        "/api/deliveries/{id}/retry", "/api/messages/{vendor}/{message_id}", "/api/replays",
        "/api/stats/providers"}
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            if path.startswith("/webhooks/"):
                assert operation["security"] == []
                assert {"200", "400", "401", "404", "413", "503"} <= set(
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
        ("GET", "/api/stats/providers", client.get("/api/stats/providers", headers=AUTH)),
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


def test_the_document_is_valid_openapi_3_1():
    validate(DOCUMENT)


def _with_examples(node: Any, where: str = ""):
    """(where, schema, example) for every parameter and media type that has both."""
    if isinstance(node, dict):
        if "example" in node and "schema" in node:
            yield where, node["schema"], node["example"]
        for key, value in node.items():
            yield from _with_examples(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _with_examples(value, f"{where}/{index}")


def test_every_operation_has_examples_and_each_fits_its_schema():
    found = list(_with_examples(DOCUMENT["paths"])) + list(
        _with_examples(DOCUMENT["components"]["responses"]))
    for where, schema, example in found:
        validator = jsonschema_rs.validator_for(
            {**schema, "components": DOCUMENT["components"]}, validate_formats=True)
        assert validator.is_valid(example), (where, list(validator.iter_errors(example))[:1])
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                assert any(w.startswith(f"/{path}/{method}/responses/2")
                           for w, _, _ in _with_examples({path: {method: operation}})), \
                    (method, path)


def test_links_name_real_operations_and_their_parameters():
    operations = {op["operationId"]: op for item in DOCUMENT["paths"].values()
                  for method, op in item.items() if method != "parameters"}
    links = [link for op in operations.values() for answer in op["responses"].values()
             for link in answer.get("links", {}).values()]
    assert len(links) >= 15
    for link in links:
        target = operations[link["operationId"]]
        names = {p["name"] for p in target.get("parameters", [])}
        assert set(link["parameters"]) <= names, link


@hypothesis_settings(max_examples=300, suppress_health_check=list(HealthCheck))
@given(st.from_regex(URL_PATTERN, fullmatch=True))
def test_every_url_the_schema_admits_is_a_uri_the_server_takes(url):
    assert jsonschema_rs.validator_for({"format": "uri"}, validate_formats=True).is_valid(url)
    assert check_url(url, allow_private=True) == url


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(5000, 1, 1),
                    timezones=st.just(UTC)),
       st.sampled_from(["evt_01JDA8X5V0N3Q7R2T4W6Y8Z0AB", "dlv_01JDA8X5V0P1R3T5V7X9Z1B3D5"]))
def test_every_cursor_the_api_gives_out_fits_the_documented_pattern(moment, row_id):
    cursor = encode_cursor(moment, row_id)
    assert re.fullmatch(CURSOR_PATTERN, cursor)
    assert decode_cursor({"cursor": cursor}) == (moment, row_id)
