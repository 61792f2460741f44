"""The planner: a pure function of (live number, desired state, API flow) -> Plan.

No I/O. The tables (docs/contract.md, "Plans (v21.0 and later)"):

v21.0+ (settings flow)            | v20.0 and earlier (register flow)
registered, same   -> none        | none
registered, differs-> deregister, | deregister, register(region)
                      settings,   |
                      register    |
unregistered, differs -> settings,| register(region)
                      register    |
unregistered, same -> register    | register(region)

With ``enforce_pin`` a ``set_pin`` call comes before ``deregister``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .regions import describe


class Step(str, Enum):
    SET_PIN = "set_pin"
    DEREGISTER = "deregister"
    SETTINGS = "settings"
    REGISTER = "register"


REGISTRATION_STEPS = frozenset({Step.REGISTER, Step.DEREGISTER})


@dataclass(frozen=True)
class Call:
    """One planned mutating call. ``region`` is the storage it sets (settings, or v20 register)."""

    step: Step
    region: str | None = None

    def __str__(self) -> str:
        if self.region is not None and self.step in (Step.SETTINGS, Step.REGISTER):
            return f"{self.step.value}({self.region})"
        return self.step.value


@dataclass(frozen=True)
class LiveState:
    """What the planner needs to know of the live number."""

    registered: bool
    region: str | None  # a code, DEFAULT, or None when storage is not managed (No Storage, unknown)


@dataclass(frozen=True)
class Plan:
    number_id: str
    live: LiveState
    desired_region: str
    settings_flow: bool
    calls: tuple[Call, ...]

    @property
    def steps(self) -> list[str]:
        return [call.step.value for call in self.calls]

    @property
    def in_sync(self) -> bool:
        return not self.calls

    @property
    def storage_changes(self) -> bool:
        return self.live.region != self.desired_region

    @property
    def deregisters(self) -> bool:
        """A cutover: the number goes offline from deregister until register succeeds."""
        return any(call.step is Step.DEREGISTER for call in self.calls)

    @property
    def registers(self) -> bool:
        return any(call.step is Step.REGISTER for call in self.calls)

    @property
    def registration_call_count(self) -> int:
        """Register/deregister calls this plan uses of Meta's 10-per-72-hours budget."""
        return sum(call.step in REGISTRATION_STEPS for call in self.calls)

    def describe(self) -> str:
        state = "registered" if self.live.registered else "not registered"
        head = f"{describe(self.live.region)}, {state} -> {describe(self.desired_region)}, registered"
        if self.in_sync:
            return f"{head}: in sync, no calls"
        offline = "; number offline from deregister until register" if self.deregisters else ""
        return f"{head}: {' -> '.join(map(str, self.calls))}{offline}"


def plan(number_id: str, live: LiveState, desired_region: str, *, settings_flow: bool,
         enforce_pin: bool = False) -> Plan:
    """The shortest sequence of calls that leaves the number registered with ``desired_region``."""
    differs = live.region != desired_region
    calls: list[Call] = []
    if live.registered and not differs:
        return Plan(number_id, live, desired_region, settings_flow, ())
    if live.registered:
        if enforce_pin:
            calls.append(Call(Step.SET_PIN))
        calls.append(Call(Step.DEREGISTER))
    if settings_flow:
        if differs:
            calls.append(Call(Step.SETTINGS, desired_region))
        calls.append(Call(Step.REGISTER))
    else:
        calls.append(Call(Step.REGISTER, desired_region))
    return Plan(number_id, live, desired_region, settings_flow, tuple(calls))
