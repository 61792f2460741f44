"""whatsloon 3.1.0 (PyPI), unmodified, against the emulator: every phone-number, registration and
settings method it exposes (it has no business-profile method).

In scope: `business.get_account`, `business.list_phone_numbers`, `business.get_phone_number`,
`business.register_phone`, `business.deregister_phone`, `calls.get_settings` (GET /settings), and
the async client's `business.list_phone_numbers` and `business.get_phone_number`. whatsloon takes
a base URL (`base_url=`), so it is pointed at the emulator the way it documents for tests; it pins
v26.0 as "latest".
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from whatsloon import WhatsApp
from whatsloon.business.models import PhoneNumber
from whatsloon.exceptions import APIError, ConfigurationError

from emulator.harness import Emulator
from emulator.seed import (DEMO_IDS, DEMO_PIN, DEMO_WABA_ID, REGISTERED_BR, REGISTERED_DEFAULT,
                           UNREGISTERED)


@pytest.fixture
def wa(emulator: Emulator) -> Iterator[WhatsApp]:
    client = WhatsApp(access_token=emulator.token, phone_number_id=REGISTERED_DEFAULT, base_url=emulator.url)
    yield client
    client.close()


def test_whatsloon_reads_the_business_account(wa: WhatsApp) -> None:
    assert wa.business.get_account(DEMO_WABA_ID).id == DEMO_WABA_ID


def test_whatsloon_lists_numbers_newest_first_with_their_quality_rating(wa: WhatsApp) -> None:
    numbers = wa.business.list_phone_numbers(DEMO_WABA_ID)
    assert [n.id for n in numbers] == sorted(DEMO_IDS, reverse=True)
    assert all(isinstance(n, PhoneNumber) and n.display_phone_number and n.quality_rating for n in numbers)


def test_whatsloon_reads_a_number_with_the_verification_status_meta_answers_by_default(wa: WhatsApp) -> None:
    number = wa.business.get_phone_number(REGISTERED_DEFAULT)
    assert (number.verified_name, number.quality_rating, number.code_verification_status) == (
        "Acme Support", "GREEN", "VERIFIED")


def test_whatsloon_reads_the_settings_storage_included(wa: WhatsApp) -> None:
    settings = wa.calls.get_settings()
    extra = settings.model_extra or {}
    assert extra["calling"] == {"status": "ENABLED"}
    assert extra["storage_configuration"] == {"status": "DEFAULT"}


def test_whatsloon_registers_and_deregisters(emulator: Emulator, wa: WhatsApp) -> None:
    assert wa.business.register_phone(UNREGISTERED, DEMO_PIN) is True
    assert emulator.number(UNREGISTERED)["platform_type"] == "CLOUD_API"
    assert wa.business.deregister_phone(REGISTERED_BR) is True
    rec = emulator.number(REGISTERED_BR)
    assert rec["platform_type"] == "NOT_APPLICABLE" and rec["settings"]["storage_configuration"] == {"status": "DEFAULT"}
    assert {c["version"] for c in emulator.calls()} == {"v26.0"}


def test_whatsloon_raises_its_typed_error_from_metas_envelope(emulator: Emulator, wa: WhatsApp) -> None:
    with pytest.raises(APIError) as caught:
        wa.business.register_phone(REGISTERED_DEFAULT, "000000")
    assert caught.value.code == 133005 and caught.value.status_code == 400
    # whatsloon turns 133010 into its own ConfigurationError, which it derives from the code
    with pytest.raises(ConfigurationError, match="not registered"):
        wa.business.deregister_phone(UNREGISTERED)
    assert [c["code"] for c in emulator.calls()] == [133005, 133010], "a refused registration is not retried"


def test_whatsloons_async_client_lists_and_reads_numbers(emulator: Emulator) -> None:
    async def run() -> tuple[list[PhoneNumber], PhoneNumber]:
        async with WhatsApp.async_client(access_token=emulator.token, phone_number_id=REGISTERED_DEFAULT,
                                         base_url=emulator.url) as client:
            return (await client.business.list_phone_numbers(DEMO_WABA_ID),
                    await client.business.get_phone_number(REGISTERED_BR))

    numbers, number = asyncio.run(run())
    assert [n.id for n in numbers] == sorted(DEMO_IDS, reverse=True)
    assert number.id == REGISTERED_BR and number.code_verification_status == "VERIFIED"
