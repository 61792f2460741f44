"""pywa, an independent WhatsApp Cloud API client, unmodified against the emulator.

If pywa cannot read, page, register or parse an error here, the emulator is not answering like
Meta: fix the emulator, never pywa. pywa is pointed at the emulator the way httpx intends, by
handing it an `httpx.Client` whose transport sends graph.facebook.com's requests to the
emulator's address.

pywa's phone-number, registration, settings and business-profile methods, each run below:
get_business_phone_number, get_business_phone_numbers (every page, and previous),
get_business_phone_number_settings, update_business_phone_number_settings,
register_phone_number, deregister_phone_number, request_verification_code, verify_phone_number,
get_business_profile, update_business_profile, and create_phone_number (which sends
`country_code` where Meta's reference documents `cc`: it gets Meta's 100, see its test). Not
served by the emulator, so not run: update_display_name (name review), update_conversational_automation,
set_business_public_key, get/update_commerce_settings, override/delete_phone_callback_url.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import httpx
import pytest
from pywa import WhatsApp
from pywa.errors import WhatsAppError
from pywa.types.others import BusinessPhoneNumber, StorageConfiguration, StorageStatus

from emulator.fields import PHONE_NUMBER_FIELDS
from emulator.seed import (DEMO_IDS, DEMO_PIN, DEMO_WABA_ID, NOT_VERIFIED, REGISTERED_BR,
                           REGISTERED_DEFAULT, UNREGISTERED)


class ToEmulator(httpx.BaseTransport):
    """An httpx transport that serves every request from the emulator instead of Meta."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.seen: list[httpx.URL] = []
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url)
        request.url = request.url.copy_with(scheme="http", host=self.host, port=self.port)
        request.headers["Host"] = f"{self.host}:{self.port}"
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture
def transport(emulator):
    t = ToEmulator(emulator.url)
    yield t
    t.close()


@pytest.fixture
def wa(emulator, transport) -> Iterator[WhatsApp]:
    session = httpx.Client(transport=transport, trust_env=False, timeout=10)
    yield WhatsApp(phone_id=REGISTERED_DEFAULT, token=emulator.token, waba_id=DEMO_WABA_ID,
                   session=session)
    session.close()


def test_pywa_reads_a_number_with_its_default_fields(emulator, wa, transport):
    number = wa.get_business_phone_number()
    asked = dict(urllib.parse.parse_qsl(transport.seen[-1].query.decode()))["fields"].split(",")
    assert set(asked) <= set(PHONE_NUMBER_FIELDS) and len(asked) >= 25  # pywa asks for nearly all
    assert transport.seen[-1].host == "graph.facebook.com"  # pywa itself is unchanged
    assert isinstance(number, BusinessPhoneNumber)
    assert number.id == REGISTERED_DEFAULT
    assert number.display_phone_number == "+1 555-0100"
    assert number.verified_name == "Acme Support"
    assert number.platform_type == "CLOUD_API" and number.status == "CONNECTED"
    assert number.code_verification_status == "VERIFIED"
    assert number.quality_rating == "GREEN"
    assert number.throughput == {"level": "STANDARD"}
    assert number.name_status == "APPROVED" and number.account_mode == "LIVE"
    assert number.is_pin_enabled is True and number.is_on_biz_app is False
    assert number.country_code == "US" and number.country_dial_code == "1"
    assert number.conversational_automation is not None and number.health_status is not None  # both asked for
    assert number.conversational_automation.id == REGISTERED_DEFAULT
    assert number.health_status["can_send_message"] == "AVAILABLE"
    assert number.last_onboarded_time and number.certificate
    assert number.whatsapp_business_manager_messaging_limit
    (call,) = emulator.calls()
    assert call["status"] == 200


def test_pywa_reads_an_unregistered_number(wa):
    number = wa.get_business_phone_number(phone_id=UNREGISTERED)
    assert number.platform_type == "NOT_APPLICABLE" and number.is_pin_enabled is False
    assert number.country_code == "IN" and number.country_dial_code == "91"


def test_pywa_lists_a_business_accounts_numbers_across_pages(emulator, wa):
    emulator.set_page_size(2)
    extra = [emulator.add_number(id=str(300000000000000 + i))["id"] for i in range(3)]
    page = wa.get_business_phone_numbers()
    pages = [page]
    while page.has_next:
        page = page.next()
        pages.append(page)
    assert [len(p) for p in pages] == [2, 2, 2, 2, 1]  # pages of 2, set above
    ids = [n.id for p in pages for n in p]
    # newest onboarded first: the numbers added now, newest first, then the demo's, newest first
    assert ids == extra[::-1] + sorted(DEMO_IDS, reverse=True)
    assert all(isinstance(n, BusinessPhoneNumber) and n.display_phone_number for p in pages for n in p)
    assert [n.id for n in wa.get_business_phone_numbers().all()] == ids
    assert pages[-1].has_previous and [n.id for n in pages[-1].previous()] == ids[-3:-1]


def test_pywa_reads_a_six_number_account_in_one_page(emulator, wa, transport):
    page = wa.get_business_phone_numbers()  # no limit: Meta's default page of 25
    assert [n.id for n in page] == sorted(DEMO_IDS, reverse=True)
    assert not page.has_next
    assert sum(url.path.endswith("/phone_numbers") for url in transport.seen) == 1


def test_pywa_registering_with_a_region_gets_metas_code_12_and_changes_nothing(emulator, wa):
    with pytest.raises(WhatsAppError) as caught:
        wa.register_phone_number(pin=DEMO_PIN, data_localization_region="DE", phone_id=UNREGISTERED)
    assert caught.value.code == 12 and caught.value.status_code == 400
    rec = emulator.number(UNREGISTERED)
    assert rec["platform_type"] == "NOT_APPLICABLE"
    assert rec["settings"]["storage_configuration"] == {"status": "DEFAULT"}
    (call,) = emulator.calls()
    assert call["body"]["data_localization_region"] == "DE" and call["code"] == 12


def test_pywa_reads_and_updates_the_business_profile(emulator, wa):
    profile = wa.get_business_profile()
    assert profile.about == "Acme customer support" and profile.email == "support@example.com"
    assert list(profile.websites) == ["https://example.com/"]
    assert wa.update_business_profile(about="Open 9-5", address="1 Main St", websites=["https://a.example"])
    profile = wa.get_business_profile()
    assert (profile.about, profile.address, list(profile.websites)) == ("Open 9-5", "1 Main St",
                                                                        ["https://a.example"])


def test_pywa_sets_a_vertical_meta_added_and_reads_a_profile_without_one(emulator, wa):
    assert wa.update_business_profile(industry="ALCOHOL", phone_id=UNREGISTERED)
    assert emulator.number(UNREGISTERED)["business_profile"] == {"vertical": "ALCOHOL"}
    # pywa's Industry enum predates ALCOHOL and the empty string: it warns and reads UNKNOWN
    with pytest.warns(UserWarning, match="ALCOHOL"):
        assert wa.get_business_profile(phone_id=UNREGISTERED).industry == "UNKNOWN"
    with pytest.warns(UserWarning):
        profile = wa.get_business_profile(phone_id=REGISTERED_BR)
    assert profile.about is None and profile.industry == "UNKNOWN"


def test_pywa_create_phone_number_sends_country_code_where_meta_documents_cc(emulator, wa, transport):
    with pytest.raises(WhatsAppError) as caught:
        wa.create_phone_number(country_calling_code="1", phone_number="5550199", verified_name="Acme New")
    assert caught.value.code == 100 and "Param cc " in caught.value.message
    assert len(emulator.numbers()) == 6, "nothing was created"
    (call,) = emulator.calls()
    assert call["path"] == f"/{DEMO_WABA_ID}/phone_numbers" and "country_code" in call["body"]


def test_pywa_reads_and_updates_settings(emulator, wa):
    settings = wa.get_business_phone_number_settings()
    assert settings.storage_configuration.status == StorageStatus.DEFAULT
    assert settings.calling.status == "ENABLED"
    br = wa.get_business_phone_number_settings(phone_id=REGISTERED_BR).storage_configuration
    assert (br.status, br.data_localization_region) == (StorageStatus.IN_COUNTRY_STORAGE_ENABLED, "BR")

    enable = StorageConfiguration(status=StorageStatus.IN_COUNTRY_STORAGE_ENABLED, data_localization_region="DE")
    assert wa.update_business_phone_number_settings(storage_configuration=enable, phone_id=UNREGISTERED)
    assert emulator.number(UNREGISTERED)["settings"]["storage_configuration"] == {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "DE"}
    default = StorageConfiguration(status=StorageStatus.DEFAULT)
    assert wa.update_business_phone_number_settings(storage_configuration=default, phone_id=UNREGISTERED)
    got = wa.get_business_phone_number_settings(phone_id=UNREGISTERED).storage_configuration
    assert got.status == StorageStatus.DEFAULT and got.data_localization_region is None


def test_pywa_registers_and_deregisters(emulator, wa):
    assert wa.register_phone_number(pin=DEMO_PIN, phone_id=UNREGISTERED)
    assert emulator.number(UNREGISTERED)["platform_type"] == "CLOUD_API"
    assert wa.deregister_phone_number(phone_id=REGISTERED_BR)
    rec = emulator.number(REGISTERED_BR)
    assert rec["platform_type"] == "NOT_APPLICABLE"
    assert rec["settings"]["storage_configuration"] == {"status": "DEFAULT"}


def test_pywa_requests_and_verifies_a_code_then_registers(emulator, wa):
    assert wa.request_verification_code(code_method="SMS", language_code="en_US", phone_id=NOT_VERIFIED)
    code = emulator.number(NOT_VERIFIED)["verification_code"]
    assert code and code.isdigit()
    assert wa.verify_phone_number(code=code, phone_id=NOT_VERIFIED)
    assert wa.get_business_phone_number(phone_id=NOT_VERIFIED).code_verification_status == "VERIFIED"
    assert wa.register_phone_number(pin=DEMO_PIN, phone_id=NOT_VERIFIED)


@pytest.mark.parametrize("call, code", [
    (lambda wa: wa.register_phone_number(pin="000000"), 133005),
    (lambda wa: wa.register_phone_number(pin=DEMO_PIN, phone_id=NOT_VERIFIED), 133006),
    (lambda wa: wa.deregister_phone_number(phone_id=UNREGISTERED), 133010),
])
def test_pywa_raises_its_own_errors_for_registration_failures(wa, call, code):
    with pytest.raises(WhatsAppError) as caught:
        call(wa)
    err = caught.value
    assert err.code == code
    assert err.fbtrace_id and err.details  # parsed from the envelope's error_data
    assert err.status_code == 400


def test_pywa_sees_metas_error_when_an_app_secret_is_required(emulator, wa):
    emulator.set_app_secret("pywa-does-not-send-proofs")
    with pytest.raises(WhatsAppError) as caught:
        wa.get_business_phone_number()
    assert caught.value.code == 100
    assert caught.value.message == "API calls from the server require an appsecret_proof argument"
    assert caught.value.type == "GraphMethodException"
