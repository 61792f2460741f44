"""whatsapp-business 1.7.2 (npm), unmodified, against the emulator: every phone-number,
registration, settings and business-profile method it exposes.

Its methods in scope, each run by tests/emulator/npm/drive.js in one node process for this module:
getBusinessPhoneNumbers, getSingleBusinessPhoneNumber, getBusinessProfile, updateBusinessProfile,
updateIdentityCheckState (POST /settings), requestPhoneNumberVerificationCode,
verifyPhoneNumberCode, setupTwoStepAuth, registerPhone, deregisterPhone. (Its other methods send
messages or handle media, which the emulator does not serve.)

The package is installed by `./scripts/test`'s set-up (tests/emulator/npm_client.py). When it
cannot be installed or run here, these tests fail with the reason: they are never skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.harness import Emulator, start_emulator
from provider import versions
from emulator.seed import (DEMO_IDS, DEMO_PIN, DEMO_WABA_ID, NOT_VERIFIED, REGISTERED_BR,
                           REGISTERED_DEFAULT, UNREGISTERED)
from tests.emulator.npm_client import ensure_installed

DRIVER = Path(__file__).with_name("npm") / "drive.js"
# One node process for the whole module: keep its tests on one pytest-xdist worker.
pytestmark = pytest.mark.xdist_group("npm-client")

Report = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def run() -> Iterator[tuple[Emulator, Report]]:
    modules, why = ensure_installed()
    if modules is None:
        pytest.fail(why)
    node = shutil.which("node")
    assert node is not None, "node is not on PATH"
    with start_emulator() as emu:
        env = {**os.environ, "NODE_PATH": str(modules), "EMULATOR_URL": emu.url, "EMULATOR_TOKEN": emu.token,
               "WABA_ID": DEMO_WABA_ID, "NUMBER_IDS": json.dumps({
                   "registered": REGISTERED_DEFAULT, "registeredBr": REGISTERED_BR,
                   "notVerified": NOT_VERIFIED, "unregistered": UNREGISTERED})}
        env.pop("HTTP_PROXY", None), env.pop("http_proxy", None)
        result = subprocess.run([node, str(DRIVER)], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"whatsapp-business could not run: {result.stderr[-2000:]}"
        yield emu, {entry["step"]: entry for entry in json.loads(result.stdout)}


def ok(report: Report, step: str) -> Any:
    entry = report[step]
    assert entry["ok"], f"{entry['method']}: {entry['error']}"
    return entry["result"]


def test_it_lists_the_business_accounts_numbers_newest_first_with_metas_default_fields(run: tuple[Emulator, Report]) -> None:
    page = ok(run[1], "list")
    assert [n["id"] for n in page["data"]] == sorted(DEMO_IDS, reverse=True)
    assert all(set(n) == {"id", "display_phone_number", "verified_name", "quality_rating"} for n in page["data"])


def test_it_reads_one_number_with_its_verification_status(run: tuple[Emulator, Report]) -> None:
    number = ok(run[1], "read")
    assert number["id"] == REGISTERED_DEFAULT and number["code_verification_status"] == "VERIFIED"
    assert number["quality_rating"] == "GREEN"


def test_it_reads_the_business_profile_with_its_default_and_chosen_fields(run: tuple[Emulator, Report]) -> None:
    (entry,) = ok(run[1], "profile")["data"]
    assert entry["about"] == "Acme customer support" and entry["vertical"] == "RETAIL"
    (chosen,) = ok(run[1], "profile-fields")["data"]
    assert set(chosen) == {"about", "vertical", "messaging_product"}


def test_it_updates_the_business_profile_with_a_vertical_meta_added(run: tuple[Emulator, Report]) -> None:
    assert ok(run[1], "update-profile") == {"success": True}
    (entry,) = ok(run[1], "profile-after")["data"]
    assert (entry["about"], entry["vertical"], entry["websites"]) == ("Open 9-5", "ALCOHOL", ["https://a.example"])


def test_it_sees_a_vertical_meta_no_longer_lists_refused(run: tuple[Emulator, Report]) -> None:
    entry = run[1]["update-profile-retired-vertical"]
    assert not entry["ok"] and entry["error"]["code"] == 100


def test_it_turns_on_the_identity_check_setting_without_touching_storage(run: tuple[Emulator, Report]) -> None:
    emu, report = run
    assert ok(report, "identity-check") == {"success": True}
    settings = emu.number(REGISTERED_DEFAULT)["settings"]
    assert settings["user_identity_change"] == {"enable_identity_key_check": True}
    assert settings["storage_configuration"] == {"status": "DEFAULT"}


def test_it_requests_and_verifies_a_code_sets_a_pin_and_registers(run: tuple[Emulator, Report]) -> None:
    emu, report = run
    for step in ("request-code", "verify-code", "set-pin", "register"):
        assert ok(report, step) == {"success": True}, step
    rec = emu.number(NOT_VERIFIED)
    assert rec["code_verification_status"] == "VERIFIED" and rec["platform_type"] == "CLOUD_API"
    assert emu.pin_matches(NOT_VERIFIED, "246810") and not emu.pin_matches(NOT_VERIFIED, DEMO_PIN)


def test_it_deregisters_and_the_number_loses_its_local_storage(run: tuple[Emulator, Report]) -> None:
    emu, report = run
    assert ok(report, "deregister") == {"success": True}
    rec = emu.number(REGISTERED_BR)
    assert rec["platform_type"] == "NOT_APPLICABLE"
    assert rec["settings"]["storage_configuration"] == {"status": "DEFAULT"}


@pytest.mark.parametrize("step, code", [("register-wrong-pin", 133005), ("deregister-unregistered", 133010)])
def test_its_error_handler_reads_metas_error_envelope(run: tuple[Emulator, Report], step: str, code: int) -> None:
    entry = run[1][step]
    assert not entry["ok"]
    assert entry["error"]["code"] == code and entry["error"]["fbtrace_id"]
    assert entry["error"]["error_data"]["details"]


def test_every_call_was_served_as_the_oldest_live_version_for_its_retired_v17(run: tuple[Emulator, Report]) -> None:
    calls = run[0].calls()
    assert len(calls) == len(run[1])  # one Graph call per step
    assert {c["version"] for c in calls} == {"v17.0"}
    assert all(versions.parse(c["served_version"]) >= versions.FIRST_SETTINGS_FLOW for c in calls)
