"""What every provider's table of callbacks must hold, checked once (django-anymail's
tests/webhook_cases.py is the model). A provider's test module writes its cases and sends
each as the provider would; `check_callback` then reads the answer and the database.

A case has `status` and `code` (the error code; when 200, the stored events' types joined
by commas), and may have `field` and `message` (of the error), `vendor_status`,
`normalised`, `data` (a subset of the first event's data) and `occurred_at` (the first
event's, as subscribers see it). A case without one of these attributes checks nothing for
it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.conftest import load_event, rows


def as_json(value: Any) -> Any:
    """A JSON column as Python, whichever the dialect handed back."""
    return value if isinstance(value, (dict, list)) else json.loads(value)


def check_receipt(answer: Any, receipt: dict) -> None:
    """What the stored callback says of the request that brought it."""
    # The request id the answer and the logs carry finds it.
    assert receipt["request_id"] == answer.headers["X-Request-ID"]
    # Its Content-Type as sent (the column holds 200 characters).
    sent_type = answer.request.headers.get("Content-Type")
    assert receipt["content_type"] == (sent_type[:200] if sent_type else None)


def check_callback(answer: Any, engine: Any, case: Any, vendor: str,
                   raws: Callable[[], list[Any]], sent: bytes | None = None,
                   ) -> tuple[list[dict], list[dict]]:
    """`raws()`: what each stored event keeps as its raw, in order (asked only of a case
    that is accepted); `sent`: the body a 400's failed receipt must keep (None: not
    checked). Answers the events and receipts stored, for the provider's own checks."""
    expected = {name: getattr(case, name, None) for name in (
        "field", "message", "vendor_status", "normalised", "data", "occurred_at")}
    assert answer.status_code == case.status, answer.get_json()
    body = answer.get_json()
    events = rows(engine, "SELECT * FROM events ORDER BY id")
    receipts = rows(engine, "SELECT * FROM receipts")
    if case.status == 200:
        assert body["status"] == "accepted"
        assert [e["id"] for e in events] == body["event_ids"]
        assert ",".join(e["type"] for e in events) == case.code
        assert {e["vendor"] for e in events} == {vendor}
        assert [as_json(e["raw"]) for e in events] == raws()
        first = events[0]
        data = as_json(first["data"])
        if expected["vendor_status"]:
            assert data["vendor_status"] == expected["vendor_status"]
        if expected["normalised"]:
            assert data["status"] == first["status"] == expected["normalised"]
            assert data["direction"] == "outbound"
        if expected["data"]:
            assert {k: data[k] for k in expected["data"]} == expected["data"]
        if expected["occurred_at"]:
            assert load_event(engine, first["id"])["occurred_at"] == expected["occurred_at"]
        assert [r["state"] for r in receipts] == ["parsed"]
        check_receipt(answer, receipts[0])
        return events, receipts
    assert body["error"]["code"] == case.code
    assert events == []
    if expected["field"]:
        assert body["error"]["field"] == expected["field"]
    if expected["message"]:
        assert body["error"]["message"] == expected["message"]
    # A caller that proved itself but sent nonsense is kept for re-normalisation; one that
    # did not prove itself leaves nothing behind.
    assert [r["state"] for r in receipts] == (["failed"] if case.status == 400 else [])
    if case.status == 400:
        assert receipts[0]["error"].startswith(case.code)
        check_receipt(answer, receipts[0])
        if sent is not None:
            assert bytes(receipts[0]["body"]) == sent
    return events, receipts


def send_sample(client: Any, engine: Any, vendor: Any, type_: str, when: Any,
                secrets: tuple[str, ...]) -> tuple[Any, list[dict]]:
    """The provider's sample of `type_` sent exactly as `simulate` sends it (method, path,
    query, headers, body); it must be accepted. Returns the sample and the stored events,
    oldest first."""
    sample = vendor.sample(type_, secrets, when)
    answer = client.open(sample.path, method=sample.method, data=sample.body,
                         headers=sample.headers, query_string=sample.query_string)
    assert answer.status_code == 200, answer.get_json()
    return sample, rows(engine, "SELECT type, raw FROM events ORDER BY id")
