"""GET /openapi.json: the OpenAPI 3.1 description of the admin API and the inbound webhook
routes. Written by hand from the code's own tables (vendors, statuses, delivery states, id,
cursor, URL and event-type patterns), so it cannot drift from what the server checks; kept
true by tests/test_openapi.py and tests/test_openapi_live.py (schemathesis, a generated
client)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from switchboard.api import openapi_examples as ex
from switchboard.api import webhooks
from switchboard.api.errors import error_response
from switchboard.events import REASONS, STATUS_RANK
from switchboard.ids import id_pattern
from switchboard.operations.common import CURSOR_PATTERN, DEFAULT_LIMIT, MAX_LIMIT, MAX_TEXT
from switchboard.operations.deliveries import STATES
from switchboard.operations.replay import MAX_EVENT_IDS
from switchboard.operations.stats import DEFAULT_WINDOW
from switchboard.operations.subscriptions import EVENT_TYPE_PATTERN
from switchboard.router.projection import CONFLICT, FANOUT, SUPERSEDED
from switchboard.url_policy import URL_PATTERN
from switchboard.vendors.registry import VENDORS

bp = Blueprint("openapi", __name__)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


def _object(required: list[str] | None = None, **properties: Any) -> dict:
    schema = {"type": "object", "properties": properties}
    if required is not None:
        schema["required"] = required
    return schema


def _closed(required: list[str] | None = None, **properties: Any) -> dict:
    """A request body: a field the server does not know is a 400 naming it."""
    return _object(required, **properties) | {"additionalProperties": False}


def _id(prefix: str, what: str) -> dict:
    return {"type": "string", "pattern": id_pattern(prefix), "description": what}


def _text(description: str, **extra: Any) -> dict:
    # PostgreSQL text holds no NUL, and no stored id or name is longer than MAX_TEXT.
    return {"type": "string", "maxLength": MAX_TEXT, "pattern": "^[^\\u0000]*$",
            "description": description, **extra}


TIME = "#/components/schemas/Time"
NULL_TIME = _nullable(_ref("Time"))
NULL_STR = {"type": ["string", "null"]}

# One schema per idea; everything else refers to these.
VOCABULARY: dict[str, Any] = {
    "Vendor": {"type": "string", "enum": sorted(VENDORS), "description": "a provider"},
    "Status": {"type": "string", "enum": list(STATUS_RANK),
               "description": "normalised message status; a message only moves up this list "
                              "(delivered, undelivered, expired, rejected, failed are final)"},
    "Reason": {"type": "string", "enum": list(REASONS),
               "description": "why a message failed or was refused: "
                              + "; ".join(f"{k}: {v}" for k, v in REASONS.items())},
    "Country": {"type": "string", "pattern": "^[A-Z]{2}$",
                "description": "ISO 3166 alpha-2, from the number's numbering plan"},
    "DeliveryState": {"type": "string", "enum": list(STATES)},
    "Disposition": {"type": "string", "enum": [FANOUT, SUPERSEDED, CONFLICT],
                    "description": "fanout: sent on; superseded: a late receipt, stored only; "
                                   "conflict: a second final status, stored only"},
    "Time": {"type": "string", "format": "date-time",
             "description": "RFC 3339; answers are in UTC with a Z"},
    "EventId": _id("evt", "an event"),
    "DeliveryId": _id("dlv", "one delivery of one event to one subscription or handler"),
    "SubscriptionId": _id("sub", "a subscription"),
    "ReceiptId": _id("rcv", "a stored callback"),
    "Cursor": {"type": "string", "pattern": CURSOR_PATTERN,
               "description": "opaque: the next_cursor of the page before"},
    "EventTypePattern": {"type": "string", "pattern": EVENT_TYPE_PATTERN,
                         "description": "an event type, or * in place of whole dot-separated "
                                        "parts: message.delivered, message.*, *"},
    # No "format": "uri" beside the pattern: every match is a URI already (tests say so),
    # and the two together made schemathesis' coverage phase 15 times slower.
    "SubscriberUrl": {"type": "string", "pattern": URL_PATTERN,
                      "description": "an http(s) URI, no user or password; loopback and "
                                     "private addresses are refused unless "
                                     "SWITCHBOARD_ALLOW_PRIVATE_URLS=true"},
}

EVENT_FIELDS = {
    "id": _ref("EventId"), "type": {"type": "string", "examples": ["message.delivered"]},
    "vendor": _ref("Vendor"), "vendor_event_id": NULL_STR, "occurred_at": NULL_TIME,
    "received_at": {"$ref": TIME},
    "sequence": {"type": ["integer", "null"], "minimum": 1,
                 "description": "1 for the first event stored for its message (vendor and "
                                "message_id), one more for each later one; null without a "
                                "message_id. Each subscriber and handler gets a message's "
                                "events in this order"},
    "data": _object(
        message_id=NULL_STR, direction={"enum": ["inbound", "outbound", None]},
        status=_nullable(_ref("Status")), vendor_status=NULL_STR,
        **{"from": NULL_STR}, to=NULL_STR,
        country=_nullable(_ref("Country")) | {
            "description": "the other party's: the recipient's outbound, the sender's inbound"},
        text=NULL_STR, parts={"type": ["integer", "null"]}, error_code=NULL_STR,
        reason=_nullable(_ref("Reason")) | {
            "description": "failures and opt-outs only; null on every other event"},
        permanent={"type": ["boolean", "null"],
                   "description": "true: resending to this number cannot succeed; false: it "
                                  "may (a soft bounce); null: the provider does not say"},
        account_id=NULL_STR)
    | {"description": "the normalised event; a vendor may add fields of its own"},
    "message_id": NULL_STR, "status": _nullable(_ref("Status")),
    "receipt_id": _ref("ReceiptId"), "disposition": _ref("Disposition"),
}
DELIVERY_FIELDS = {
    "id": _ref("DeliveryId"), "event_id": _ref("EventId"),
    "subscription_id": _nullable(_ref("SubscriptionId")),
    "handler": {"type": ["string", "null"], "description": "an in-process handler"},
    "state": _ref("DeliveryState"), "attempt_count": {"type": "integer", "minimum": 0},
    "next_attempt_at": {"$ref": TIME}, "replay": {"type": "boolean"},
    "created_at": {"$ref": TIME}, "finished_at": NULL_TIME, "last_error": NULL_STR,
}
SUBSCRIPTION_FIELDS = {
    "id": _ref("SubscriptionId"), "url": _ref("SubscriberUrl"),
    "event_types": {"type": "array", "items": _ref("EventTypePattern")},
    "vendors": {"type": ["array", "null"], "items": _ref("Vendor")},
    "description": {"type": "string"}, "active": {"type": "boolean"},
    "disabled_reason": NULL_STR, "failing_since": NULL_TIME, "created_at": {"$ref": TIME},
    "deleted_at": NULL_TIME,
}
SUBSCRIPTION_INPUT = {
    "url": _ref("SubscriberUrl"),
    "event_types": {"type": "array", "minItems": 1, "items": _ref("EventTypePattern"),
                    "description": "which events it gets"},
    "vendors": {"type": ["array", "null"], "items": _ref("Vendor"),
                "description": "only these vendors' events (null or empty: all)"},
    "description": {"type": "string", "pattern": "^[^\\u0000]*$"},
}
FILTER_FIELDS = {
    "vendor": _ref("Vendor"),
    "type": _text("exact event type", minLength=1, examples=["message.delivered"]),
    "status": _ref("Status"),
    "message_id": _text("the vendor's message id", minLength=1),
    "since": _ref("Time") | {"description": "received at or after"},
    "until": _ref("Time") | {"description": "received before"},
}

REPLAY_OPTIONS = {
    "subscription_id": _nullable(_ref("SubscriptionId")) | {
        "description": "only this subscription (default: every one that matches, and the "
                       "handlers)"},
    "dry_run": {"type": "boolean", "description": "count, enqueue nothing"},
    "renormalize": {"type": "boolean", "description": "parse the stored receipts again "
                    "first; replay only what that changed or created"},
}

SCHEMAS: dict[str, Any] = VOCABULARY | {
    "Error": _object(["error"], error=_object(
        ["code", "message", "field"], code={"type": "string"}, message={"type": "string"},
        field={"type": ["string", "null"], "description": "the field at fault, or null"})),
    "Event": _object(list(EVENT_FIELDS), **EVENT_FIELDS),
    "EventPage": _object(["events", "next_cursor"],
                         events={"type": "array", "items": _ref("Event")},
                         next_cursor=_nullable(_ref("Cursor"))),
    "Attempt": _object(
        ["id", "started_at", "duration_ms", "status_code", "error", "response_body"],
        id={"type": "integer"}, started_at={"$ref": TIME}, duration_ms={"type": "number"},
        status_code={"type": ["integer", "null"]}, error=NULL_STR,
        response_body={"type": ["string", "null"], "description": "its first 1 KiB"}),
    "Delivery": _object(list(DELIVERY_FIELDS), **DELIVERY_FIELDS),
    "DeliveryWithAttempts": {"allOf": [_ref("Delivery"), _object(
        ["attempts"], attempts={"type": "array", "items": _ref("Attempt")})]},
    "ListedDelivery": {"allOf": [_ref("Delivery"), _object(
        ["event_type", "vendor"], event_type={"type": "string"}, vendor=_ref("Vendor"))]},
    "DeliveryPage": _object(["deliveries", "next_cursor"],
                            deliveries={"type": "array", "items": _ref("ListedDelivery")},
                            next_cursor=_nullable(_ref("Cursor"))),
    "Receipt": _object(
        ["id", "vendor", "received_at", "method", "content_type", "query_string", "state",
         "error", "body", "body_encoding", "request_id"],
        id=_ref("ReceiptId"), vendor=_ref("Vendor"), received_at={"$ref": TIME},
        method={"type": "string", "enum": ["GET", "POST"]}, content_type=NULL_STR,
        query_string=NULL_STR, state={"type": "string", "enum": ["parsed", "failed"]},
        error=NULL_STR, body={"type": "string"},
        body_encoding={"type": "string", "enum": ["utf-8", "base64"]},
        request_id={"type": ["string", "null"],
                    "description": "X-Request-ID of the callback's log lines"}),
    "EventDetail": {"allOf": [_ref("Event"), _object(
        ["raw", "receipt", "deliveries"],
        raw={"description": "the provider's payload as received"},
        receipt=_nullable(_ref("Receipt")),
        deliveries={"type": "array", "items": _ref("DeliveryWithAttempts")})]},
    "Subscription": _object(list(SUBSCRIPTION_FIELDS), **SUBSCRIPTION_FIELDS),
    "SubscriptionWithSecret": {"allOf": [_ref("Subscription"), _object(
        ["secret"], secret={"type": "string", "pattern": "^whsec_",
                            "description": "shown only now"})]},
    "SubscriptionList": _object(["subscriptions"], subscriptions={
        "type": "array", "items": _ref("Subscription")}),
    "NewSubscription": _closed(["url", "event_types"], **SUBSCRIPTION_INPUT),
    "SubscriptionChanges": _closed(**SUBSCRIPTION_INPUT,
                                   active={"type": "boolean",
                                           "description": "false disables, true enables"}),
    "RotatedSecret": _object(["id", "secret", "previous_secret_valid_until"],
                             id=_ref("SubscriptionId"),
                             secret={"type": "string", "pattern": "^whsec_"},
                             previous_secret_valid_until={"$ref": TIME}),
    "Message": _object(
        ["vendor", "message_id", "status", "updated_at", "event_id", "conflict_status",
         "conflict_event_id", "history"],
        vendor=_ref("Vendor"), message_id={"type": "string"},
        status=_nullable(_ref("Status")), updated_at=NULL_TIME,
        event_id=_nullable(_ref("EventId")), conflict_status=_nullable(_ref("Status")),
        conflict_event_id=_nullable(_ref("EventId")),
        history={"type": "array", "items": _ref("Event"),
                 "description": "by occurred_at, then received_at; late receipts are "
                                "marked by disposition superseded"}),
    "EventFilter": _closed(**FILTER_FIELDS) | {
        "description": "which stored events; every field given must match"},
    "ReplayByIds": _closed(["event_ids"], **REPLAY_OPTIONS, filter={"type": "null"},
                           event_ids={"type": "array", "minItems": 1, "maxItems": MAX_EVENT_IDS,
                                      "items": {"type": "string", "pattern": "^[^\\u0000]*$"},
                                      "description": "these events (unknown ids are skipped)"}),
    "ReplayByFilter": _closed(["filter"], **REPLAY_OPTIONS, event_ids={"type": "null"},
                              filter=_ref("EventFilter")),
    "ReplayRequest": {"oneOf": [_ref("ReplayByIds"), _ref("ReplayByFilter")],
                      "description": "either event_ids or filter (null counts as not given)"},
    "ReplayResult": _object(["matched", "enqueued"],
                            matched={"type": "integer", "minimum": 0},
                            enqueued={"type": "integer", "minimum": 0},
                            renormalized={"type": "object",
                                          "description": "with renormalize: what changed"}),
    "ProviderStats": _object(
        ["vendor", "country", "messages", "delivered", "failed", "pending", "overdue",
         "delivery_rate", "reasons", "time_to_deliver_seconds", "time_to_deliver_samples"],
        vendor=_ref("Vendor"),
        country=_nullable(_ref("Country")) | {"description": "null: no one country's number"},
        messages={"type": "integer", "minimum": 0,
                  "description": "whose first receipt reached us in the window"},
        delivered={"type": "integer", "minimum": 0, "description": "delivered (or read)"},
        failed={"type": "integer", "minimum": 0,
                "description": "undelivered, expired, rejected or failed"},
        pending={"type": "integer", "minimum": 0, "description": "no terminal status yet"},
        overdue={"type": "integer", "minimum": 0,
                 "description": "pending, and given message.receipt_overdue"},
        delivery_rate={"type": ["number", "null"], "minimum": 0, "maximum": 1,
                       "description": "delivered / (delivered + failed); null without either"},
        reasons={"type": "object", "additionalProperties": {"type": "integer", "minimum": 1},
                 "propertyNames": _ref("Reason"),
                 "description": "failed messages by reason"},
        time_to_deliver_seconds=_object(
            ["p50", "p95"], p50={"type": ["number", "null"]}, p95={"type": ["number", "null"]})
        | {"description": "first accepted or sent receipt to delivered, by the providers' own "
                          "times (percentile_cont); null without a sample"},
        time_to_deliver_samples={"type": "integer", "minimum": 0,
                                 "description": "delivered messages the percentiles come "
                                                "from; one whose first receipt was its "
                                                "delivery has no time and is not among them"}),
    "ProviderScorecard": _object(
        ["since", "until", "providers"], since={"$ref": TIME}, until={"$ref": TIME},
        providers={"type": "array", "items": _ref("ProviderStats"),
                   "description": "one row per vendor and country"}),
    "WebhookAnswer": _object(["status", "event_ids"],
                             status={"type": "string", "enum": ["accepted", "duplicate"]},
                             event_ids={"type": "array", "items": _ref("EventId")}),
}


def _json(schema: dict, description: str, example: Any = None, links: dict | None = None
          ) -> dict:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    answer = {"description": description, "content": {"application/json": media}}
    if links:
        answer["links"] = links
    return answer


def _error(description: str, example: Any = None) -> dict:
    return _json(_ref("Error"), description, example)


def _link(operation_id: str, description: str, **parameters: str) -> dict:
    return {"operationId": operation_id, "description": description,
            "parameters": parameters}


def _path(name: str, schema: dict, example: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema, "example": example}


def _query(name: str, schema: dict, description: str, example: Any = None) -> dict:
    """An optional filter; sent empty (as an HTML form does) it is the same as absent."""
    param = {"name": name, "in": "query", "required": False, "allowEmptyValue": True,
             "description": description, "schema": schema}
    if example is not None:
        param["example"] = example
    return param


ADMIN_ERRORS = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "503": {"$ref": "#/components/responses/AdminDisabled"},
}
BAD_REQUEST = {"400": _error("a parameter or the body is invalid; `field` names it",
                             ex.BAD_REQUEST)}


def _not_found(what: str) -> dict:
    return {"404": _error(f"no such {what}", ex.not_found(what))}


PAGING = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                     "default": DEFAULT_LIMIT}, "rows per page", 20),
    _query("cursor", _ref("Cursor"), "next_cursor of the previous page"),
]
EVENT_FILTERS = [
    _query("vendor", _ref("Vendor"), "only this vendor's", "honkio"),
    _query("type", _text("exact event type"), "exact event type", "message.delivered"),
    _query("status", _ref("Status"), "messages' normalised status", "delivered"),
    _query("message_id", _text("the vendor's message id"), "one message's events"),
    _query("since", _ref("Time"), "received at or after", ex.SINCE),
    _query("until", _ref("Time"), "received before"),
    *PAGING,
]


def _webhook_operation(name: str, method: str) -> dict:
    proof = "its URL token" if VENDORS[name].uses_token else "its signature"
    operation: dict[str, Any] = {
        "tags": ["webhooks"], "security": [],
        "operationId": f"receive_{name}_{method.lower()}",
        "summary": f"A {name} callback ({method}), proved by {proof}",
        "responses": {
            "200": _json(_ref("WebhookAnswer"), "stored (accepted) or already stored "
                         "(duplicate)", ex.WEBHOOK_ANSWER),
            "400": _error("proof passed but the body is malformed; the receipt is kept"),
            "401": _error("missing or wrong signature or token, or timestamp out of window"),
            "404": _error("the provider is not configured"),
            "413": _error("body over MAX_CONTENT_LENGTH, or more events than "
                          "MAX_EVENTS_PER_CALLBACK"),
            "503": _error("database unavailable; the provider retries"),
        },
    }
    if method == "POST":
        operation["requestBody"] = {"required": False, "content": {
            "application/json": {"schema": {}},
            "application/x-www-form-urlencoded": {"schema": {
                "type": "object", "additionalProperties": {"type": "string"}}},
        }}
    return operation


def _webhook_paths() -> dict:
    """One path per provider with the methods it uses: GET on a POST-only provider is 405,
    not something a caller may send."""
    paths = {}
    for name in sorted(VENDORS):
        vendor = VENDORS[name]
        item: dict[str, Any] = {m.lower(): _webhook_operation(name, m) for m in vendor.methods}
        if vendor.uses_token:
            item["parameters"] = [_path("token", {"type": "string", "minLength": 12},
                                        "tok_Qn4zE2rW8yV1xK7p", "one of the configured tokens")]
            paths[f"/webhooks/{name}/{{token}}"] = item
        else:
            paths[f"/webhooks/{name}"] = item
    return paths


def _op(operation_id: str, summary: str, responses: dict, **extra: Any) -> dict:
    if "requestBody" in extra:  # Flask refuses a body over MAX_CONTENT_LENGTH before any view
        responses = responses | {"413": _error("body over MAX_CONTENT_LENGTH")}
    return {"tags": ["admin"], "operationId": operation_id, "summary": summary,
            "responses": responses | ADMIN_ERRORS, **extra}


def _body(schema: str, example: Any) -> dict:
    return {"required": True, "content": {"application/json": {
        "schema": _ref(schema), "example": example}}}


SUB_ID = [_path("id", _ref("SubscriptionId"), ex.SUBSCRIPTION_ID, "subscription id")]
EVENT_ID = [_path("id", _ref("EventId"), ex.EVENT_ID, "event id")]


def _subscription_links(at: str) -> dict:
    """From an answer holding a subscription (its id at `at`) to what can be done with it."""
    id_ = f"$response.body#{at}"
    return {
        "GetSubscription": _link("get_subscription", "read it", id=id_),
        "UpdateSubscription": _link("update_subscription", "change it", id=id_),
        "RotateSecret": _link("rotate_subscription_secret", "a new secret", id=id_),
        "DeleteSubscription": _link("delete_subscription", "delete it", id=id_),
        "ListItsDeliveries": _link("list_deliveries", "its deliveries",
                                   subscription_id=id_),
    }


def _event_links(at: str) -> dict:
    """From an answer holding an event (at `at`) to it, its message and its deliveries."""
    body = f"$response.body#{at}"
    return {
        "GetEvent": _link("get_event", "the event, its deliveries and attempts",
                          id=f"{body}/id"),
        "GetMessage": _link("get_message", "its message's status and history",
                            vendor=f"{body}/vendor", message_id=f"{body}/message_id"),
        "ListItsDeliveries": _link("list_deliveries", "its deliveries",
                                   event_id=f"{body}/id"),
    }


PATHS: dict[str, Any] = _webhook_paths() | {
    "/api/events": {"get": _op(
        "list_events", "Stored events, newest first, with filters and cursor paging",
        {"200": _json(_ref("EventPage"), "a page; follow next_cursor for more",
                      ex.EVENT_PAGE, _event_links("/events/0")
                      | {"NextPage": _link("list_events", "the next page",
                                           cursor="$response.body#/next_cursor")})}
        | BAD_REQUEST, parameters=EVENT_FILTERS)},
    "/api/events/{id}": {"get": _op(
        "get_event", "One event with its raw payload, receipt, deliveries and attempts",
        {"200": _json(_ref("EventDetail"), "the event", ex.EVENT_DETAIL, _event_links(""))}
        | _not_found("event"), parameters=EVENT_ID)},
    "/api/subscriptions": {
        "get": _op("list_subscriptions", "Subscriptions (never their secrets)",
                   {"200": _json(_ref("SubscriptionList"), "every live subscription",
                                 {"subscriptions": [ex.SUBSCRIPTION]},
                                 {"GetSubscription": _link(
                                     "get_subscription", "the first one",
                                     id="$response.body#/subscriptions/0/id")})}),
        "post": _op("create_subscription",
                    "Subscribe a URL; the answer holds its secret, shown this once",
                    {"201": _json(_ref("SubscriptionWithSecret"), "created",
                                  ex.SUBSCRIPTION | {"secret": ex.SECRET},
                                  _subscription_links("/id"))} | BAD_REQUEST,
                    requestBody=_body("NewSubscription", ex.NEW_SUBSCRIPTION)),
    },
    "/api/subscriptions/{id}": {
        "get": _op("get_subscription", "One subscription",
                   {"200": _json(_ref("Subscription"), "it", ex.SUBSCRIPTION)}
                   | _not_found("subscription"), parameters=SUB_ID),
        "patch": _op("update_subscription", "Change fields; active false disables, true "
                     "enables (what it missed is not resent: replay)",
                     {"200": _json(_ref("Subscription"), "as changed", ex.SUBSCRIPTION,
                                   _subscription_links("/id"))}
                     | BAD_REQUEST | _not_found("subscription"), parameters=SUB_ID,
                     requestBody=_body("SubscriptionChanges", ex.SUBSCRIPTION_CHANGES)),
        "delete": _op("delete_subscription", "Delete softly (its delivery history is kept)",
                      {"200": _json(_ref("Subscription"), "as deleted", ex.DELETED)}
                      | _not_found("subscription"), parameters=SUB_ID),
    },
    "/api/subscriptions/{id}/rotate-secret": {"post": _op(
        "rotate_subscription_secret",
        "A new secret, shown once; the old one also signs for 24 hours",
        {"200": _json(_ref("RotatedSecret"), "the new secret", ex.ROTATED,
                      {"GetSubscription": _link("get_subscription", "the subscription",
                                                id="$response.body#/id")})}
        | _not_found("subscription"), parameters=SUB_ID)},
    "/api/deliveries": {"get": _op(
        "list_deliveries", "Deliveries, newest first, by state (dead letters: state=dead)",
        {"200": _json(_ref("DeliveryPage"), "a page", ex.DELIVERY_PAGE, {
            "RetryDelivery": _link("retry_delivery", "send it again",
                                   id="$response.body#/deliveries/0/id"),
            "GetEvent": _link("get_event", "its event",
                              id="$response.body#/deliveries/0/event_id"),
            "NextPage": _link("list_deliveries", "the next page",
                              cursor="$response.body#/next_cursor")})} | BAD_REQUEST,
        parameters=[_query("state", _ref("DeliveryState"), "only these", "dead"),
                    _query("event_id", _ref("EventId"), "only this event's"),
                    _query("subscription_id", _ref("SubscriptionId"),
                           "only this subscription's"),
                    *PAGING])},
    "/api/deliveries/{id}/retry": {"post": _op(
        "retry_delivery",
        "Send a dead or cancelled delivery again: pending, due now, attempts reset",
        {"200": _json(_ref("Delivery"), "queued again", ex.RETRIED,
                      {"GetEvent": _link("get_event", "its event",
                                         id="$response.body#/event_id")})}
        | _not_found("delivery")
        | {"409": _error("pending or succeeded, or its subscription is disabled",
                         ex.NOT_RETRYABLE)},
        parameters=[_path("id", _ref("DeliveryId"), ex.DELIVERY_ID, "delivery id")])},
    "/api/messages/{vendor}/{message_id}": {"get": _op(
        "get_message", "A message's status and the history of its events",
        {"200": _json(_ref("Message"), "status and history", ex.MESSAGE,
                      {"GetEvent": _link("get_event", "the event behind its status",
                                         id="$response.body#/history/0/id")})}
        | _not_found("message"),
        parameters=[_path("vendor", _ref("Vendor"), "honkio", "vendor name"),
                    _path("message_id", _text("the vendor's message id", minLength=1),
                          ex.MESSAGE_ID, "the vendor's message id")])},
    "/api/stats/providers": {"get": _op(
        "provider_stats",
        "The scorecard per vendor and country: delivered, failed, pending, overdue, delivery "
        "rate, failure reasons and time to deliver",
        {"200": _json(_ref("ProviderScorecard"), "one row per vendor and country",
                      ex.PROVIDER_STATS)} | BAD_REQUEST,
        parameters=[
            _query("since", _ref("Time"), "messages whose first receipt is at or after this "
                   f"(default: until less {DEFAULT_WINDOW.days} days)", ex.SINCE),
            _query("until", _ref("Time"), "... and before this (default: now)"),
            _query("vendor", _ref("Vendor"), "only this vendor's", "transmitsms"),
            _query("country", {"type": "string", "pattern": "^[A-Za-z]{2}$"},
                   "only messages to (or from) this country, ISO 3166 alpha-2", "AU"),
        ])},
    "/api/replays": {"post": _op(
        "start_replay",
        "Owe stored events again (by ids or a filter), or count them with dry_run",
        {"200": _json(_ref("ReplayResult"), "how many events matched and deliveries were "
                      "made", {"matched": 42, "enqueued": 42})}
        | BAD_REQUEST | _not_found("subscription")
        | {"409": _error("the subscription is disabled: enable it first")},
        requestBody=_body("ReplayRequest", ex.REPLAY))},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Switchboard", "version": "1",
             "description": "Inbound SMS provider webhooks, and the admin API over what "
                            "Switchboard stored and sent."},
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "SWITCHBOARD_ADMIN_TOKEN"}},
        "schemas": SCHEMAS,
        "responses": {
            "Unauthorized": _error("missing or wrong bearer token", ex.UNAUTHORIZED),
            "AdminDisabled": _error("SWITCHBOARD_ADMIN_TOKEN is not set: the admin API is off"),
        },
    },
}


@bp.get("/openapi.json")
def document():
    return jsonify(DOCUMENT)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # The generic HTTPException answer drops the exception's headers; a 405 must still say
    # which methods the resource has (RFC 9110), as this document promises.
    app.register_error_handler(405, _method_not_allowed)


def _method_not_allowed(exc: MethodNotAllowed):
    answer, status = error_response(405, "method_not_allowed",
                                    exc.description or "method not allowed")
    segments = request.path.split("/")
    if len(segments) in (3, 4) and segments[1] == "webhooks":
        # One route serves every provider; Allow names this provider's own methods.
        answer.headers["Allow"] = webhooks.allowed_methods(segments[2])
        return answer, status
    for name, value in exc.get_headers():
        if name.lower() == "allow":
            answer.headers[name] = value
    return answer, status
