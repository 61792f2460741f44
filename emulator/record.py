"""The typed record of one emulated phone number, and how a partial record is completed.

`NumberRecord.to_dict()` is the number's JSON form everywhere outside the emulator (the control
API, `Emulator.number()`, the `--state` file); `from_dict()` fills the documented defaults and
rejects keys or types the emulator could not serve.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import re
from typing import Any

# The demo seed's business account; also the default for numbers added without a waba_id.
DEFAULT_WABA_ID = "102290129340398"
# When a number without its own times was created and onboarded (2024-06-03T09:12:44Z): records
# of state files written before the times were kept. The control API stamps new numbers with
# the emulator's clock instead.
DEFAULT_ONBOARDED_AT = 1717405964.0

_STRING_KEYS = ("id", "waba_id", "display_phone_number", "verified_name",
                "code_verification_status", "platform_type", "status")


def _default_settings() -> dict[str, Any]:
    return {"storage_configuration": {"status": "DEFAULT"}}


@dataclasses.dataclass
class NumberRecord:
    id: str
    waba_id: str = DEFAULT_WABA_ID
    display_phone_number: str = ""
    verified_name: str = ""
    code_verification_status: str = "VERIFIED"
    platform_type: str = "CLOUD_API"
    status: str = ""
    is_on_biz_app: bool = False
    pin: str | None = None
    settings: dict[str, Any] = dataclasses.field(default_factory=_default_settings)
    # Emulator-clock epoch seconds of the register/deregister calls in the moving window.
    registration_calls: list[float] = dataclasses.field(default_factory=list)
    blocked_until: float | None = None
    failed_pin_attempts: int = 0
    verification_code: str | None = None
    # The end of a two-step PIN lockout (133008).
    pin_locked_until: float | None = None
    # Meta locked the business account (131031): every call that changes the number is refused.
    account_locked: bool = False
    # The whatsapp_business_profile fields that have a value (see profile.py).
    business_profile: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Emulator-clock epoch seconds: when the number was added to its business account, and when
    # it last completed onboarding (Embedded Signup). Listings sort by them; the node serves the
    # second as `last_onboarded_time`.
    created_at: float = DEFAULT_ONBOARDED_AT
    onboarded_at: float = DEFAULT_ONBOARDED_AT

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> NumberRecord:
        """A record from a partial dict: unknown keys and wrong types raise ValueError.

        Defaults: a random 15-digit id, the demo WABA, VERIFIED, registered (CLOUD_API,
        CONNECTED), not on the Business app, no PIN, DEFAULT storage, no register history.
        An unregistered platform_type without a status gets DISCONNECTED.
        """
        unknown = set(fields) - set(RECORD_KEYS)
        if unknown:
            raise ValueError(f"unknown number field(s): {', '.join(sorted(unknown))}")
        values = copy.deepcopy(dict(fields))
        values["id"] = values.get("id") or "".join(random.choice("0123456789") for _ in range(15))
        if not isinstance(values["id"], str):
            values["id"] = str(values["id"])
        rec = cls(**values)
        if not rec.display_phone_number and "display_phone_number" not in fields:
            rec.display_phone_number = "+1 555-" + rec.id[-4:]
        if not rec.verified_name and "verified_name" not in fields:
            rec.verified_name = "Test Number " + rec.id[-4:]
        if not rec.status and "status" not in fields:
            rec.status = "CONNECTED" if rec.platform_type == "CLOUD_API" else "DISCONNECTED"
        rec.validate()
        return rec

    def to_dict(self) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(self, name)) for name in RECORD_KEYS}

    def copy(self) -> NumberRecord:
        return copy.deepcopy(self)

    def merged(self, fields: dict[str, Any]) -> NumberRecord:
        """A new record with `fields` replacing top-level keys (`settings` wholesale)."""
        if "id" in fields and str(fields["id"]) != self.id:
            raise ValueError("id cannot be changed")
        return NumberRecord.from_dict({**self.to_dict(), **copy.deepcopy(fields)})

    @property
    def registered(self) -> bool:
        return self.platform_type == "CLOUD_API"

    @property
    def storage(self) -> dict[str, Any]:
        return self.settings.get("storage_configuration") or {}

    def validate(self) -> None:
        """Reject records the emulator could not serve (wrong types), with a readable message."""
        for key in _STRING_KEYS:
            if not isinstance(getattr(self, key), str):
                raise ValueError(f"{key} must be a string")
        if not re.fullmatch(r"[0-9]+", self.id):
            raise ValueError("id must be digits only")
        if self.pin is not None and not isinstance(self.pin, str):
            raise ValueError("pin must be a string or null")
        for key in ("is_on_biz_app", "account_locked"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"{key} must be a boolean")
        if not isinstance(self.business_profile, dict):
            raise ValueError("business_profile must be an object")
        if not isinstance(self.settings, dict):
            raise ValueError("settings must be an object")
        if not isinstance(self.registration_calls, list) or not all(
                isinstance(t, (int, float)) and not isinstance(t, bool) for t in self.registration_calls):
            raise ValueError("registration_calls must be a list of epoch seconds")
        for key in ("created_at", "onboarded_at"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"{key} must be epoch seconds")
        for key in ("blocked_until", "pin_locked_until"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                raise ValueError(f"{key} must be epoch seconds or null")
        if not isinstance(self.failed_pin_attempts, int) or isinstance(self.failed_pin_attempts, bool):
            raise ValueError("failed_pin_attempts must be an integer")
        if self.verification_code is not None and not isinstance(self.verification_code, str):
            raise ValueError("verification_code must be a string or null")


RECORD_KEYS = tuple(f.name for f in dataclasses.fields(NumberRecord))
