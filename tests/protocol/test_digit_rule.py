"""Issue 20, items 4 and 10: every ID and PIN is ASCII digits matched whole, proved the way the
engine uses the provider (tests/engine.py: ``python -m pulumi.dynamic`` over gRPC). A PIN in
full-width, Arabic-Indic or superscript digits used to pass ``check`` and preflight
(``str.isdigit``), and ``up`` deregistered the number before Meta refused the PIN.
"""

from __future__ import annotations

from datetime import date

import pytest

from emulator.seed import DEMO_PIN, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from provider.inputs import is_ascii_digits, validate
from tests.engine import Engine

NON_ASCII_PINS = ["１２３４５６", "١٢٣٤٥٦", "۱۲۳۴۵۶", "¹²³⁴⁵⁶", "12345６", "१२३४५६"]


def engine_config(emu):
    return {"whatsapp:accessToken": emu.token, "whatsapp:graphApiUrl": emu.url, "whatsapp:apiVersion": "v25.0"}


@pytest.mark.parametrize("pin", NON_ASCII_PINS, ids=["fullwidth", "arabic-indic", "persian", "superscript",
                                                     "one-fullwidth", "devanagari"])
def test_a_pin_in_non_ascii_digits_is_refused_at_check_with_zero_calls(emulator, pin):
    eng = Engine(engine_config(emulator))
    steps = eng.up({"n": {"phone_number_id": REGISTERED_DEFAULT, "region": "BR", "pin": pin,
                          "allow_cutover_on_create": True}})
    error = steps["n"].error
    assert error is not None and "pin" in str(error) and "6 digits" in str(error)
    assert pin not in str(error)
    assert emulator.calls() == [], "check refuses it: no read, no deregister"


@pytest.mark.parametrize("pid", [f"{REGISTERED_BR}\n", f"{REGISTERED_BR}\r", "１０６５４０３５２２４２９２３", "²", " 123"])
def test_a_number_id_with_a_trailing_newline_or_non_ascii_digits_is_refused_at_check(emulator, pid):
    eng = Engine(engine_config(emulator))
    steps = eng.check({"n": {"phone_number_id": pid, "region": "BR", "pin": DEMO_PIN}})
    assert steps["n"].error is not None and "phone_number_id" in str(steps["n"].error)
    assert emulator.calls() == []


@pytest.mark.parametrize("waba", [f"{UNREGISTERED}\n", "１２３", "²", "12 3"])
def test_a_waba_id_with_a_trailing_newline_or_non_ascii_digits_is_refused(waba):
    _, failures = validate({"phone_number_id": REGISTERED_BR, "region": "BR", "waba_id": waba}, today=date.today())
    assert [f.property for f in failures] == ["waba_id"]


def test_the_digit_rule():
    assert is_ascii_digits("0123456789") and is_ascii_digits("123456", 6)
    for value in ["", "12345", "1234567", "１２３４５６", "12345\n", "\n12345", "12a456", "²", None, 123456]:
        assert not is_ascii_digits(value, 6), value
    for value in ["", "１２３", "123\n", "12 3", "²", "٣", None, 123]:
        assert not is_ascii_digits(value), value
