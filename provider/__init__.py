"""whatsapp-local-storage: declare where WhatsApp Cloud API numbers keep message content at rest.

``from provider import PhoneNumberStorage, PhoneNumberStorageArgs`` gives the Pulumi resource.
Those names are loaded lazily, so the CLI and the pure modules (planner, client) never import
Pulumi.
"""

from __future__ import annotations

import importlib
from typing import Any

# The project's version, in one place: `python -m provider --version` and the CLI's JSON say it.
__version__ = "0.3.0"

__all__ = ["PhoneNumberStorage", "PhoneNumberStorageArgs", "PhoneNumberStorageProvider"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        # By name, not `from . import resource`: a type check of a pure module that imports this
        # package (the emulator imports provider.versions) must not pull in the Pulumi adapter.
        resource = importlib.import_module(f"{__name__}.resource")
        return getattr(resource, name)
    raise AttributeError(f"module 'provider' has no attribute {name!r}")
