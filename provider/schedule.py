"""When a cutover may start: the one door to change windows for the rest of the provider. Pure.

``windows.py`` owns the window rules (parsing, daylight saving time, occurrences). Every other
module asks here instead: the input rules (a number's ``cutover_windows``, normalised), the stack
program and the CLI (the stack's ``cutoverWindows``), the assessment (a number's effective windows,
and where an instant stands in them) and the runner's re-check when a cutover really starts.
So a new kind of restriction (dated blackouts: docs/contract.md, "Change windows and blackouts") joins in this module,
and every caller gets it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from . import blackouts as _blackouts
from . import windows
from .blackouts import Blackouts
from .gate import Gate, gate
from .windows import STACK_KEY, SETTING, WindowError, Windows, WindowState

BLACKOUTS_KEY = _blackouts.STACK_KEY  # whatsapp-local-storage:cutoverBlackouts
BLACKOUTS_SETTING = _blackouts.SETTING  # a stack entry's cutoverBlackouts

__all__ = ["STACK_KEY", "SETTING", "BLACKOUTS_KEY", "BLACKOUTS_SETTING", "Blackouts", "Gate", "WindowError",
           "Windows", "WindowState", "normalised", "of_stack", "parse", "effective", "where", "blackouts_normalised",
           "blackouts_of_stack", "effective_blackouts", "gate_at"]


def parse(raw: Any, *, today: date, setting: str = SETTING) -> Windows | None:
    """Every window of a setting (a list, or the engine's JSON text of one), None when absent.
    Raises WindowError naming each bad item."""
    return windows.parse_windows(raw, setting=setting, today=today)


def normalised(raw: Any, *, today: date, setting: str = SETTING) -> tuple[str, ...] | None:
    """The windows as normalised text: what a declaration, its inputs and its outputs hold, so
    that an echo compares equal however the windows were spelled. Raises WindowError."""
    text = windows.canonical(parse(raw, today=today, setting=setting))
    return None if text is None else tuple(text)


def of_stack(config: Mapping[str, Any], *, today: date) -> Windows | None:
    """The stack's ``whatsapp-local-storage:cutoverWindows`` (for numbers with none of their own)."""
    return parse(config.get(STACK_KEY), today=today, setting=STACK_KEY)


def effective(own: tuple[str, ...] | None, stack: object, *, today: date) -> Windows | None:
    """A number's windows: its own ``cutover_windows`` when it has them, else the stack's
    ``cutoverWindows`` as configured (parsed only then; None: cutovers at any time). Raises WindowError."""
    if own is not None:
        return parse(list(own), today=today)
    return parse(stack, today=today, setting=STACK_KEY)


def where(found: Windows | None, now: datetime) -> WindowState | None:
    """Where ``now`` stands in the windows (None: no windows, cutovers at any time)."""
    return None if found is None else windows.state(found, now)


def blackouts_normalised(raw: Any, *, setting: str = BLACKOUTS_SETTING) -> list[dict[str, str]] | None:
    """The blackouts in one spelling (what a declaration, its inputs and its outputs hold). Raises WindowError."""
    return _blackouts.canonical(_blackouts.parse_blackouts(raw, setting=setting))


def blackouts_of_stack(config: Mapping[str, Any]) -> Blackouts | None:
    """The stack's ``whatsapp-local-storage:cutoverBlackouts`` (they apply to every number)."""
    return _blackouts.parse_blackouts(config.get(BLACKOUTS_KEY), setting=BLACKOUTS_KEY)


def effective_normalised(own: Any, stack: object) -> list[dict[str, str]] | None:
    """A number's blackouts with the stack's, in one spelling (what the stack program declares)."""
    return _blackouts.canonical(effective_blackouts(own, stack))


def effective_blackouts(own: Any, stack: object) -> Blackouts | None:
    """A number's blackouts: the stack's and its own together (a number cannot drop a freeze)."""
    return _blackouts.effective(None if own is None else [dict(item) for item in own], stack)


def gate_at(found: Windows | None, blackouts: Blackouts | None, now: datetime) -> Gate:
    """May a cutover start at ``now``? (``gate.gate``: open, waiting or never, with its sentence.)"""
    return gate(found, blackouts, now)
