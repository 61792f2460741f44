"""Reading the emulator's call log: one place for what the tests and benchmarks count.

Each entry is a dict with ``method``, ``path`` (``/{number}`` or ``/{number}/{edge}``),
``status``, ``code``, ``started`` and ``finished`` (one clock: the emulator's). From it:

- which calls were made: ``number_of``, ``edge_of``, ``call_kind``, ``posts``, ``post_edges``;
- mutating calls per number and the register budget they used (``mutating_per_number``,
  ``budget_used``: Meta counts register and deregister calls, 10 per 72 hours);
- when numbers were offline (``offline_intervals``) and how many at once (``max_overlap``);
- sequential waits (``merged``, ``round_trips``).
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping

REGISTRATION_EDGES = ("register", "deregister")


def number_of(call: dict) -> str:
    parts = [p for p in call["path"].split("/") if p]
    return parts[0] if parts else ""


def edge_of(call: dict) -> str:
    """``node`` for the number itself, else the edge: ``settings``, ``register``, ..."""
    parts = [p for p in call["path"].split("/") if p]
    return parts[1] if len(parts) > 1 else "node"


def call_kind(call: dict, number_id: str) -> str:
    """``GET number``, ``GET settings``, ``POST deregister``, ... for a call about ``number_id``."""
    path = call["path"]
    rest = path[len(f"/{number_id}"):] if path.startswith(f"/{number_id}") else path
    return f"{call['method']} {rest.strip('/') or 'number'}"


def posts(calls: Iterable[dict]) -> list[dict]:
    return [c for c in calls if c["method"] == "POST"]


def post_edges(calls: Iterable[dict], number: str | None = None) -> list[str]:
    """The mutating calls in order, named as ``applied_steps`` names them (``POST /{id}`` sets the PIN)."""
    names = {"node": "set_pin"}
    return [names.get(edge_of(c), edge_of(c)) for c in posts(calls) if number is None or number_of(c) == number]


def mutating_per_number(calls: Iterable[dict]) -> Counter:
    return Counter(number_of(c) for c in posts(calls))


def budget_used(calls: Iterable[dict], number: str) -> int:
    """Register and deregister calls sent for ``number``: what Meta counts against its budget."""
    return sum(1 for c in posts(calls) if number_of(c) == number and edge_of(c) in REGISTRATION_EDGES)


def offline_intervals(calls: Iterable[dict]) -> dict[str, list[tuple[float, float]]]:
    """Per number: from a successful deregister's start to the end of the register that brought it
    back (``inf`` when it did not come back in this log)."""
    intervals: dict[str, list[tuple[float, float]]] = {}
    down: dict[str, float] = {}
    for call in sorted(calls, key=lambda c: c["started"]):
        if call["method"] != "POST" or call.get("status") != 200:
            continue
        number, edge = number_of(call), edge_of(call)
        if edge == "deregister":
            down.setdefault(number, call["started"])
        elif edge == "register" and number in down:
            intervals.setdefault(number, []).append((down.pop(number), call["finished"]))
    for number, since in down.items():
        intervals.setdefault(number, []).append((since, float("inf")))
    return intervals


def max_overlap(spans: Mapping[str, list[tuple[float, float]]] | Iterable[tuple[float, float]]) -> int:
    """The most spans open at one moment: ``offline_intervals(...)`` or a list of (start, end)."""
    flat = [s for per in spans.values() for s in per] if isinstance(spans, Mapping) else list(spans)
    events = sorted([(s, 1) for s, _ in flat] + [(e, -1) for _, e in flat])
    peak = level = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def merged(calls: Iterable[dict]) -> list[tuple[float, float]]:
    """Overlapping [started, finished] intervals merged: each result is one sequential wait."""
    spans = sorted((c["started"], c["finished"] if c["finished"] is not None else c["started"]) for c in calls)
    out: list[list[float]] = []
    for start, end in spans:
        if out and start < out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(a, b) for a, b in out]


def round_trips(calls: Iterable[dict]) -> int:
    return len(merged(calls))


def by_number(calls: Iterable[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for call in calls:
        out.setdefault(number_of(call), []).append(call)
    return out
