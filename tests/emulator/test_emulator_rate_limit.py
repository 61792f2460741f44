"""Meta's hourly business-use-case limit per business account (issue 28, item 2; docs/graph-api.md,
"Rate limits"): 200 calls an hour, 5,000 once the account has a registered number, counting
`GET /{waba_id}`, `GET /{waba_id}/phone_numbers` and `GET /{phone_number_id}`; over it 80008 with
`X-Business-Use-Case-Usage`, on the emulator's clock."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from emulator.harness import Emulator, EmulatorControlError
from emulator.seed import DEMO_PIN, DEMO_WABA_ID, REGISTERED_BR, REGISTERED_DEFAULT
from tests.conftest import EmulatorHTTP

NEW_WABA = "440000000000001"   # an account whose only number is not registered
NEW_NUMBER = "440000000000011"


def usage_of(resp: requests.Response, waba: str) -> dict[str, Any]:
    header = json.loads(resp.headers["X-Business-Use-Case-Usage"])
    assert list(header) == [waba], header
    (entry,) = header[waba]
    assert entry["type"] == "whatsapp_business_management"
    return dict(entry)


def calls_counted(emulator: Emulator, waba: str) -> int:
    return int(emulator.rate_limits()["accounts"][waba]["calls"])


@pytest.fixture
def unregistered_account(emulator: Emulator) -> str:
    emulator.add_number(id=NEW_NUMBER, waba_id=NEW_WABA, platform_type="NOT_APPLICABLE")
    return NEW_WABA


def test_metas_limits_are_200_an_hour_and_5000_once_the_account_has_a_registered_number(
        emulator: Emulator, emulator_api: EmulatorHTTP, unregistered_account: str) -> None:
    accounts = emulator.rate_limits()["accounts"]
    assert accounts[DEMO_WABA_ID]["limit"] == 5000 and accounts[NEW_WABA]["limit"] == 200
    emulator.add_number(id="440000000000012", waba_id=NEW_WABA, platform_type="NOT_APPLICABLE")
    assert emulator_api.post("/440000000000012/register", json={"messaging_product": "whatsapp",
                                                                  "pin": DEMO_PIN}).status_code == 200
    assert emulator.rate_limits()["accounts"][NEW_WABA]["limit"] == 5000


def test_the_201st_counted_call_in_an_hour_gets_80008_with_the_minutes_until_access_returns(
        emulator: Emulator, emulator_api: EmulatorHTTP, unregistered_account: str) -> None:
    for i in range(200):
        resp = emulator_api.get(f"/{NEW_NUMBER}" if i % 2 else f"/{NEW_WABA}/phone_numbers")
        assert resp.status_code == 200, (i, resp.text)
    assert usage_of(resp, NEW_WABA)["call_count"] == 100
    refused = emulator_api.get(f"/{NEW_NUMBER}")
    assert refused.status_code == 400
    err = refused.json()["error"]
    assert err["code"] == 80008 and "too many calls to this WhatsApp Business account" in err["message"]
    usage = usage_of(refused, NEW_WABA)
    assert usage["call_count"] == 100 and usage["estimated_time_to_regain_access"] == 60
    assert calls_counted(emulator, NEW_WABA) == 200, "a refused call is not counted"
    # the other account is not affected; the emulator's clock gives access back
    assert emulator_api.get(f"/{REGISTERED_BR}").status_code == 200
    emulator.advance(3600)
    assert emulator_api.get(f"/{NEW_NUMBER}").status_code == 200


def test_only_the_three_calls_meta_lists_are_counted(emulator: Emulator, emulator_api: EmulatorHTTP) -> None:
    for path in (f"/{DEMO_WABA_ID}", f"/{DEMO_WABA_ID}/phone_numbers", f"/{REGISTERED_BR}"):
        assert emulator_api.get(path).status_code == 200
    assert calls_counted(emulator, DEMO_WABA_ID) == 3
    emulator_api.get(f"/{REGISTERED_BR}/settings")
    emulator_api.get(f"/{REGISTERED_BR}/whatsapp_business_profile")
    emulator_api.post(f"/{REGISTERED_BR}/deregister")
    emulator_api.post(f"/{REGISTERED_BR}/register", json={"messaging_product": "whatsapp", "pin": DEMO_PIN})
    assert calls_counted(emulator, DEMO_WABA_ID) == 3


def test_every_counted_call_reports_its_accounts_usage_and_the_regain_time_counts_down(
        emulator: Emulator, emulator_api: EmulatorHTTP) -> None:
    emulator.set_rate_limit(4, waba_id=DEMO_WABA_ID)
    seen = [usage_of(emulator_api.get(f"/{REGISTERED_DEFAULT}"), DEMO_WABA_ID)["call_count"] for _ in range(4)]
    assert seen == [25, 50, 75, 100]
    emulator.advance(20 * 60)
    refused = emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers")
    assert refused.json()["error"]["code"] == 80008
    assert usage_of(refused, DEMO_WABA_ID)["estimated_time_to_regain_access"] == 40
    # a call Meta does not count carries the account's usage too, and is still served
    settings = emulator_api.get(f"/{REGISTERED_DEFAULT}/settings")
    assert settings.status_code == 200 and usage_of(settings, DEMO_WABA_ID)["call_count"] == 100


def test_a_limit_for_one_account_leaves_the_others_alone(emulator: Emulator, emulator_api: EmulatorHTTP,
                                                          unregistered_account: str) -> None:
    emulator.set_rate_limit(1, waba_id=NEW_WABA)
    assert emulator_api.get(f"/{NEW_NUMBER}").status_code == 200
    assert emulator_api.get(f"/{NEW_NUMBER}").json()["error"]["code"] == 80008
    assert all(emulator_api.get(f"/{REGISTERED_BR}").status_code == 200 for _ in range(3))
    emulator.set_rate_limit(None, waba_id=NEW_WABA)  # back to Meta's 200
    assert emulator_api.get(f"/{NEW_NUMBER}").status_code == 200


def test_a_limit_for_every_account_applies_until_the_next_reset(emulator: Emulator, emulator_api: EmulatorHTTP) -> None:
    emulator.set_rate_limit(2)
    assert [emulator_api.get(f"/{REGISTERED_BR}").status_code for _ in range(3)] == [200, 200, 400]
    emulator.reset()
    assert emulator.rate_limits()["calls_per_hour"] is None
    assert emulator_api.get(f"/{REGISTERED_BR}").status_code == 200


def test_switched_off_nothing_is_counted_or_refused_until_the_next_reset(emulator: Emulator,
                                                                         emulator_api: EmulatorHTTP) -> None:
    emulator.set_rate_limit(1)
    emulator.enable_rate_limit(False)
    for _ in range(3):
        resp = emulator_api.get(f"/{REGISTERED_BR}")
        assert resp.status_code == 200 and usage_of(resp, DEMO_WABA_ID)["call_count"] == 0
    emulator.reset()
    assert emulator.rate_limits()["enabled"] is True


def test_pinned_usage_changes_the_header_not_the_limit(emulator: Emulator, emulator_api: EmulatorHTTP) -> None:
    emulator.set_usage(95)
    resp = emulator_api.get(f"/{REGISTERED_BR}")
    assert usage_of(resp, DEMO_WABA_ID)["call_count"] == 95
    assert json.loads(resp.headers["X-App-Usage"])["call_count"] == 95
    assert calls_counted(emulator, DEMO_WABA_ID) == 1


@pytest.mark.parametrize("body", [{}, {"calls_per_hour": 0}, {"calls_per_hour": 2.5}, {"calls_per_hour": True},
                                  {"waba_id": 123, "calls_per_hour": 5}, {"waba_id": DEMO_WABA_ID},
                                  {"enabled": "no"}, {"enabled": False, "calls_per_hour": 5}, {"per_hour": 5}])
def test_a_wrong_rate_limit_request_is_400_and_changes_nothing(emulator: Emulator, body: dict[str, Any]) -> None:
    with pytest.raises(EmulatorControlError, match="400"):
        emulator._control("POST", "/rate_limit", body)
    assert emulator.rate_limits()["calls_per_hour"] is None and emulator.rate_limits()["enabled"] is True
    assert emulator.rate_limits()["per_account"] == {}


def test_the_hourly_limit_is_on_when_the_emulator_starts(make_emulator_http: Any) -> None:
    from emulator.__main__ import parse_args
    assert parse_args([]).rate_limit == "on" and parse_args(["--rate-limit", "off"]).rate_limit == "off"
    from emulator.harness import start_emulator
    with start_emulator(rate_limit=False) as emu:
        assert emu.rate_limits()["enabled"] is False
        emu.reset()
        assert emu.rate_limits()["enabled"] is False, "reset goes back to the start-up choice"
