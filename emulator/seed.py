"""Demo data and number-record defaults for the emulator.

Owns the IDs of the demo seed (importable by tests and benchmarks), the list of Local
Storage regions the emulator accepts, and how a partial number record is completed.
"""

from __future__ import annotations

import copy
import random

DEMO_WABA_ID = "102290129340398"
DEMO_PIN = "123456"
DEFAULT_TOKEN = "local-dev-token"

REGISTERED_DEFAULT = "106540352242922"  # registered, DEFAULT storage, has a `calling` setting
REGISTERED_BR = "106540352242923"       # registered, IN_COUNTRY_STORAGE_ENABLED in BR
UNREGISTERED = "106540352242924"        # not registered, VERIFIED, DEFAULT, no PIN
NOT_VERIFIED = "106540352242925"        # not registered, NOT_VERIFIED, DEFAULT, no PIN
COEXISTENCE = "106540352242926"         # registered, shared with the WhatsApp Business app
NO_STORAGE = "106540352242927"          # registered, NO_STORAGE_ENABLED (60 minutes)

DEMO_IDS = (REGISTERED_DEFAULT, REGISTERED_BR, UNREGISTERED, NOT_VERIFIED, COEXISTENCE, NO_STORAGE)

REGIONS = ("IN", "SG", "ID", "KR", "JP", "AU", "BR", "ZA", "BH", "AE", "DE", "GB", "CH", "CA")

RECORD_KEYS = (
    "id", "waba_id", "display_phone_number", "verified_name", "code_verification_status",
    "platform_type", "status", "is_on_biz_app", "pin", "settings", "registration_calls",
    "blocked_until", "failed_pin_attempts", "verification_code",
    # Not in the brief's key list: the end of a two-step PIN lockout (133008).
    "pin_locked_until",
)

SEEDS = ("demo", "none", "empty")


def default_storage() -> dict:
    return {"status": "DEFAULT"}


def complete_record(fields: dict) -> dict:
    """Fill a partial number record with the documented defaults.

    Defaults: a random 15-digit id, the demo WABA, VERIFIED, registered (CLOUD_API, CONNECTED),
    not on the Business app, no PIN, DEFAULT storage, no register history.
    An unregistered platform_type without a status gets DISCONNECTED.
    """
    unknown = set(fields) - set(RECORD_KEYS)
    if unknown:
        raise ValueError(f"unknown number field(s): {', '.join(sorted(unknown))}")
    rec = copy.deepcopy(fields)
    rec["id"] = str(rec.get("id") or "".join(random.choice("0123456789") for _ in range(15)))
    rec.setdefault("waba_id", DEMO_WABA_ID)
    rec.setdefault("display_phone_number", "+1 555-" + rec["id"][-4:])
    rec.setdefault("verified_name", "Test Number " + rec["id"][-4:])
    rec.setdefault("code_verification_status", "VERIFIED")
    rec.setdefault("platform_type", "CLOUD_API")
    rec.setdefault("status", "CONNECTED" if rec["platform_type"] == "CLOUD_API" else "DISCONNECTED")
    rec.setdefault("is_on_biz_app", False)
    rec.setdefault("pin", None)
    rec.setdefault("settings", {"storage_configuration": default_storage()})
    rec.setdefault("registration_calls", [])
    rec.setdefault("blocked_until", None)
    rec.setdefault("failed_pin_attempts", 0)
    rec.setdefault("verification_code", None)
    rec.setdefault("pin_locked_until", None)
    validate_record(rec)
    return rec


def validate_record(rec: dict) -> None:
    """Reject records the emulator could not serve (wrong types), with a readable message."""
    for key in ("id", "waba_id", "display_phone_number", "verified_name",
                "code_verification_status", "platform_type", "status"):
        if not isinstance(rec.get(key), str):
            raise ValueError(f"{key} must be a string")
    if not rec["id"].isdigit():
        raise ValueError("id must be digits only")
    if rec["pin"] is not None and not isinstance(rec["pin"], str):
        raise ValueError("pin must be a string or null")
    if not isinstance(rec["is_on_biz_app"], bool):
        raise ValueError("is_on_biz_app must be a boolean")
    if not isinstance(rec["settings"], dict):
        raise ValueError("settings must be an object")
    if not isinstance(rec["registration_calls"], list) or not all(
            isinstance(t, (int, float)) for t in rec["registration_calls"]):
        raise ValueError("registration_calls must be a list of epoch seconds")
    for key in ("blocked_until", "pin_locked_until"):
        if rec[key] is not None and not isinstance(rec[key], (int, float)):
            raise ValueError(f"{key} must be epoch seconds or null")
    if not isinstance(rec["failed_pin_attempts"], int):
        raise ValueError("failed_pin_attempts must be an integer")
    if rec["verification_code"] is not None and not isinstance(rec["verification_code"], str):
        raise ValueError("verification_code must be a string or null")


def demo_numbers() -> list[dict]:
    def num(id_, display, name, **kw):
        return complete_record({"id": id_, "display_phone_number": display,
                                "verified_name": name, "pin": DEMO_PIN, **kw})

    unregistered = {"platform_type": "NOT_APPLICABLE"}
    return [
        num(REGISTERED_DEFAULT, "+1 555-0100", "Acme Support",
            settings={"storage_configuration": default_storage(), "calling": {"status": "ENABLED"}}),
        num(REGISTERED_BR, "+55 11 5555-0101", "Acme Brasil",
            settings={"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED",
                                                "data_localization_region": "BR"}}),
        num(UNREGISTERED, "+91 22 5555 0102", "Acme India", pin=None, **unregistered),
        num(NOT_VERIFIED, "+49 30 5555 0103", "Acme Deutschland", pin=None, status="PENDING",
            code_verification_status="NOT_VERIFIED", **unregistered),
        num(COEXISTENCE, "+44 20 5555 0104", "Acme UK (coexistence)", is_on_biz_app=True),
        num(NO_STORAGE, "+65 5555 0105", "Acme Singapore",
            settings={"storage_configuration": {"status": "NO_STORAGE_ENABLED", "retention_minutes": 60}}),
    ]


def numbers_for_seed(seed: str | None) -> list[dict]:
    if seed in (None, "", "none", "empty"):
        return []
    if seed == "demo":
        return demo_numbers()
    raise ValueError(f"unknown seed {seed!r} (known: demo, none)")
