"""What the operator functions share: their one error type, query-parameter parsing, and
opaque keyset cursors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard.ids import ULID_PATTERN, id_pattern

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_TEXT = 200  # the longest id or name any filtered column holds
LEAP_SECOND = re.compile(r"(T\d\d:\d\d:)60")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A cursor is the row's time in microseconds since 1970 and its id. Opaque to callers, but
# every string of this shape is one the API accepts (17 digits reach past the year 5000), so
# /openapi.json can say exactly which cursors are valid.
CURSOR_PATTERN = f"^[0-9]{{1,17}}-[a-z]{{3}}_{ULID_PATTERN}$"


class OperationError(ValueError):
    """The caller's mistake (400), an unknown id (404) or a state that forbids it (409).
    The admin API, the console and the CLI each render it in one place; `code` is the
    admin API's error code."""

    CODES = {400: "invalid_request", 404: "not_found", 409: "conflict"}

    def __init__(self, field: str | None, message: str, status: int = 400,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status
        self.code = code or self.CODES.get(status, "invalid_request")

    def said(self) -> str:
        """For a person at a terminal or a page: the field at fault first, if there is one."""
        return f"{self.field}: {self.message}" if self.field else self.message


def reject_unknown(args: Mapping[str, Any], known: tuple[str, ...]) -> None:
    """A misspelt filter must not quietly widen the answer to everything."""
    unknown = sorted(set(args) - set(known))
    if unknown:
        raise OperationError(unknown[0][:MAX_TEXT], f"unknown parameter {unknown[0][:40]!r}; use "
                             + ", ".join(known))
    getlist = getattr(args, "getlist", None)  # a query string may repeat a name
    for name in known:
        if getlist is not None and len(getlist(name)) > 1:
            raise OperationError(name, f"give {name} once")


def text_param(args: Mapping[str, Any], name: str) -> str | None:
    """A string filter; empty means absent. A NUL or an overlong value is a 400 here, since
    PostgreSQL would refuse the NUL with a 503 and no stored value is that long anyway."""
    value = args.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or "\x00" in value or len(value) > MAX_TEXT:
        raise OperationError(name, f"{name} must be a string of at most {MAX_TEXT} characters "
                             "without NUL")
    return value


def choice_param(args: Mapping[str, Any], name: str, choices: Any) -> str | None:
    value = text_param(args, name)
    if value is not None and value not in choices:
        raise OperationError(name, f"{name} must be one of: {', '.join(sorted(choices))}")
    return value


def time_param(args: Mapping[str, Any], name: str) -> datetime | None:
    """ISO 8601 / RFC 3339; a time without an offset is taken as UTC."""
    value = text_param(args, name)
    if value is None:
        return None
    return parse_time(value, name)


def parse_time(value: str, name: str) -> datetime:
    # RFC 3339 allows a lower-case t and z, and a leap second, which Python does not.
    text = LEAP_SECOND.sub(r"\g<1>59", value.strip().upper())
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise OperationError(name, f"{name} must be an ISO 8601 time such as "
                             "2026-11-22T05:00:00Z") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # its UTC form falls before year 1 or after 9999: as a bound,
        # that is the same as the first or last moment there is
        offset = moment.utcoffset() or timedelta(0)
        return (datetime.min if offset > timedelta(0) else datetime.max).replace(tzinfo=UTC)


def limit_param(args: Mapping[str, Any]) -> int:
    value = args.get("limit")
    if value is None or value == "":
        return DEFAULT_LIMIT
    if isinstance(value, bool):
        value = None
    try:
        number = float(value)  # "10" and "10.0" are both the integer ten
        limit = int(number) if number.is_integer() else 0
    except (TypeError, ValueError, OverflowError):
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise OperationError("limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


def encode_cursor(moment: datetime, row_id: str) -> str:
    """Where the next page starts: after (moment, id) in newest-first order, to the
    microsecond, since a cursor must name the exact row it stopped at."""
    return f"{(moment - EPOCH) // timedelta(microseconds=1)}-{row_id}"


def decode_cursor(args: Mapping[str, Any], name: str = "cursor") -> tuple[datetime, str] | None:
    """The cursor in `name`: a page with two lists pages each by its own parameter."""
    value = text_param(args, name)
    if value is None:
        return None
    if not re.fullmatch(CURSOR_PATTERN, value):
        raise OperationError(name, f"{name} is not one this API gave out; "
                             "start again without it")
    micros, row_id = value.split("-", 1)
    return EPOCH + timedelta(microseconds=int(micros)), row_id


def id_param(args: Mapping[str, Any], name: str, prefix: str) -> str | None:
    """A filter on an id: one that no row could have is the caller's mistake, said as such
    rather than answered with an empty page."""
    value = text_param(args, name)
    if value is not None and not re.fullmatch(id_pattern(prefix), value):
        raise OperationError(name, f"{name} must be a {prefix}_ id")
    return value


def page(rows: list[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    """Rows fetched with limit + 1: the page, and the cursor for the next one if any."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    moment, row_id = key(rows[-1])
    return rows, encode_cursor(moment, row_id)


def check_id(value: str, what: str, field: str = "id") -> str:
    """An id from a URL path: one no row can have (NUL, overlong) is simply not found,
    before PostgreSQL could refuse the NUL with a 503."""
    if "\x00" in value or len(value) > MAX_TEXT:
        raise OperationError(field, f"no {what} {value[:40]!r}", 404)
    return value
