"""Which vendor modules exist: every module in this package with a module-level `vendor`.

Adding a provider is adding its module; nothing here changes. `base` and this module hold
no `vendor` and are passed over.
"""

from __future__ import annotations

import importlib
import pkgutil

import switchboard.vendors as package
from switchboard.vendors.base import Vendor


def _discover() -> dict[str, Vendor]:
    found: dict[str, Vendor] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        vendor = getattr(module, "vendor", None)
        if isinstance(vendor, Vendor):
            if vendor.name != info.name:
                raise RuntimeError(f"switchboard/vendors/{info.name}.py names its vendor "
                                   f"{vendor.name!r}: the module and the vendor share a name")
            found[vendor.name] = vendor
    return found


VENDORS: dict[str, Vendor] = _discover()


def get(name: str) -> Vendor | None:
    return VENDORS.get(name)
