"""JSON log lines: one object per line, with secrets scrubbed and PII masked.

Callers pass structured fields as `extra={"fields": {...}}`. Every line, gunicorn's own
included, goes through one `Masking`: the token segment of `/webhooks/<vendor>/<token>` and
any query string are masked by their shape, then every configured secret and token is
removed wherever it appears, whatever its length; the values of phone and text fields, and
E.164 numbers in free text, are masked unless SWITCHBOARD_LOG_PII=true.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from switchboard.config import Settings
from switchboard.config.settings import PREFIX, read_vendor_secrets

# Field names whose values are personal: phone numbers and message text.
PII_FIELDS = frozenset({"from", "to", "phone", "mobile", "number", "msisdn", "text", "body",
                        "response"})
E164 = re.compile(r"\+\d{7,15}")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
MASK = "***"
# The token segment and everything after it up to whitespace or the query (masked on its
# own): a request line may carry quotes inside its path, and a token is masked whole
# whatever it holds. "%2F" too: gunicorn decodes it in the path Flask routes, but logs the
# request line as sent.
WEBHOOK_TOKEN = re.compile(r"(/webhooks(?:/|%2f)(?:(?!%2f)[^/\s?])+(?:/|%2f))[^\s?]+", re.I)
# After anything but whitespace, so "a question? Yes" in free text is left alone.
QUERY = re.compile(r"(?<=\S)\?\S+")


class Masking:
    """The one masking every log line goes through (see the module's docstring).

    It masks text, never the JSON around it: a line's strings are masked before they are
    encoded, so a secret of any length (HMAC secrets have no minimum) is removed without
    touching a key, a number or a quote, and the line stays one JSON object. Secrets are
    removed after the structural masks, so the usual leak, a token in a URL, reads as a
    clean `***` segment; a short secret is then also removed from unrelated words, the
    price of never writing it."""

    def __init__(self, secrets: Iterable[str] = (), log_pii: bool = False) -> None:
        # Longest first, so a secret containing another is removed whole.
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
        self.log_pii = log_pii

    def __call__(self, text: str) -> str:
        if "/" in text:
            text = WEBHOOK_TOKEN.sub(r"\1" + MASK, text)
        if "?" in text:
            text = QUERY.sub("?" + MASK, text)
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        if not self.log_pii and "+" in text:
            text = E164.sub(lambda m: mask_value(m.group()), text)
        return text

    def strings(self, value: Any) -> Any:
        """Every string in a structure masked (dict keys are ours and stay as they are);
        anything else becomes the text JSON would write for it (default=str) first."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.strings(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.strings(v) for v in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return self(str(value))


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """Every value of a setting marked secret, split into its comma-separated parts (each
    vendor's, for vendor_secrets)."""
    values: list[str] = []
    for spec in fields(Settings):
        if spec.metadata.get("secret"):
            value = getattr(settings, spec.name)
            if isinstance(value, dict):
                values.extend(part for parts in value.values() for part in parts)
            else:
                values.extend(value if isinstance(value, tuple) else [value] if value else [])
    return tuple(values)


_process_masking: Masking | None = None


def process_masking() -> Masking:
    """The masking of the settings install() was last given; before any, of the secrets in
    the environment, for gunicorn's master, which never builds the app (bad settings
    elsewhere do not stop its lines from being masked)."""
    global _process_masking
    if _process_masking is None:
        values: dict[str, Any] = {"vendor_secrets": read_vendor_secrets(os.environ)}
        for spec in fields(Settings):
            raw = os.environ.get(PREFIX + spec.name.upper())
            if spec.metadata.get("secret") and "parse" in spec.metadata and raw is not None:
                values[spec.name] = spec.metadata["parse"](raw)  # these parsers never raise
        _process_masking = Masking(secrets_of(Settings(**values)))
    return _process_masking


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
    return WEBHOOK_TOKEN.sub(r"\1" + MASK, path)


def request_id(incoming: str | None) -> str:
    """The caller's X-Request-ID when it is a plain token of sane length, else a new one."""
    if incoming and REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """Without `secrets`, the process's masking (process_masking()): gunicorn builds this
    formatter from its logconfig_dict, before and apart from any settings."""

    def __init__(self, secrets: Iterable[str] | None = None, log_pii: bool = False) -> None:
        super().__init__()
        self.masking = None if secrets is None else Masking(secrets, log_pii)

    def format(self, record: logging.LogRecord) -> str:
        masking = self.masking or process_masking()
        # The frame is ours and is never masked: a short secret must not cost a line its
        # time, level or logger, nor a parser its keys.
        frame = json.dumps({
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }, ensure_ascii=False, separators=(", ", ": "))
        entry: dict[str, Any] = {"msg": record.getMessage()}  # msg % args: both masked
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields if masking.log_pii else mask_fields(fields))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        content = json.dumps(masking.strings(entry), ensure_ascii=False,
                             separators=(", ", ": "))
        return frame[:-1] + ", " + content[1:]


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
    global _process_masking
    _process_masking = Masking(secrets_of(settings), settings.log_pii)
    handler.setFormatter(JsonFormatter())  # and so every other JsonFormatter of the process
    root.setLevel(level)
    # Alembic narrates every context it opens (readiness checks open one per probe); its
    # warnings still show, and `db upgrade` turns its migration lines back on.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
