"""Settings: DESIGN.md's defaults, one clear line for every bad value, secrets never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from switchboard.config import ConfigError, Settings, load_settings
from switchboard.config.settings import PREFIX, vendor_variable
from switchboard.vendors.registry import VENDORS

# DESIGN.md's settings table as written there: variable (without the prefix) -> default.
# None is "unset".
DESIGN_DEFAULTS = {
    "DATABASE_URL": "sqlite:///var/switchboard.db",
    "HONKIO_SECRETS": None,
    "CANARY_SECRETS": None,
    "BOOMWARE_TOKENS": None,
    "TRANSMITSMS_TOKENS": None,
    "PHONIFY_TOKENS": None,
    "SIGNATURE_TOLERANCE": "300",
    "CANARY_MAX_AGE": "259200",
    "MAX_CONTENT_LENGTH": "262144",
    "MAX_EVENTS_PER_CALLBACK": "1000",
    "ADMIN_TOKEN": None,
    "HANDLER_MODULES": None,
    "RETRY_SCHEDULE": "0,5,300,1800,7200,18000,36000,36000",
    "DELIVERY_TIMEOUT": "15",
    "DISABLE_AFTER": "432000",
    "ALLOW_PRIVATE_URLS": "false",
    "PHONIFY_API_URL": None,
    "PHONIFY_API_KEY": None,
    "PHONIFY_POLL_INTERVAL": "30",
    "PHONIFY_NUMBERS": None,
    "LOG_PII": "false",  # issue 6: not yet in DESIGN.md's table
    "RECEIPT_TIMEOUT": "86400",
}


def variables() -> list[str]:
    """Every variable Settings reads, without the prefix: one per field, and one per vendor
    for vendor_secrets."""
    return [spec.name.upper() for spec in fields(Settings) if spec.name != "vendor_secrets"] \
        + [vendor_variable(vendor).removeprefix(PREFIX) for vendor in VENDORS.values()]


def test_every_setting_is_in_the_design():
    assert sorted(variables()) == sorted(DESIGN_DEFAULTS)


def test_defaults_are_the_design_table():
    defaults = load_settings(environ={})
    assert defaults == Settings()
    documented = {f"SWITCHBOARD_{name}": value for name, value in DESIGN_DEFAULTS.items()
                  if value is not None}
    # Setting every variable to its documented default changes nothing.
    assert load_settings(environ=documented) == defaults
    assert defaults.retry_schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert (defaults.signature_tolerance, defaults.canary_max_age) == (300, 259200)
    assert (defaults.max_content_length, defaults.disable_after) == (262144, 432000)
    assert (defaults.delivery_timeout, defaults.phonify_poll_interval) == (15, 30)
    assert defaults.allow_private_urls is False
    assert defaults.vendor_secrets == {}  # every provider off until given its proof
    plain = {spec.name.upper() for spec in fields(Settings)}
    for name, value in DESIGN_DEFAULTS.items():
        if value is None and name in plain:
            assert getattr(defaults, name.lower()) in (None, ()), name


def test_values_are_read_from_the_environment():
    settings = load_settings(environ={
        "SWITCHBOARD_DATABASE_URL": "postgres://u:pw@127.0.0.1:5432/sb",
        "SWITCHBOARD_HONKIO_SECRETS": " whk_old , whk_new ,",
        "SWITCHBOARD_SIGNATURE_TOLERANCE": " 60 ",
        "SWITCHBOARD_ALLOW_PRIVATE_URLS": "Yes",
        "SWITCHBOARD_RETRY_SCHEDULE": "0, 1.5",
        "SWITCHBOARD_ADMIN_TOKEN": "  ",
    })
    # psycopg 3 is the driver we ship, whatever spelling of PostgreSQL is given.
    assert settings.database_url == "postgresql+psycopg://u:pw@127.0.0.1:5432/sb"
    assert settings.vendor_secrets == {"honkio": ("whk_old", "whk_new")}
    assert settings.secrets_for("honkio") == ("whk_old", "whk_new")
    assert settings.secrets_for("canary") == ()
    assert settings.signature_tolerance == 60
    assert settings.allow_private_urls is True
    assert settings.retry_schedule == (0, 1.5)
    # Set but blank is unset: an empty admin token must not become a valid bearer token.
    assert settings.admin_token is None


BAD = [
    ("SIGNATURE_TOLERANCE", "abc"),
    ("SIGNATURE_TOLERANCE", "1.5"),
    ("SIGNATURE_TOLERANCE", ""),
    ("CANARY_MAX_AGE", "-5"),
    ("CANARY_MAX_AGE", "0"),
    ("MAX_CONTENT_LENGTH", "256k"),
    ("DISABLE_AFTER", "-1"),
    ("ALLOW_PRIVATE_URLS", "maybe"),
    ("RETRY_SCHEDULE", ""),
    ("RETRY_SCHEDULE", " , "),
    ("RETRY_SCHEDULE", "0,5,soon"),
    ("RETRY_SCHEDULE", "0,-5"),
    ("RETRY_SCHEDULE", "0,nan"),
    ("RETRY_SCHEDULE", "0,inf"),
    ("DELIVERY_TIMEOUT", "0"),
    ("DELIVERY_TIMEOUT", "inf"),
    ("DELIVERY_TIMEOUT", "fast"),
    ("PHONIFY_POLL_INTERVAL", "-30"),
    ("PHONIFY_NUMBERS", "+34911000000,911000000"),  # no country code: whose 911?
    ("PHONIFY_NUMBERS", "+34911000000,our long code"),
    ("PHONIFY_NUMBERS", "+1 555"),  # too short to be a number
    ("PHONIFY_NUMBERS", "+999123456789"),  # no such country code
    ("PHONIFY_NUMBERS", "+34911000000;ext=2"),  # an extension cannot receive an SMS
    ("DATABASE_URL", ""),
    ("DATABASE_URL", "mysql://root:hunter2@db.internal/sb"),
    ("DATABASE_URL", "postgresql+psycopg2://sb:hunter2@127.0.0.1/sb"),
    ("DATABASE_URL", "postgresql+psycopg://sb:hunter2@127.0.0.1:port/sb"),
    ("DATABASE_URL", "var/switchboard.db"),
    ("DATABASE_URL", "sqlitefoo:///var/x.db"),
    ("DATABASE_URL", f"sqlite:///{__file__}/x.db"),  # a file where its folder would be
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v!r}" for n, v in BAD])
def test_bad_value_is_one_line_naming_the_variable(name, value):
    variable = f"SWITCHBOARD_{name}"
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={variable: value, "SWITCHBOARD_HONKIO_SECRETS": "whk_s3cret"})
    message = str(raised.value)
    assert message.startswith(f"{variable}=")
    assert "\n" not in message
    # Neither a password in the URL nor any configured secret is echoed.
    assert "hunter2" not in message
    assert "whk_s3cret" not in message


WEAK = [
    ("ADMIN_TOKEN", "a"),
    ("ADMIN_TOKEN", "elevenchars"),
    ("BOOMWARE_TOKENS", "b"),
    ("TRANSMITSMS_TOKENS", "t"),
    # one weak token among good ones is enough to refuse: any of them opens the URL
    ("PHONIFY_TOKENS", "ph_good_token_123456, short1"),
]


@pytest.mark.parametrize(("name", "value"), WEAK, ids=[f"{n}={v!r}" for n, v in WEAK])
def test_a_weak_admin_or_url_token_stops_start_up_naming_the_setting(name, value):
    variable = f"SWITCHBOARD_{name}"
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={variable: value})
    message = str(raised.value)
    assert message.startswith(f"{variable}=<hidden>")
    assert "12 characters" in message and "secrets.token_urlsafe" in message
    assert "\n" not in message
    for token in value.split(","):
        if len(token.strip()) > 1:  # one letter is in any sentence
            assert token.strip() not in message
    # the same through overrides, which tests and embedding code use
    if name == "ADMIN_TOKEN":
        override = {"admin_token": value}
    else:
        vendor = name.removesuffix("_TOKENS").lower()
        override = {"vendor_secrets": {vendor: tuple(v.strip() for v in value.split(","))}}
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ={}, overrides=override)


def test_twelve_characters_is_enough_and_hmac_secrets_keep_any_length():
    settings = load_settings(environ={
        "SWITCHBOARD_ADMIN_TOKEN": "x" * 12, "SWITCHBOARD_BOOMWARE_TOKENS": "y" * 12,
        # Providers issue HMAC secrets; we cannot choose their length.
        "SWITCHBOARD_HONKIO_SECRETS": "k", "SWITCHBOARD_CANARY_SECRETS": "c"})
    assert settings.admin_token == "x" * 12
    assert settings.vendor_secrets == {"boomware": ("y" * 12,), "honkio": ("k",),
                                       "canary": ("c",)}


def test_phonify_numbers_are_read_in_any_international_form_as_e164():
    settings = load_settings(environ={"SWITCHBOARD_PHONIFY_NUMBERS":
                                      " +34 911 00 00 00, tel:+44-7700-900000,,+34911000000 "})
    # Duplicates collapse; +44 7700 900xxx is a range reserved for tests, still a number.
    assert settings.phonify_numbers == ("+34911000000", "+447700900000")
    assert load_settings(environ={"SWITCHBOARD_PHONIFY_NUMBERS": ""}).phonify_numbers == ()


def test_phonify_number_error_names_the_number():
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"SWITCHBOARD_PHONIFY_NUMBERS": "+34911000000, 911000000"})
    assert str(raised.value) == (
        "SWITCHBOARD_PHONIFY_NUMBERS='+34911000000, 911000000' is not valid: '911000000' is "
        "not a phone number with its country code (e.g. +34911000000)")


def test_database_url_error_shows_the_url_without_its_password():
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"SWITCHBOARD_DATABASE_URL": "mysql://root:hunter2@db/sb"})
    assert "mysql://root:***@db/sb" in str(raised.value)
    assert "'mysql'" in str(raised.value)


def test_unknown_override_is_refused():
    with pytest.raises(ConfigError, match="unknown setting 'honkio_secret'"):
        load_settings(environ={}, overrides={"honkio_secret": ("x",)})
    with pytest.raises(ConfigError, match="unknown vendor 'honkio_secrets' in vendor_secrets"):
        load_settings(environ={}, overrides={"vendor_secrets": {"honkio_secrets": ("x",)}})


@pytest.mark.parametrize("values", ["whk_a_secret", ("whk_a_secret", ""), ["whk_a_secret"]])
def test_a_vendors_secrets_override_is_a_tuple_of_strings(values):
    """A bare string would be read one character at a time: every letter a valid key."""
    with pytest.raises(ConfigError, match=r"vendor_secrets\['honkio'\] must be a tuple"):
        load_settings(environ={}, overrides={"vendor_secrets": {"honkio": values}})


def test_phonify_api_url_without_its_key_is_one_line():
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"SWITCHBOARD_PHONIFY_API_URL": "http://127.0.0.1:9/api"})
    message = str(raised.value)
    assert message.startswith("SWITCHBOARD_PHONIFY_API_URL is set without "
                              "SWITCHBOARD_PHONIFY_API_KEY")
    assert "\n" not in message
    assert load_settings(environ={"SWITCHBOARD_PHONIFY_API_URL": "http://127.0.0.1:9/api",
                                  "SWITCHBOARD_PHONIFY_API_KEY": "k"}).phonify_api_key == "k"
    # a key alone asks for no polling, so it is no error
    assert load_settings(environ={"SWITCHBOARD_PHONIFY_API_KEY": "k"}).phonify_api_url is None


# --- the console script ------------------------------------------------------------------

SCRIPT = Path(sys.executable).with_name("switchboard")


def run_cli(tmp_path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["SWITCHBOARD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    env.update({f"SWITCHBOARD_{k}": v for k, v in settings.items()})
    return subprocess.run([str(SCRIPT), *args], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)


def test_cli_runs_with_good_settings(tmp_path):
    done = run_cli(tmp_path, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert "database is up to date" in done.stdout


def test_cli_phonify_api_url_without_key_stops_the_worker(tmp_path):
    done = run_cli(tmp_path, "worker", PHONIFY_API_URL="http://127.0.0.1:9/api")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "SWITCHBOARD_PHONIFY_API_KEY" in lines[0]


def test_cli_weak_admin_token_stops_start_up_in_one_line(tmp_path):
    done = run_cli(tmp_path, "db", "upgrade", ADMIN_TOKEN="a")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "SWITCHBOARD_ADMIN_TOKEN" in lines[0] and "12 characters" in lines[0]
    assert not (tmp_path / "cli.db").exists()


@pytest.mark.parametrize(("args", "name", "value"), [
    (("db", "upgrade"), "SIGNATURE_TOLERANCE", "abc"),
    (("db", "upgrade"), "DATABASE_URL", "postgresql+psycopg2://sb:hunter2@127.0.0.1/sb"),
    (("db", "upgrade"), "DATABASE_URL", "postgresql+psycopg://sb:hunter2@127.0.0.1:port/sb"),
    (("db", "upgrade"), "DATABASE_URL", f"sqlite:///{__file__}/x.db"),
    (("simulate", "canary"), "RETRY_SCHEDULE", ""),
    (("serve",), "ALLOW_PRIVATE_URLS", "maybe"),
    (("worker",), "PHONIFY_NUMBERS", "+34911000000,911000000"),
], ids=["db-upgrade-int", "db-upgrade-driver", "db-upgrade-port", "db-upgrade-sqlite-path",
        "simulate", "serve", "worker-phonify-numbers"])
def test_cli_bad_setting_is_one_line_without_traceback(tmp_path, args, name, value):
    done = run_cli(tmp_path, *args, **{name: value})
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"SWITCHBOARD_{name}" in lines[0]
    assert "hunter2" not in done.stderr
    assert not (tmp_path / "cli.db").exists()
