"""A phone number field Meta rejects as nonexisting: optional ones are dropped, required ones fail."""

from __future__ import annotations

import pytest

from provider import errors
from provider.client import GraphClient
from provider.config import ProviderConfig
from provider.models import NODE_FIELDS, OPTIONAL_NODE_FIELDS
from provider.fleet import current, reset_process_state
from tests.graph_transport import graph_error, graph_session, ok, query_of

NUMBER = "106540352242922"
TOKEN = "EAAoptional-fields-token-2718"


def meta_without(*missing: str):
    """Meta answering like a version whose node type lacks ``missing``."""
    def handler(request):
        asked = query_of(request)["fields"][0].split(",")
        for name in missing:
            if name in asked:
                return graph_error(100, f"(#100) Tried accessing nonexisting field ({name}) on node type "
                                        "(WhatsAppBusinessPhoneNumber)")
        node = {"id": NUMBER, "platform_type": "CLOUD_API", "code_verification_status": "VERIFIED",
                "is_on_biz_app": False, "display_phone_number": "+55 11 5555 0100", "is_pin_enabled": True}
        return ok({k: v for k, v in node.items() if k in asked})
    return handler


@pytest.fixture(autouse=True)
def fresh_process():
    reset_process_state()  # no field dropped yet
    yield
    reset_process_state()


def client_for(handler):
    session, fake = graph_session(handler)
    process = current()  # both clients of a test are clients of one process
    return GraphClient(ProviderConfig.parse({"access_token": TOKEN}, env={}), session=session,
                       fields=process.fields, notices=process.notices), fake


def test_an_optional_field_rejected_is_dropped_for_the_process_with_one_notice(capsys):
    client, fake = client_for(meta_without("is_pin_enabled"))
    node = client.get_number(NUMBER)
    assert node.registered and node.is_pin_enabled is None and node.display_phone_number
    assert len(fake.requests) == 2
    other, other_fake = client_for(meta_without("is_pin_enabled"))
    other.get_number(NUMBER)
    client.get_number(NUMBER)
    assert len(other_fake.requests) == 1 and len(fake.requests) == 3, "the process remembers it"
    assert "is_pin_enabled" not in query_of(other_fake.requests[0])["fields"][0]
    err = capsys.readouterr().err
    assert err.count("rejects the phone number field `is_pin_enabled` as nonexisting") == 1


def test_several_optional_fields_can_be_dropped():
    client, fake = client_for(meta_without("is_pin_enabled", "verified_name", "status"))
    assert client.get_number(NUMBER).registered
    assert len(fake.requests) == 4


@pytest.mark.parametrize("field", ["platform_type", "code_verification_status", "is_on_biz_app"])
def test_a_required_field_rejected_stays_an_error(field):
    assert field in NODE_FIELDS and field not in OPTIONAL_NODE_FIELDS
    client, fake = client_for(meta_without(field))
    with pytest.raises(errors.InvalidParameter, match=field):
        client.get_number(NUMBER)
    assert len(fake.requests) == 1


def test_the_optional_fields_are_exactly_those_no_safety_decision_reads():
    assert OPTIONAL_NODE_FIELDS == {"is_pin_enabled", "verified_name", "display_phone_number", "status"}


def test_a_number_reads_on_an_emulator_that_rejects_is_pin_enabled(emulator, capsys):
    from emulator.seed import REGISTERED_BR

    emulator.reject_fields(["is_pin_enabled"])
    config = ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url}, env={})
    live = GraphClient(config).read(REGISTERED_BR)
    assert live.registered and live.region == "BR" and live.node.is_pin_enabled is None
    assert [c["status"] for c in emulator.calls() if c["path"] == f"/{REGISTERED_BR}"] == [400, 200]
    assert "`is_pin_enabled`" in capsys.readouterr().err


def test_a_listing_of_an_account_drops_a_rejected_optional_field_too(emulator):
    from emulator.seed import DEMO_WABA_ID

    emulator.reject_fields(["is_pin_enabled"])
    config = ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url}, env={})
    items = GraphClient(config).list_phone_numbers(DEMO_WABA_ID, NODE_FIELDS)
    assert {item["id"] for item in items} == {n["id"] for n in emulator.numbers()}
    assert all("platform_type" in item and "is_pin_enabled" not in item for item in items)
    statuses = [c["status"] for c in emulator.calls() if c["path"] == f"/{DEMO_WABA_ID}/phone_numbers"]
    assert statuses[0] == 400 and set(statuses[1:]) == {200}, "rejected once, then listed without the field"
