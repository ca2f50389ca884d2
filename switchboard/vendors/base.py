"""What every vendor module shares: the inbound request, the errors it may raise, HMAC and
token proofs, and field helpers that turn provider values into the event shape."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import parse_qsl

import phonenumbers

from switchboard.events import (
    FAILURE_STATUSES,
    OPTED_OUT_TYPE,
    REASONS,
    STATUS_RANK,
    NormalizedEvent,
)


class Rejected(Exception):
    """The caller could not prove it is the provider: 401 (or 404), nothing stored."""

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class BadPayload(Exception):
    """Proof passed but the body cannot be understood: 400, and the receipt is kept."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _not_json(token: str) -> None:
    raise ValueError(f"{token} is not a JSON value")


def _finite(text: str) -> float:
    # 1e999 would become infinity, which no JSON column (nor subscriber) accepts.
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def _refuse_lone_surrogates(value: Any) -> None:
    """A \\uD800-\\uDFFF escape without its other half parses, but names no character: no
    database column takes it, so storing the event would fail on every retry (a 503 for
    ever). Only a body with such an escape is checked; a whole pair (an emoji) is fine."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadPayload("malformed_json", "body is not valid JSON: a \\u escape names half "
                         "of a surrogate pair, which is not a character") from None


class Inbound:
    """A callback as received: enough to verify it now and to parse it again later."""

    def __init__(self, vendor: str, method: str, body: bytes, *, headers: Mapping[str, str],
                 query_string: str = "", content_type: str | None = None,
                 request_id: str | None = None) -> None:
        self.vendor = vendor
        self.method = method
        self.body = body
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.query_string = query_string
        self.content_type = content_type
        self.request_id = request_id  # the HTTP request's id in our logs; None when polled

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @cached_property
    def json(self) -> Any:
        try:
            value = json.loads(self.body, parse_constant=_not_json, parse_float=_finite)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadPayload("malformed_json", f"body is not valid JSON: {exc}") from None
        except RecursionError:
            raise BadPayload("malformed_json", "body is nested too deeply") from None
        if b"\\ud" in self.body or b"\\uD" in self.body:
            _refuse_lone_surrogates(value)
        return value

    @cached_property
    def form(self) -> dict[str, str]:
        """Query-string fields merged with a urlencoded body (GET or POST callbacks)."""
        fields = dict(parse_qsl(self.query_string, keep_blank_values=True))
        if self.body:
            try:
                text = self.body.decode("utf-8")
            except UnicodeDecodeError:
                raise BadPayload("malformed_form", "form body is not UTF-8") from None
            fields.update(parse_qsl(text, keep_blank_values=True))
        return fields


# --- proof -------------------------------------------------------------------------------

def hmac_hex(secret: str, content: bytes) -> str:
    return hmac.new(secret.encode(), content, hashlib.sha256).hexdigest()


def check_hmac(signature: str | None, content: bytes, secrets: Iterable[str]) -> None:
    """Accept when any configured secret signs content to the given lowercase hex digest."""
    if not signature:
        raise Rejected("missing_signature", "the signature header is missing")
    # A digest is ASCII: any other character, however encoded, cannot match.
    given = signature.strip().encode()
    matched = False
    # Every secret is tried, without stopping early, so timing does not tell which matched.
    for secret in secrets:
        matched |= hmac.compare_digest(hmac_hex(secret, content).encode(), given)
    if not matched:
        raise Rejected("invalid_signature", "the signature does not match the body")


def check_token(token: str | None, tokens: Iterable[str]) -> None:
    """Accept when the URL's token is one of the configured tokens (as bytes: compare_digest
    refuses a str that is not ASCII)."""
    matched = False
    if token is not None:
        for expected in tokens:
            matched |= hmac.compare_digest(expected.encode(), token.encode())
    if not matched:
        raise Rejected("invalid_token", "the URL token is missing or wrong")


# --- fields ------------------------------------------------------------------------------

def require(mapping: Any, name: str, kind: type | tuple[type, ...] = str,
            prefix: str = "") -> Any:
    """A required field of the right JSON type, or a 400 naming it."""
    label = f"{prefix}{name}"
    if not isinstance(mapping, dict):
        where = prefix.rstrip(".") or "body"
        raise BadPayload("invalid_field", f"{where} must be an object", prefix.rstrip(".") or None)
    if name not in mapping or mapping[name] in (None, ""):
        raise BadPayload("missing_field", f"required field {label!r} is missing", label)
    value = mapping[name]
    if kind is str and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise BadPayload("invalid_field", f"field {label!r} has the wrong type", label)
    return value


def storable(value: str | None, field: str, limit: int = 200) -> str | None:
    """A value bound for a string column (ids: 200): longer, or holding a NUL that
    PostgreSQL refuses, is the caller's 400 here rather than a 503 at insert."""
    if value is not None and (len(value) > limit or "\x00" in value):
        raise BadPayload("invalid_field", f"field {field!r} is longer than {limit} "
                         "characters or holds a NUL", field)
    return value


def optional(mapping: Any, name: str) -> Any:
    if not isinstance(mapping, dict):
        return None
    value = mapping.get(name)
    return None if value == "" else value


def optional_str(mapping: Any, name: str) -> str | None:
    value = optional(mapping, name)
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    return str(value)


def e164(number: Any, region: Any = None) -> str | None:
    """A phone number in E.164, or the value as given when it cannot be made one for sure.

    `region` is the ISO country the number was written in, when the provider says (Phonify's
    `country`). Without it, only `+...` and digits not starting with 0 (international
    without the `+`, as Boomware and Transmit SMS send them) are read; a leading 0 is a
    national trunk or international prefix whose meaning depends on the country, so
    `0400000000` stays `0400000000` rather than becoming someone else's number.
    """
    if number is None or number == "":
        return None
    return _e164(str(number).strip(), region.upper() if isinstance(region, str) else None)


# Parsing costs ~90 us a number, and the same few numbers (senders, long codes, customers)
# come back all day: cached, it is a dict lookup on the hot path.
@lru_cache(maxsize=65536)
def _e164(text: str, region: str | None) -> str:
    if region and not text.startswith("+"):
        national = _parsed(text, region)
        if national is not None and phonenumbers.is_valid_number(national):
            return phonenumbers.format_number(national, phonenumbers.PhoneNumberFormat.E164)
    if text.startswith("+"):
        parsed = _parsed(text, None)
    elif text.isascii() and text.isdigit() and not text.startswith("0"):
        parsed = _parsed("+" + text, None)
    else:
        return text
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        return text
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _parsed(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def iso_time(value: Any, field: str, expected: str = "an ISO 8601 time") -> datetime:
    if not isinstance(value, str):
        raise BadPayload("invalid_field", f"field {field!r} must be {expected}", field)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadPayload("invalid_field", f"field {field!r} is not {expected}",
                         field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # valid ISO, but its UTC form falls outside years 1..9999
        raise BadPayload("invalid_field", f"field {field!r} is out of range", field) from None


# 10**11 seconds is the year 5138 and 10**11 milliseconds is March 1973: no message time is
# both, so where a provider does not say which unit it uses, the size tells.
MILLISECONDS_ABOVE = 10**11
# More digits than any datetime holds. Checked before int(), which raises ValueError past
# 4,300 digits.
MAX_TIME_DIGITS = 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _digits(value: Any) -> bool:
    # ASCII only: str.isdigit() is also true of "²", which int() cannot read.
    return isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()


def unix_time(value: Any, field: str, *, milliseconds: bool = False) -> datetime:
    """Unix seconds, a JSON number or a string of digits. With `milliseconds` (for a provider
    that does not say which), a value above MILLISECONDS_ABOVE is Unix milliseconds."""
    expected = "Unix seconds or milliseconds" if milliseconds else "Unix seconds"
    if _digits(value):
        if len(value.strip()) > MAX_TIME_DIGITS:
            raise BadPayload("invalid_field", f"field {field!r} is out of range", field)
        value = int(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise BadPayload("invalid_field", f"field {field!r} must be {expected}", field)
    try:
        if milliseconds and value > MILLISECONDS_ABOVE:
            # timedelta keeps an integer's milliseconds exact; a float division may not.
            return EPOCH + timedelta(milliseconds=value)
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadPayload("invalid_field", f"field {field!r} is out of range", field) from None


def iso_or_unix_time(value: Any, field: str) -> datetime:
    """A time typed only "timestamp" (Phonify's `created_at`): ISO 8601, or Unix seconds or
    milliseconds (unix_time's rule) as a number or a string of digits. A string of digits is
    always Unix time, so ISO 8601's basic date `20240115` is not read as a date."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) or _digits(value):
        return unix_time(value, field, milliseconds=True)
    return iso_time(value, field, "an ISO 8601 time, or Unix seconds or milliseconds")


def map_status(table: Mapping[str, str], vendor_status: str | None) -> str:
    """The vendor's value through its table; anything unmapped is "unknown", never an error."""
    if vendor_status is None:
        return "unknown"
    status = table.get(str(vendor_status).lower(), "unknown")
    assert status in STATUS_RANK, status
    return status


# What one of a provider's failure codes or statuses means: data.reason, and data.permanent
# (True: resending to that number cannot succeed; False: it may; None: the provider does not
# say).
Reason = tuple[str, bool | None]
UNKNOWN: Reason = ("unknown", None)
OPTED_OUT: Reason = ("opted_out", True)


def reason_map(table: Mapping[str, Reason]) -> dict[str, Reason]:
    """A provider's reason table, keyed case-insensitively as map_status reads statuses."""
    for reason, permanent in table.values():
        assert reason in REASONS and permanent in (True, False, None), (reason, permanent)
    return {str(key).lower(): value for key, value in table.items()}


def explain(table: Mapping[str, Reason], status: str | None, *keys: Any) -> dict[str, Any]:
    """data.reason and data.permanent of a receipt: for a failure status, the first of `keys`
    (the provider's error code, then its own status) that its table knows, else unknown; for
    any other status, null. The original values stay in error_code and vendor_status."""
    if status not in FAILURE_STATUSES:
        return {"reason": None, "permanent": None}
    for key in keys:
        if key is not None and str(key).lower() in table:
            reason, permanent = table[str(key).lower()]
            return {"reason": reason, "permanent": permanent}
    return {"reason": UNKNOWN[0], "permanent": UNKNOWN[1]}


def opted_out() -> dict[str, Any]:
    """An opt-out reply: the number has said STOP, so nothing more may be sent to it."""
    return {"reason": OPTED_OUT[0], "permanent": OPTED_OUT[1]}


@lru_cache(maxsize=65536)
def country_of(number: str | None) -> str | None:
    """ISO 3166 alpha-2 of an E.164 number, by its numbering plan; None when no one country
    has it (not E.164, a non-geographic code, or a shared code the number is not valid in)."""
    if not number or not number.startswith("+"):
        return None
    parsed = _parsed(number, None)
    if parsed is None:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return region if region and region.isalpha() and len(region) == 2 else None


def hashed_key(vendor: str, *parts: Any) -> str:
    """Dedup key for providers without an event id: a hash of what makes a receipt unique."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"{vendor}:h:{digest[:40]}"


def event(vendor: str, type_: str, dedup_key: str, occurred_at: datetime | None,
          raw: Any, vendor_event_id: str | None = None, **data: Any) -> NormalizedEvent:
    """An event; data.country is the other party's (the sender's of an inbound message, the
    recipient's otherwise), and a reason only ever rides on a failure or an opt-out."""
    other = data.get("from") if data.get("direction") == "inbound" else data.get("to")
    data.setdefault("country", country_of(other if isinstance(other, str) else None))
    if data.get("status") not in FAILURE_STATUSES and type_ != OPTED_OUT_TYPE:
        data["reason"] = data["permanent"] = None
    return NormalizedEvent(type=type_, vendor=vendor, dedup_key=dedup_key,
                           occurred_at=occurred_at, data=data, raw=raw,
                           vendor_event_id=vendor_event_id)


class Vendor:
    """One provider: how its callbacks prove themselves and what they mean.

    A vendor module never touches the database: verify() raises Rejected or returns,
    parse() returns events or raises BadPayload. Ingest does the rest.
    """

    name: str = ""
    methods: tuple[str, ...] = ("POST",)
    uses_token: bool = False
    # Headers parse() needs later (re-normalisation reads them from the stored receipt).
    kept_headers: tuple[str, ...] = ()

    def verify(self, inbound: Inbound, secrets: tuple[str, ...], settings: Any,
               now: datetime, token: str | None = None) -> None:
        if self.uses_token:
            check_token(token, secrets)

    def parse(self, inbound: Inbound, settings: Any) -> list[NormalizedEvent]:
        """`settings` as verify() gets them: what a callback means may depend on our own
        configuration (Phonify's direction on our numbers), and re-normalising a stored
        receipt must read it the same way the request did."""
        raise NotImplementedError

    def sample(self, type_: str | None, secrets: tuple[str, ...], now: datetime) -> SampleRequest:
        """A realistic callback, proven as the provider would: what `simulate` sends."""
        raise NotImplementedError


class SampleRequest:
    def __init__(self, method: str, path: str, body: bytes = b"",
                 headers: Mapping[str, str] | None = None, query_string: str = "") -> None:
        self.method, self.path, self.body = method, path, body
        self.headers = dict(headers or {})
        self.query_string = query_string
