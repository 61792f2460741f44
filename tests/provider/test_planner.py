"""The planner table: every combination of live registration, storage and desired region, per flow."""

import pytest

from provider.planner import LiveState, plan
from provider.regions import DEFAULT

# (registered, live region, desired, settings flow, enforce_pin) -> calls
TABLE = [
    # v21.0+ settings flow
    (True, "BR", "BR", True, False, []),
    (True, DEFAULT, DEFAULT, True, False, []),
    (True, DEFAULT, "BR", True, False, ["deregister", "settings(BR)", "register"]),
    (True, "BR", "IN", True, False, ["deregister", "settings(IN)", "register"]),
    (True, "BR", DEFAULT, True, False, ["deregister", "settings(DEFAULT)", "register"]),
    (False, DEFAULT, "BR", True, False, ["settings(BR)", "register"]),
    (False, "BR", DEFAULT, True, False, ["settings(DEFAULT)", "register"]),
    (False, "BR", "BR", True, False, ["register"]),
    (False, DEFAULT, DEFAULT, True, False, ["register"]),
    (True, None, "BR", True, False, ["deregister", "settings(BR)", "register"]),
    # enforce_pin: set_pin only ever precedes a deregister
    (True, DEFAULT, "BR", True, True, ["set_pin", "deregister", "settings(BR)", "register"]),
    (True, "BR", "BR", True, True, []),
    (False, DEFAULT, "BR", True, True, ["settings(BR)", "register"]),
    # v20.0 and earlier: register carries the region
    (True, "BR", "BR", False, False, []),
    (True, DEFAULT, "BR", False, False, ["deregister", "register(BR)"]),
    (True, "BR", "IN", False, False, ["deregister", "register(IN)"]),
    (True, "BR", DEFAULT, False, False, ["deregister", "register(DEFAULT)"]),
    (False, DEFAULT, "BR", False, False, ["register(BR)"]),
    (False, "BR", "BR", False, False, ["register(BR)"]),
    (False, DEFAULT, DEFAULT, False, False, ["register(DEFAULT)"]),
    (True, DEFAULT, "IN", False, True, ["set_pin", "deregister", "register(IN)"]),
]


@pytest.mark.parametrize("registered, live, desired, settings_flow, enforce_pin, expected", TABLE)
def test_plan_table(registered, live, desired, settings_flow, enforce_pin, expected):
    p = plan("1", LiveState(registered, live), desired, settings_flow=settings_flow, enforce_pin=enforce_pin)
    assert [str(call) for call in p.calls] == expected
    assert p.in_sync == (expected == [])
    assert p.deregisters == ("deregister" in expected)
    assert p.registration_call_count == sum(c.split("(")[0] in ("register", "deregister") for c in expected)


def test_a_cutover_is_exactly_the_plans_that_deregister_a_registered_number():
    for registered, live, desired, flow, pin, expected in TABLE:
        p = plan("1", LiveState(registered, live), desired, settings_flow=flow, enforce_pin=pin)
        assert p.deregisters == (registered and live != desired)


def test_describe_says_when_the_number_goes_offline():
    p = plan("1", LiveState(True, DEFAULT), "BR", settings_flow=True)
    assert "deregister -> settings(BR) -> register" in p.describe()
    assert "offline" in p.describe()
    assert "in sync" in plan("1", LiveState(True, "BR"), "BR", settings_flow=True).describe()
