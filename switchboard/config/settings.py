"""The settings table of README (Settings) as one frozen dataclass, and its parser. Each registered
vendor's secrets or URL tokens come from its own variable, named after the vendor
(vendor_variable), so a new provider module needs no line here."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import phonenumbers
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from switchboard.vendors.base import Vendor
from switchboard.vendors.registry import VENDORS

PREFIX = "SWITCHBOARD_"
# A URL token or the admin token is the whole proof a caller gives: short enough to guess or
# to read off a log line at a glance is not proof.
MIN_TOKEN_LENGTH = 12
HOW_TO_MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
# The drivers we ship: any other scheme would fail later, deep in create_engine.
DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")


class ConfigError(ValueError):
    """A setting that cannot be used; its message is one line naming the variable."""


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a positive integer")
    return number


def _non_negative_float(value: str) -> float:
    number = float(value)
    if number < 0 or not math.isfinite(number):
        raise ValueError("must be a non-negative number")
    return number


def _positive_float(value: str) -> float:
    number = _non_negative_float(value)
    if number == 0:
        raise ValueError("must be a positive number")
    return number


def _optional_str(value: str) -> str | None:
    """Set but empty is the same as unset (an empty ADMIN_TOKEN must not open the API)."""
    return value.strip() or None


def _schedule(value: str) -> tuple[float, ...]:
    steps = tuple(_non_negative_float(part) for part in _csv(value))
    if not steps:
        raise ValueError("needs at least one step")
    return steps


def _database_url(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    # psycopg 3 is the driver we ship; a bare postgresql:// would pick psycopg2.
    for bare in ("postgresql://", "postgres://"):
        if value.startswith(bare):
            return "postgresql+psycopg://" + value[len(bare):]
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise ValueError("is not a URL; use sqlite:///path or postgresql+psycopg://...") from None
    if url.drivername not in DRIVERS:
        raise ValueError(f"driver {url.drivername!r} is not supported; "
                         "use sqlite:///path or postgresql+psycopg://...")
    if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
        # The engine creates the file's folder; a file in the way would be a traceback there.
        blocker = next((p for p in Path(url.database).parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise ValueError(f"{str(blocker)!r} is a file, not a folder")
    return value


def _shown_url(value: str) -> str:
    """A database URL for an error message: never its password."""
    try:
        return repr(make_url(value.strip()).render_as_string(hide_password=True))
    except (ArgumentError, ValueError):
        return "<hidden>"


def _modules(value: str) -> tuple[str, ...]:
    return _csv(value)


def _phone_numbers(value: str) -> tuple[str, ...]:
    """Numbers in E.164, the form vendor modules give `to`, so a membership test is exact.

    Each needs its country code (`+34 911 00 00 00`, `tel:+34-911-000-000`): without one,
    `911000000` would be a different number in every country. Only the length is checked
    (is_possible_number), not the numbering plan, so a range that is new or reserved for
    tests (+44 7700 900xxx) is not refused by a stale copy of the plan.
    """
    numbers = []
    for part in _csv(value):
        try:
            parsed = phonenumbers.parse(part, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or parsed.extension or not phonenumbers.is_possible_number(parsed):
            raise ValueError(f"{part!r} is not a phone number with its country code "
                             "(e.g. +34911000000)")
        numbers.append(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    return tuple(dict.fromkeys(numbers))


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default="sqlite:///var/switchboard.db",
                              metadata={"parse": _database_url, "show": _shown_url})
    # Vendor name -> its signing secrets or URL tokens, from vendor_variable(vendor); a
    # vendor without any is not accepted (404).
    vendor_secrets: dict[str, tuple[str, ...]] = field(default_factory=dict,
                                                       metadata={"secret": True})
    signature_tolerance: int = field(default=300, metadata={"parse": _positive_int})
    canary_max_age: int = field(default=259200, metadata={"parse": _positive_int})
    max_content_length: int = field(default=262144, metadata={"parse": _positive_int})
    max_events_per_callback: int = field(default=1000, metadata={"parse": _positive_int})
    admin_token: str | None = field(default=None, metadata={"parse": _optional_str,
                                                             "secret": True, "token": True})
    handler_modules: tuple[str, ...] = field(default=(), metadata={"parse": _modules})
    retry_schedule: tuple[float, ...] = field(
        default=(0, 5, 300, 1800, 7200, 18000, 36000, 36000), metadata={"parse": _schedule})
    delivery_timeout: float = field(default=15.0, metadata={"parse": _positive_float})
    disable_after: int = field(default=432000, metadata={"parse": _positive_int})
    allow_private_urls: bool = field(default=False, metadata={"parse": _bool})
    phonify_api_url: str | None = field(default=None, metadata={"parse": _optional_str})
    phonify_api_key: str | None = field(default=None, metadata={"parse": _optional_str,
                                                                 "secret": True})
    phonify_poll_interval: float = field(default=30.0, metadata={"parse": _positive_float})
    phonify_numbers: tuple[str, ...] = field(default=(), metadata={"parse": _phone_numbers})
    log_pii: bool = field(default=False, metadata={"parse": _bool})
    # Seconds after a message's latest receipt, while it is not terminal, before a worker makes
    # its message.receipt_overdue (worker/overdue.py); 0 turns the check off.
    receipt_timeout: float = field(default=86400.0, metadata={"parse": _non_negative_float})

    def secrets_for(self, vendor: str) -> tuple[str, ...]:
        """The secrets or URL tokens configured for a vendor; empty means not accepted."""
        return self.vendor_secrets.get(vendor, ())


def vendor_variable(vendor: Vendor) -> str:
    """Where a vendor's proof is set, comma-separated for rotation (README's Settings names them):
    SWITCHBOARD_<NAME>_TOKENS when it takes a URL token, else SWITCHBOARD_<NAME>_SECRETS."""
    return f"{PREFIX}{vendor.name.upper()}_{'TOKENS' if vendor.uses_token else 'SECRETS'}"


def read_vendor_secrets(environ: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Every registered vendor's variable that holds something; this parse never fails."""
    found = {name: _csv(environ.get(vendor_variable(vendor), ""))
             for name, vendor in VENDORS.items()}
    return {name: values for name, values in found.items() if values}


def load_settings(environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, object] | None = None) -> Settings:
    """Read every SWITCHBOARD_* setting; raise ConfigError naming the first bad one."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {"vendor_secrets": read_vendor_secrets(environ)}
    for spec in fields(Settings):
        if "parse" not in spec.metadata:  # vendor_secrets: one variable per vendor, above
            continue
        name = PREFIX + spec.name.upper()
        raw = environ.get(name)
        if raw is None:
            continue
        try:
            values[spec.name] = spec.metadata["parse"](raw)
        except ValueError as exc:
            shown = ("<hidden>" if spec.metadata.get("secret")
                     else spec.metadata.get("show", repr)(raw))
            raise ConfigError(f"{name}={shown} is not valid: {exc}") from None
    for key, value in (overrides or {}).items():
        if key not in {spec.name for spec in fields(Settings)}:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = value
    settings = Settings(**values)
    _check_vendors(settings)
    _check_tokens(settings)
    _check_together(settings)
    return settings


def _check_vendors(settings: Settings) -> None:
    """A name in vendor_secrets (overrides) that no module registers would be read by no one."""
    unknown = sorted(set(settings.vendor_secrets) - set(VENDORS))
    if unknown:
        raise ConfigError(f"unknown vendor {unknown[0]!r} in vendor_secrets; registered: "
                          + ", ".join(sorted(VENDORS)))
    for name, values in settings.vendor_secrets.items():
        # A bare string would be taken one character at a time: each letter a key.
        if not isinstance(values, tuple) or not all(isinstance(v, str) and v for v in values):
            raise ConfigError(f"vendor_secrets[{name!r}] must be a tuple of non-empty strings")


def _check_tokens(settings: Settings) -> None:
    """On the whole Settings, not in a parser: overrides skip the parsers."""
    given: dict[str, tuple[str, ...]] = {}
    for spec in fields(Settings):
        value = getattr(settings, spec.name)
        if spec.metadata.get("token") and value:
            given[PREFIX + spec.name.upper()] = value if isinstance(value, tuple) else (value,)
    for name, tokens in settings.vendor_secrets.items():
        if VENDORS[name].uses_token:
            given[vendor_variable(VENDORS[name])] = tokens
    for variable, tokens in given.items():
        if any(len(token) < MIN_TOKEN_LENGTH for token in tokens):
            raise ConfigError(f"{variable}=<hidden> is not valid: every token must be at least "
                              f"{MIN_TOKEN_LENGTH} characters; make one with {HOW_TO_MAKE_ONE}")


def _check_together(settings: Settings) -> None:
    """Settings that only make sense with another one."""
    if settings.phonify_api_url and not settings.phonify_api_key:
        # Otherwise the worker would quietly never poll: Phonify wants the key as Basic auth.
        raise ConfigError(f"{PREFIX}PHONIFY_API_URL is set without {PREFIX}PHONIFY_API_KEY: "
                          "Phonify cannot be polled without its API key")
