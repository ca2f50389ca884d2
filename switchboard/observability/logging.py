"""JSON log lines: one object per line, with secrets scrubbed and PII masked.

Callers pass structured fields as `extra={"fields": {...}}`. Whatever a line holds, the
formatter removes every configured secret and token before it is written, masks the values
of phone and text fields, and masks E.164 numbers in free text, unless
SWITCHBOARD_LOG_PII=true. Request paths carrying URL tokens are masked by `route()`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Any

from switchboard.config import Settings

# Field names whose values are personal: phone numbers and message text.
PII_FIELDS = frozenset({"from", "to", "phone", "mobile", "number", "msisdn", "text", "body",
                        "response"})
E164 = re.compile(r"\+\d{7,15}")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
MASK = "***"


def mask_value(value: Any) -> Any:
    """A phone number keeps its first 3 and last 2 characters; anything else its length."""
    if value is None:
        return None
    text = str(value)
    digits = sum(map(str.isdigit, text))
    if digits >= 7 and digits >= len(text) - 2:
        return text[:3] + "*" * (len(text) - 5) + text[-2:]
    return f"<{len(text)} chars>"


def mask_fields(value: Any, depth: int = 0) -> Any:
    """PII_FIELDS masked wherever they sit, down to 5 levels. Every request's log line
    goes through here, so plain values are passed over without a call."""
    if depth > 4:
        return value
    if isinstance(value, dict):
        masked = {}
        for k, v in value.items():
            if isinstance(v, (dict, list, tuple)):
                v = mask_value(v) if k in PII_FIELDS and isinstance(v, tuple) \
                    else mask_fields(v, depth + 1)
            elif k in PII_FIELDS:
                v = mask_value(v)
            masked[k] = v
        return masked
    if isinstance(value, (list, tuple)):
        return [mask_fields(v, depth + 1) for v in value]
    return value


def route(path: str) -> str:
    """/webhooks/<vendor>/<token> with the token masked; anything past the vendor too."""
    if path.startswith("/webhooks/"):
        parts = path.split("/", 4)  # "", "webhooks", vendor, token, rest
        if len(parts) > 3:
            return "/".join(parts[:3]) + "/" + MASK
    return path


def request_id(incoming: str | None) -> str:
    """The caller's X-Request-ID when it is a plain token of sane length, else a new one."""
    if incoming and REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def secrets_of(settings: Settings) -> tuple[str, ...]:
    values: list[str] = []
    for name in ("honkio_secrets", "canary_secrets", "boomware_tokens", "transmitsms_tokens",
                 "phonify_tokens"):
        values.extend(getattr(settings, name))
    values.extend(v for v in (settings.admin_token, settings.phonify_api_key) if v)
    # Longest first, so a secret containing another is removed whole.
    return tuple(sorted({v for v in values if len(v) >= 4}, key=len, reverse=True))


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = (), log_pii: bool = False) -> None:
        super().__init__()
        self.secrets = tuple(secrets)
        self.log_pii = log_pii

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields if self.log_pii else mask_fields(fields))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        line = json.dumps(entry, default=str, ensure_ascii=False, separators=(", ", ": "))
        for secret in self.secrets:
            if secret in line:
                line = line.replace(secret, MASK)
        if not self.log_pii:
            line = E164.sub(lambda m: mask_value(m.group()), line)
        return line


class _JsonHandler(logging.StreamHandler):
    """Our handler on the root logger, told apart from anyone else's.

    It formats a record before taking the handler's lock, not under it as logging does: the
    worker's 16 delivery threads each log a line per attempt, and formatting (masking,
    JSON) under one lock made them queue for it. JsonFormatter keeps no state between
    records, so formatting needs no lock; the write does."""

    def handle(self, record: logging.LogRecord):
        passed = self.filter(record)
        if isinstance(passed, logging.LogRecord):  # Python 3.12: a filter may replace it
            record = passed
        if not passed:
            return passed
        try:
            line = self.format(record)
            with self.lock:
                self.stream.write(line + self.terminator)
                self.flush()
        except RecursionError:  # as StreamHandler.emit: never swallowed
            raise
        except Exception:  # noqa: BLE001 - as logging does: report it, never raise
            self.handleError(record)
        return passed


def install(settings: Settings, level: int = logging.INFO) -> None:
    """Make every log line of this process a JSON object on the process's stderr (fd 2,
    not a sys.stderr swapped by a test runner or a CLI runner); idempotent: the settings
    of the last app built win."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _JsonHandler)), None)
    if handler is None:
        for old in [h for h in root.handlers if type(h) is logging.StreamHandler]:
            root.removeHandler(old)  # a basicConfig plain-text handler from before
        handler = _JsonHandler(sys.__stderr__ or sys.stderr)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter(secrets_of(settings), settings.log_pii))
    root.setLevel(level)
    # Alembic narrates every context it opens (readiness checks open one per probe); its
    # warnings still show, and `db upgrade` turns its migration lines back on.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
