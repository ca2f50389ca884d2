"""Signed callbacks for tests, built from the provider samples with the production signers."""

from __future__ import annotations

import json
from pathlib import Path

from switchboard.vendors import canary, honkio

SAMPLES = Path(__file__).parent / "samples"


def sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> dict:
    return json.loads(sample_bytes(name))


def honkio_headers(body: bytes, secret: str, timestamp: int, event: str | None = None) -> dict:
    if event is None:
        try:
            event = json.loads(body)["type"]
        except (ValueError, KeyError, TypeError):
            event = "message.delivered"
    return {
        "Content-Type": "application/json",
        honkio.SIGNATURE: honkio.sign(secret, str(timestamp), body),
        honkio.TIMESTAMP: str(timestamp),
        honkio.EVENT: event,
    }


def canary_headers(body: bytes, secret: str) -> dict:
    return {"Content-Type": "application/json", canary.SIGNATURE: canary.sign(secret, body)}
