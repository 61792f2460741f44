"""Demo data for the emulator.

Owns the IDs of the demo seed (importable by tests and benchmarks), the seeds' names and
descriptions, and the list of Local Storage regions the emulator accepts.
"""

from __future__ import annotations

from typing import Any

from .record import DEFAULT_WABA_ID as DEMO_WABA_ID
from .record import DEFAULT_ONBOARDED_AT, NumberRecord

__all__ = ["APP_SECRET_ENV", "COEXISTENCE", "DEFAULT_TOKEN", "DEMO_IDS", "DEMO_PIN", "DEMO_WABA_ID",
           "NOT_VERIFIED", "NO_STORAGE", "REGIONS", "REGISTERED_BR", "REGISTERED_DEFAULT", "SEEDS",
           "SEED_HELP", "UNREGISTERED", "default_storage", "demo_numbers", "numbers_for_seed"]

DEMO_PIN = "123456"
DEFAULT_TOKEN = "local-dev-token"
APP_SECRET_ENV = "EMULATOR_APP_SECRET"  # read by `python -m emulator` when --app-secret is not given

REGISTERED_DEFAULT = "106540352242922"  # registered, DEFAULT storage, has a `calling` setting
REGISTERED_BR = "106540352242923"       # registered, IN_COUNTRY_STORAGE_ENABLED in BR
UNREGISTERED = "106540352242924"        # not registered, VERIFIED, DEFAULT, no PIN
NOT_VERIFIED = "106540352242925"        # not registered, NOT_VERIFIED, DEFAULT, no PIN
COEXISTENCE = "106540352242926"         # registered, shared with the WhatsApp Business app
NO_STORAGE = "106540352242927"          # registered, NO_STORAGE_ENABLED (60 minutes)

DEMO_IDS = (REGISTERED_DEFAULT, REGISTERED_BR, UNREGISTERED, NOT_VERIFIED, COEXISTENCE, NO_STORAGE)
DAY = 24 * 3600.0

REGIONS = ("IN", "SG", "ID", "KR", "JP", "AU", "BR", "ZA", "BH", "AE", "DE", "GB", "CH", "CA")

SEEDS = ("demo", "none", "empty")
SEED_HELP = {
    "demo": f"six numbers in business account {DEMO_WABA_ID}: registered, in-country BR, "
            "unregistered, not verified, coexistence, no storage",
    "none": "no numbers; add them with POST /_emulator/numbers",
    "empty": "the same as none",
}


def default_storage() -> dict[str, Any]:
    return {"status": "DEFAULT"}


def demo_numbers() -> list[NumberRecord]:
    def num(id_: str, display: str, name: str, **kw: Any) -> NumberRecord:
        # One day apart in ID order (choice): a listing, newest first, answers them in reverse.
        when = DEFAULT_ONBOARDED_AT + DAY * DEMO_IDS.index(id_)
        return NumberRecord.from_dict({"id": id_, "display_phone_number": display,
                                       "verified_name": name, "pin": DEMO_PIN,
                                       "created_at": when, "onboarded_at": when, **kw})

    unregistered = {"platform_type": "NOT_APPLICABLE"}
    return [
        num(REGISTERED_DEFAULT, "+1 555-0100", "Acme Support",
            settings={"storage_configuration": default_storage(), "calling": {"status": "ENABLED"}},
            business_profile={"about": "Acme customer support", "vertical": "RETAIL",
                              "email": "support@example.com", "websites": ["https://example.com/"]}),
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


def numbers_for_seed(seed: str | None) -> list[NumberRecord]:
    if seed in (None, "", "none", "empty"):
        return []
    if seed == "demo":
        return demo_numbers()
    raise ValueError(f"unknown seed {seed!r} (known: demo, none)")
