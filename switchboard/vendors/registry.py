"""Which vendor modules exist. Adding a provider is one module and one line here."""

from __future__ import annotations

from switchboard.vendors import boomware, canary, honkio, phonify, transmitsms
from switchboard.vendors.base import Vendor

VENDORS: dict[str, Vendor] = {
    module.vendor.name: module.vendor
    for module in (honkio, canary, boomware, transmitsms, phonify)
}


def get(name: str) -> Vendor | None:
    return VENDORS.get(name)
