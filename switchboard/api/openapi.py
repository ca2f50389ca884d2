"""GET /openapi.json: the OpenAPI 3.1 description of the admin API and the inbound webhook
routes. Written by hand, and kept true by tests/test_openapi.py, which runs schemathesis
against the app with it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from switchboard.admin.common import DEFAULT_LIMIT, MAX_LIMIT
from switchboard.admin.deliveries import STATES
from switchboard.api import webhooks
from switchboard.api.errors import error_response
from switchboard.events import STATUS_RANK
from switchboard.vendors.registry import VENDORS

bp = Blueprint("openapi", __name__)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(type_: str, **extra: Any) -> dict:
    return {"type": [type_, "null"], **extra}


TIME = {"type": "string", "description": "ISO 8601, UTC"}
# What a stored id or name can be: PostgreSQL text holds no NUL, and none is over 200 long.
TEXT = {"type": "string", "maxLength": 200, "pattern": "^[^\\u0000]*$"}
ANY_TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}
NULL_TIME = _nullable("string", description="ISO 8601, UTC")
NULL_STR = _nullable("string")


def _object(required: list[str] | None = None, **properties: Any) -> dict:
    schema = {"type": "object", "properties": properties}
    if required is not None:
        schema["required"] = required
    return schema


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


def _path_param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


def _query(name: str, schema: dict, description: str) -> dict:
    """An optional filter; sent empty (as an HTML form does) it is the same as absent."""
    return {"name": name, "in": "query", "required": False, "allowEmptyValue": True,
            "description": description, "schema": schema}


ADMIN_ERRORS = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "503": {"$ref": "#/components/responses/AdminDisabled"},
}
BAD_REQUEST = {"400": _error("a parameter or the body is invalid; `field` names it")}
NOT_FOUND = {"404": _error("no such id")}

PAGING = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                     "default": DEFAULT_LIMIT}, "rows per page"),
    _query("cursor", {"type": "string", "format": "cursor"},
           "opaque: `next_cursor` of the previous page"),
]

EVENT_FILTERS = [
    _query("vendor", {"type": "string", "enum": sorted(VENDORS)}, "only this vendor's"),
    _query("type", TEXT, "exact event type, e.g. message.delivered"),
    _query("status", {"type": "string", "enum": list(STATUS_RANK)}, "normalised status"),
    _query("message_id", TEXT, "the vendor's message id"),
    _query("since", {"type": "string", "format": "date-time"}, "received at or after"),
    _query("until", {"type": "string", "format": "date-time"}, "received before"),
    *PAGING,
]

EVENT_FIELDS = {
    "id": {"type": "string"}, "type": {"type": "string"}, "vendor": {"type": "string"},
    "vendor_event_id": NULL_STR, "occurred_at": NULL_TIME, "received_at": TIME,
    "data": {"type": "object"},
}
SUMMARY_FIELDS = EVENT_FIELDS | {
    "message_id": NULL_STR, "status": NULL_STR, "receipt_id": {"type": "string"},
    "disposition": {"type": "string", "enum": ["fanout", "superseded", "conflict"]},
}
DELIVERY_FIELDS = {
    "id": {"type": "string"}, "event_id": {"type": "string"}, "subscription_id": NULL_STR,
    "handler": NULL_STR, "state": {"type": "string", "enum": list(STATES)},
    "attempt_count": {"type": "integer"}, "next_attempt_at": TIME,
    "replay": {"type": "boolean"}, "created_at": TIME, "finished_at": NULL_TIME,
    "last_error": NULL_STR,
}
SUBSCRIPTION_FIELDS = {
    "id": {"type": "string"}, "url": {"type": "string"},
    "event_types": {"type": "array", "items": {"type": "string"}},
    "vendors": _nullable("array", items={"type": "string"}),
    "description": {"type": "string"}, "active": {"type": "boolean"},
    "disabled_reason": NULL_STR, "failing_since": NULL_TIME, "created_at": TIME,
    "deleted_at": NULL_TIME,
}
SUBSCRIPTION_INPUT = {
    "url": ANY_TEXT | {"description": "http(s) URL the events are POSTed to"},
    "event_types": {"type": "array", "minItems": 1, "items": ANY_TEXT | {"minLength": 1},
                    "description": 'patterns such as "message.*" or "*"'},
    "vendors": _nullable("array", items={"type": "string", "enum": sorted(VENDORS)},
                         description="only these vendors' events (null: all)"),
    "description": ANY_TEXT,
}

SCHEMAS: dict[str, Any] = {
    "Error": _object(["error"], error=_object(
        ["code", "message", "field"], code={"type": "string"}, message={"type": "string"},
        field=_nullable("string", description="the field at fault, or null"))),
    "EventSummary": _object(list(SUMMARY_FIELDS), **SUMMARY_FIELDS),
    "EventPage": _object(["events", "next_cursor"],
                         events={"type": "array", "items": _ref("EventSummary")},
                         next_cursor=NULL_STR),
    "Attempt": _object(
        ["id", "started_at", "duration_ms", "status_code", "error", "response_body"],
        id={"type": "integer"}, started_at=TIME, duration_ms={"type": "number"},
        status_code=_nullable("integer"), error=NULL_STR, response_body=NULL_STR),
    "Delivery": _object(list(DELIVERY_FIELDS), **DELIVERY_FIELDS),
    "ListedDelivery": _object(
        [*DELIVERY_FIELDS, "event_type", "vendor"], **DELIVERY_FIELDS,
        event_type={"type": "string"}, vendor={"type": "string"}),
    "DeliveryPage": _object(["deliveries", "next_cursor"],
                            deliveries={"type": "array", "items": _ref("ListedDelivery")},
                            next_cursor=NULL_STR),
    "Receipt": _object(
        ["id", "vendor", "received_at", "method", "content_type", "query_string", "state",
         "error", "body", "body_encoding", "request_id"],
        id={"type": "string"}, vendor={"type": "string"}, received_at=TIME,
        method={"type": "string"}, content_type=NULL_STR, query_string=NULL_STR,
        state={"type": "string", "enum": ["parsed", "failed"]}, error=NULL_STR,
        body={"type": "string"}, body_encoding={"type": "string", "enum": ["utf-8", "base64"]},
        request_id=NULL_STR | {"description": "X-Request-ID of the callback's log lines"}),
    "EventDetail": _object(
        [*SUMMARY_FIELDS, "raw", "receipt", "deliveries"], **SUMMARY_FIELDS,
        raw={"description": "the provider's payload as received"},
        receipt={"oneOf": [_ref("Receipt"), {"type": "null"}]},
        deliveries={"type": "array", "items": {"allOf": [_ref("Delivery"), _object(
            ["attempts"], attempts={"type": "array", "items": _ref("Attempt")})]}}),
    "Subscription": _object(list(SUBSCRIPTION_FIELDS), **SUBSCRIPTION_FIELDS),
    "SubscriptionWithSecret": {"allOf": [_ref("Subscription"), _object(
        ["secret"], secret={"type": "string", "description": "whsec_...; shown only now"})]},
    "SubscriptionList": _object(["subscriptions"], subscriptions={
        "type": "array", "items": _ref("Subscription")}),
    "NewSubscription": _object(["url", "event_types"], **SUBSCRIPTION_INPUT)
    | {"additionalProperties": False},
    "SubscriptionChanges": _object(**SUBSCRIPTION_INPUT, active={"type": "boolean"})
    | {"additionalProperties": False},
    "RotatedSecret": _object(["id", "secret", "previous_secret_valid_until"],
                             id={"type": "string"}, secret={"type": "string"},
                             previous_secret_valid_until=TIME),
    "Message": _object(
        ["vendor", "message_id", "status", "updated_at", "event_id", "conflict_status",
         "conflict_event_id", "history"],
        vendor={"type": "string"}, message_id={"type": "string"}, status=NULL_STR,
        updated_at=NULL_TIME, event_id=NULL_STR, conflict_status=NULL_STR,
        conflict_event_id=NULL_STR,
        history={"type": "array", "items": _ref("EventSummary"),
                 "description": "by occurred_at, then received_at; late receipts are "
                                "marked by disposition superseded"}),
    "ReplayRequest": _object(
        event_ids={"type": ["array", "null"], "minItems": 1, "items": ANY_TEXT},
        filter=_object(**{name: ANY_TEXT | {"minLength": 1} for name in
                          ("vendor", "type", "status", "message_id", "since", "until")})
        | {"type": ["object", "null"], "additionalProperties": False},
        subscription_id=ANY_TEXT | {"type": ["string", "null"],
                                    "description": "only this one (default: all that match)"},
        dry_run={"type": "boolean"},
        renormalize={"type": "boolean"})
    | {"additionalProperties": False, "description": "either event_ids or filter",
       "oneOf": [  # exactly one of them given (null counts as not given)
           _object(["event_ids"], event_ids={"type": "array"}, filter={"type": "null"}),
           _object(["filter"], filter={"type": "object"}, event_ids={"type": "null"})]},
    "ReplayResult": _object(["matched", "enqueued"], matched={"type": "integer"},
                            enqueued={"type": "integer"}, renormalized={"type": "object"}),
    "WebhookAnswer": _object(["status", "event_ids"],
                             status={"type": "string", "enum": ["accepted", "duplicate"]},
                             event_ids={"type": "array", "items": {"type": "string"}}),
}


def _webhook_operation(method: str, with_token: bool) -> dict:
    operation: dict[str, Any] = {
        "tags": ["webhooks"], "security": [],
        "summary": (f"{method} a provider's callback "
                    + ("(proved by its URL token)" if with_token else "(signed)")),
        "responses": {
            "200": _json(_ref("WebhookAnswer"), "stored (accepted) or already stored "
                         "(duplicate)"),
            "400": _error("proof passed but the body is malformed; the receipt is kept"),
            "401": _error("missing or wrong signature or token, or timestamp out of window"),
            "404": _error("unknown or unconfigured provider"),
            "405": _error("this provider does not use this method"),
            "413": _error("body over MAX_CONTENT_LENGTH"),
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


def _webhook_path(with_token: bool) -> dict:
    parameters = [_path_param("vendor", "provider name: " + ", ".join(sorted(VENDORS)))]
    if with_token:
        parameters.append(_path_param("token", "a configured URL token"))
    return {"parameters": parameters,
            "get": _webhook_operation("GET", with_token),
            "post": _webhook_operation("POST", with_token)}


def _op(summary: str, responses: dict, **extra: Any) -> dict:
    return {"tags": ["admin"], "summary": summary, "responses": responses | ADMIN_ERRORS,
            **extra}


def _body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


SUB_ID = [_path_param("id", "subscription id")]

PATHS: dict[str, Any] = {
    "/webhooks/{vendor}": _webhook_path(False),
    "/webhooks/{vendor}/{token}": _webhook_path(True),
    "/api/events": {"get": _op(
        "Stored events, newest first, with filters and cursor paging",
        {"200": _json(_ref("EventPage"), "a page; follow next_cursor for more")}
        | BAD_REQUEST, parameters=EVENT_FILTERS)},
    "/api/events/{id}": {"get": _op(
        "One event with its receipt, deliveries and their attempts",
        {"200": _json(_ref("EventDetail"), "the event")} | NOT_FOUND,
        parameters=[_path_param("id", "event id")])},
    "/api/subscriptions": {
        "get": _op("Subscriptions (never their secrets)",
                   {"200": _json(_ref("SubscriptionList"), "every live subscription")}),
        "post": _op("Subscribe a URL; the answer holds its secret, shown this once",
                    {"201": _json(_ref("SubscriptionWithSecret"), "created")} | BAD_REQUEST,
                    requestBody=_body("NewSubscription")),
    },
    "/api/subscriptions/{id}": {
        "get": _op("One subscription", {"200": _json(_ref("Subscription"), "it")} | NOT_FOUND,
                   parameters=SUB_ID),
        "patch": _op("Change fields; active false disables, true enables",
                     {"200": _json(_ref("Subscription"), "as changed")} | BAD_REQUEST
                     | NOT_FOUND, parameters=SUB_ID, requestBody=_body("SubscriptionChanges")),
        "delete": _op("Delete softly (its delivery history is kept)",
                      {"200": _json(_ref("Subscription"), "as deleted")} | NOT_FOUND,
                      parameters=SUB_ID),
    },
    "/api/subscriptions/{id}/rotate-secret": {"post": _op(
        "A new secret, shown once; the old one also signs for 24 hours",
        {"200": _json(_ref("RotatedSecret"), "the new secret")} | NOT_FOUND,
        parameters=SUB_ID)},
    "/api/deliveries": {"get": _op(
        "Deliveries, newest first, by state (dead letters: state=dead)",
        {"200": _json(_ref("DeliveryPage"), "a page")} | BAD_REQUEST,
        parameters=[_query("state", {"type": "string", "enum": list(STATES)}, "only these"),
                    _query("event_id", TEXT, "only this event's"),
                    _query("subscription_id", TEXT, "only this subscription's"),
                    *PAGING])},
    "/api/deliveries/{id}/retry": {"post": _op(
        "Send a dead or cancelled delivery again: pending, due now, attempts reset",
        {"200": _json(_ref("Delivery"), "queued again")} | NOT_FOUND
        | {"409": _error("pending or succeeded, or its subscription is disabled")},
        parameters=[_path_param("id", "delivery id")])},
    "/api/messages/{vendor}/{message_id}": {"get": _op(
        "A message's status and the history of its events",
        {"200": _json(_ref("Message"), "status and history")} | NOT_FOUND,
        parameters=[_path_param("vendor", "vendor name"),
                    _path_param("message_id", "the vendor's message id")])},
    "/api/replays": {"post": _op(
        "Owe stored events again (by ids or a filter), or count them with dry_run",
        {"200": _json(_ref("ReplayResult"), "how many events matched and deliveries were "
                      "made")} | BAD_REQUEST | NOT_FOUND,
        requestBody=_body("ReplayRequest"))},
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
            "Unauthorized": _error("missing or wrong bearer token"),
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
