"""Every error answer is JSON: {"error": {"code", "message", "field"}}; `field` is null
when no one field is at fault, so clients read one shape."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger("switchboard.errors")

HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def error_response(status: int, code: str, message: str, field: str | None = None):
    return jsonify({"error": {"code": code, "message": message, "field": field}}), status


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        code = HTTP_CODES.get(status, exc.name.lower().replace(" ", "_"))
        return error_response(status, code, exc.description or exc.name)

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def _database(exc: Exception):
        # The statement, its parameters and the driver's DETAIL lines may hold payload
        # data: log the error class and the driver's first line only.
        cause = getattr(exc, "orig", exc)
        first_line = (str(cause).strip().splitlines() or [""])[0][:200]
        log.error("database unavailable: %s: %s", type(cause).__name__, first_line)
        return error_response(503, "database_unavailable",
                              "the database is unavailable; retry later")

    @app.errorhandler(Exception)
    def _ours(exc: Exception):
        log.exception("unhandled error")
        return error_response(503, "internal_error",
                              "Switchboard failed to handle this request; retry later")
