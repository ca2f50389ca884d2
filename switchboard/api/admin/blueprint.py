"""The /api blueprint: bearer-token check on every /api path, JSON errors, and the small
helpers its routes share."""

from __future__ import annotations

import hmac
import json
from typing import Any

from flask import Blueprint, current_app, request

from switchboard.api.errors import error_response
from switchboard.operations.common import OperationError

bp = Blueprint("admin_api", __name__, url_prefix="/api")


def state() -> Any:
    return current_app.extensions["switchboard"]


@bp.before_app_request
def require_admin_token():
    """Every /api path, known or not, answers only to the bearer token (so the route map is
    not probed without it); /webhooks and the rest of the app are untouched."""
    if not (request.path == "/api" or request.path.startswith("/api/")):
        return None
    token = state().settings.admin_token
    if not token:
        return error_response(503, "admin_disabled", "the admin API is disabled: set "
                              "SWITCHBOARD_ADMIN_TOKEN to a long random value to enable it")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8")):
        answer, status = error_response(401, "unauthorized",
                                        "send Authorization: Bearer <SWITCHBOARD_ADMIN_TOKEN>")
        answer.headers["WWW-Authenticate"] = 'Bearer realm="switchboard"'
        return answer, status
    return None


@bp.errorhandler(OperationError)
def _refused(exc: OperationError):
    """Every operation's refusal, answered in the one error shape."""
    return error_response(exc.status, exc.code, exc.message, exc.field)


# No request body of ours nests deeper than a filter inside the body; this leaves room for
# any reasonable client and keeps every walk over the body far from Python's recursion limit.
MAX_DEPTH = 32


def json_object() -> dict:
    """The request body as a JSON object, with no NUL in any string (PostgreSQL text cannot
    hold one, and it would otherwise surface as a 503)."""
    try:
        body = json.loads(request.get_data())
    except (ValueError, UnicodeDecodeError) as exc:  # also an integer of 5,000 digits
        raise OperationError("body", f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # json's parser gives up on deep nesting with this, not ValueError
        raise OperationError("body", f"the body nests deeper than {MAX_DEPTH} levels") from None
    if not isinstance(body, dict):
        raise OperationError("body", "the body must be a JSON object")
    where = _nul_at(body)
    if where is not None:
        raise OperationError(where or "body", "strings must not contain NUL characters")
    return body


def _nul_at(body: Any) -> str | None:
    """The path of the first string (or key) holding NUL, "" for the body itself; walked
    without recursion, refusing a body nested deeper than MAX_DEPTH."""
    pending: list[tuple[Any, str, int]] = [(body, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
            continue
        if depth > MAX_DEPTH:
            raise OperationError("body", f"the body nests deeper than {MAX_DEPTH} levels")
        items = (value.items() if isinstance(value, dict)
                 else enumerate(value) if isinstance(value, list) else ())
        for key, item in reversed(list(items)):
            if isinstance(key, str) and "\x00" in key:
                return path or "body"
            pending.append((item, f"{path}.{key}" if path else str(key), depth + 1))
    return None
