"""Blackouts: dated periods in which no cutover starts, whatever the change windows say.

``whatsapp-local-storage:cutoverBlackouts`` (stack config) and a number's ``cutoverBlackouts``
(stack entry, or the ``cutover_blackouts`` input) list them::

    {"from": "2026-11-27T00:00", "to": "2026-11-30T00:00", "zone": "America/New_York",
     "reason": "Black Friday freeze"}

The only other freeze is an empty ``cutoverWindows`` list, which never lifts: a freeze somebody
forgets stays forever. A blackout is dated, bounded (``MAX_DAYS``) and says why, so it ends by
itself and a reviewer can read what it is for. GKE's maintenance exclusions work the same way.

- ``from`` and ``to`` are local wall times in ``zone`` (a region of the pinned database, as for
  windows); ``to`` is exclusive. A bound the clocks skip is an error (there is no such local
  time); in a repeated hour ``from`` takes the first occurrence and ``to`` the second, so the
  blackout covers the whole hour either way.
- A number's blackouts add to the stack's: a deny rule that one entry could drop by declaring its
  own would not be a freeze.

Pure, like windows.py: no clock (the gate is given ``now``) and no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from . import zones
from .errors import WindowError
from .windows import read_list

STACK_KEY = "whatsapp-local-storage:cutoverBlackouts"
SETTING = "cutoverBlackouts"  # a stack file entry's key
INPUT = "cutover_blackouts"  # the resource input (the policy pack reads this name)
EXAMPLE = ('[{"from": "2026-11-27T00:00", "to": "2026-11-30T00:00", "zone": "America/New_York", '
           '"reason": "Black Friday freeze"}]')
KEYS = ("from", "to", "zone", "reason")
MAX_DAYS = 90
MAX_REASON = 120
_LOCAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}", re.ASCII)
_LOCAL_FORM = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class Blackout:
    """One blackout: the local bounds as written (``begins_local`` .. ``ends_local``, naive, in
    ``zone``) and the instants (UTC) they are, ``[starts, ends)``."""

    begins_local: datetime
    ends_local: datetime
    zone: str
    reason: str
    starts: datetime
    ends: datetime

    @property
    def tz(self) -> ZoneInfo:
        return zones.zone(self.zone)

    def contains(self, moment: datetime) -> bool:
        return self.starts <= moment < self.ends

    def canonical(self) -> dict[str, str]:
        return {"from": f"{self.begins_local:{_LOCAL_FORM}}", "to": f"{self.ends_local:{_LOCAL_FORM}}",
                "zone": self.zone, "reason": self.reason}

    def __str__(self) -> str:
        return (f"blackout \"{self.reason}\" ({self.begins_local:{_LOCAL_FORM}} to "
                f"{self.ends_local:{_LOCAL_FORM}} {self.zone})")


Blackouts = tuple[Blackout, ...]


def _local(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or _LOCAL.fullmatch(value.strip()) is None:
        shown = zones.shown(value) if isinstance(value, str) else type(value).__name__
        raise WindowError(f"{shown} is not a local date and time: write it as 2026-11-27T00:00 (no seconds and no "
                          f"offset: `zone` says where), the {'first minute' if field == 'from' else 'minute after the last'} "
                          "of the blackout")
    try:
        return datetime.strptime(value.strip(), _LOCAL_FORM)
    except ValueError:
        raise WindowError(f"{zones.shown(value)} is not a date and time of the calendar") from None


def _instant(naive: datetime, tz: ZoneInfo, field: str) -> datetime:
    """``from`` at the first occurrence of a repeated wall time, ``to`` at the second."""
    if not zones.exists(naive, tz):
        change = zones.resolve(naive, tz)
        before = (change - timedelta(seconds=1)).astimezone(tz) + timedelta(seconds=1)
        raise WindowError(f"{naive:{_LOCAL_FORM}} does not happen: {zones.skipped(naive, tz)}; write "
                          f"{naive:%Y-%m-%d}T{change.astimezone(tz):%H:%M} or a time before {before:%H:%M}")
    return zones.resolve(naive, tz, second=field == "to")


def _reason(value: Any) -> str:
    if not isinstance(value, str):
        raise WindowError(f"must be text, not {type(value).__name__}")
    if not value.strip():
        raise WindowError(f"is empty: {_REQUIRED['reason']}")
    text = value.strip()
    if not text.isprintable():
        raise WindowError(f"{zones.shown(text)} holds a control or invisible character; write plain text")
    if len(text) > MAX_REASON:
        raise WindowError(f"is {len(text)} characters long; at most {MAX_REASON}")
    return text


def _zone(value: Any) -> str:
    if not isinstance(value, str):
        raise WindowError(f"must be an IANA time zone name such as {zones.EXAMPLES}, not {type(value).__name__}")
    return zones.checked(value.strip())


_READERS = {"from": lambda value: _local(value, "from"), "to": lambda value: _local(value, "to"),
            "zone": _zone, "reason": _reason}
_REQUIRED = {"from": "the local date and time it begins, e.g. 2026-11-27T00:00",
             "to": "the local date and time it ends (exclusive), e.g. 2026-11-30T00:00",
             "zone": f"the time zone of `from` and `to`, e.g. {zones.EXAMPLES}",
             "reason": "say why no cutover may start, e.g. \"Black Friday freeze\"; reviewers and the refusal read it"}


def _read(item: Any) -> tuple[Blackout | None, list[str]]:
    """One blackout from its mapping, or every problem with it, each naming its field (``.to: ...``)."""
    if not isinstance(item, Mapping):
        return None, [f": must be a map such as {EXAMPLE[1:-1]}, not {type(item).__name__}"]
    problems: list[str] = []
    unknown = [str(key) for key in item if key not in KEYS]
    if unknown:
        problems.append(f": unknown key {', '.join(map(repr, unknown))}; the keys are {', '.join(KEYS)}")
    fields: dict[str, Any] = {}
    for key, read in _READERS.items():
        if item.get(key) is None:
            problems.append(f".{key}: is required: {_REQUIRED[key]}")
            continue
        try:
            fields[key] = read(item[key])
        except WindowError as exc:
            problems.append(f".{key}: {exc}")
    bounds: dict[str, datetime] = {}
    for key in ("from", "to"):
        if key in fields and "zone" in fields:
            try:
                bounds[key] = _instant(fields[key], zones.zone(fields["zone"]), key)
            except WindowError as exc:
                problems.append(f".{key}: {exc}")
    if "from" in fields and "to" in fields and fields["to"] <= fields["from"]:
        problems.append(f".to: must be after `from` ({fields['from']:{_LOCAL_FORM}}); `to` is the first minute "
                        "after the blackout")
    elif len(bounds) == 2:
        length = bounds["to"] - bounds["from"]  # a later wall time is a later instant, so this is positive
        if length > timedelta(days=MAX_DAYS):
            problems.append(f".to: the blackout lasts {_days(length)}; at most {MAX_DAYS} days, so that a forgotten "
                            "freeze lifts by itself (split a longer one)")
    if problems:
        return None, problems
    return Blackout(fields["from"], fields["to"], fields["zone"], fields["reason"], bounds["from"], bounds["to"]), []


def parse_blackout(item: Any) -> Blackout:
    """One blackout from its mapping; a WindowError names each problem's field."""
    blackout, problems = _read(item)
    if blackout is None:
        raise WindowError("; ".join(problem.lstrip(".:").strip() if problem.startswith(":") else problem[1:]
                                    for problem in problems))
    return blackout


def _days(length: timedelta) -> str:
    hours = length.total_seconds() / 3600
    return f"{hours / 24:.2f}".rstrip("0").rstrip(".") + " days"


def parse_blackouts(value: Any, *, setting: str = SETTING) -> Blackouts | None:
    """Every blackout of a setting, or None when it is absent. Accepts a list, or the JSON text of
    one; at most ``windows.MAX_ITEMS``. Every problem is reported at once, each naming its item
    and field: ``cutoverBlackouts[1].to: ...``."""
    if value is None:
        return None
    found: list[Blackout] = []
    problems: list[str] = []
    for index, item in enumerate(read_list(value, setting=setting, example=EXAMPLE, kind="blackouts", text_is_item=False)):
        blackout, wrong = _read(item)
        problems.extend(f"{setting}[{index}]{problem}" for problem in wrong)
        if blackout is not None:
            found.append(blackout)
    if problems:
        raise WindowError("; ".join(problems))
    return tuple(found)


def canonical(blackouts: Blackouts | None) -> list[dict[str, str]] | None:
    """The blackouts in one spelling (what inputs and outputs store): the keys in order, the
    bounds as ``2026-11-27T00:00``, the reason trimmed."""
    return None if blackouts is None else [blackout.canonical() for blackout in blackouts]


def effective(own: Any, stack: Any) -> Blackouts | None:
    """A number's blackouts: the stack's and its own together (None when neither is set)."""
    stacked = parse_blackouts(stack, setting=STACK_KEY)
    owned = parse_blackouts(own)
    if stacked is None and owned is None:
        return None
    together: list[Blackout] = []
    for blackout in (*(stacked or ()), *(owned or ())):
        if blackout not in together:
            together.append(blackout)
    return tuple(together)
