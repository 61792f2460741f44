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

from . import windows
from .windows import STACK_KEY, SETTING, WindowError, Windows, WindowState

__all__ = ["STACK_KEY", "SETTING", "WindowError", "Windows", "WindowState", "normalised", "of_stack", "parse",
           "effective", "where"]


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
