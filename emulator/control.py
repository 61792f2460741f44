"""The control API under `/_emulator/`: what tests and people use to set the stage.

`route()` maps a control request (method, path after the prefix, JSON object body) to
`(http_status, body)` through the `State` methods, which take `State.lock` themselves.
Control calls need no token and no appsecret_proof; faults and latency never touch them.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .state import State

CONTROL_PREFIX = "/_emulator"
Body = dict[str, Any]
Answer = tuple[int, Any]


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def route(state: State, method: str, path: str, body: Body) -> Answer:
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "numbers":
        return _numbers(state, method, parts[1:], body)
    handler = _ROUTES.get((method, parts[0] if parts else ""))
    if handler is None or len(parts) > 1:
        raise ControlError(404, f"no control endpoint {method} {CONTROL_PREFIX}{path}")
    return handler(state, body)


def _reset(state: State, body: Body) -> Answer:
    return 200, {"ok": True, "numbers": state.reset(body.get("seed"))}


def _add_fault(state: State, body: Body) -> Answer:
    return 200, state.faults.add(body)


def _clear_faults(state: State, body: Body) -> Answer:
    state.faults.clear()
    return 200, {"ok": True}


def _set_latency(state: State, body: Body) -> Answer:
    # NaN, infinity or 1e300 (Python's JSON reader accepts all three) would make every call hang.
    return 200, {"ms": state.knobs.set_latency(body.get("ms"))}


def _set_page_size(state: State, body: Body) -> Answer:
    if set(body) != {"size"}:
        raise ControlError(400, 'send {"size": N} (1-100): the listing\'s page size when no limit is given')
    return 200, {"size": state.knobs.set_page_size(body["size"])}


def _clear_calls(state: State, body: Body) -> Answer:
    state.clear_calls()
    return 200, {"ok": True}


def _advance_clock(state: State, body: Body) -> Answer:
    seconds = body.get("advance_seconds")
    # Forward only: a clock moved back would hand spent register budget back; NaN or infinity
    # (Python's JSON reader accepts both) would break every budget and lockout check.
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds < math.inf:
        raise ControlError(400, "advance_seconds must be a finite number >= 0 (the clock only moves forward)")
    return 200, {"now": state.advance(seconds)}


def _set_usage(state: State, body: Body) -> Answer:
    pct = body.get("percent")
    if pct is not None and (not isinstance(pct, int) or isinstance(pct, bool) or not 0 <= pct <= 100):
        raise ControlError(400, "percent must be an integer 0-100, or null")
    state.knobs.set_usage_percent(pct)
    return 200, {"percent": pct}


def _set_app_secret(state: State, body: Body) -> Answer:
    if set(body) != {"secret"}:
        raise ControlError(400, 'send {"secret": "..."} to require appsecret_proof, '
                                'or {"secret": null} to stop requiring it')
    state.knobs.set_app_secret(body["secret"])
    return 200, {"required": body["secret"] is not None}


def _reject_fields(state: State, body: Body) -> Answer:
    if set(body) != {"reject"}:
        raise ControlError(400, 'send {"reject": ["field", ...]}; [] makes every field exist again')
    return 200, {"rejected": state.knobs.reject_fields(body["reject"])}


def _set_rate_limit(state: State, body: Body) -> Answer:
    """Meta's hourly limit per business account: a number for every account or for one, null
    for Meta's own figures, or `{"enabled": false}` for tests that do not care about it."""
    with state.lock:
        state.knobs.limits.configure(body)
    return 200, state.rate_limits()


_ROUTES: dict[tuple[str, str], Callable[[State, Body], Answer]] = {
    ("GET", ""): lambda state, body: (200, state.summary()),
    ("POST", "reset"): _reset,
    ("POST", "faults"): _add_fault,
    ("GET", "faults"): lambda state, body: (200, state.faults.pending()),
    ("DELETE", "faults"): _clear_faults,
    ("POST", "latency"): _set_latency,
    ("GET", "latency"): lambda state, body: (200, {"ms": state.knobs.latency_ms}),
    ("POST", "page_size"): _set_page_size,
    ("GET", "page_size"): lambda state, body: (200, {"size": state.knobs.page_size}),
    ("GET", "calls"): lambda state, body: (200, state.list_calls()),
    ("DELETE", "calls"): _clear_calls,
    ("POST", "clock"): _advance_clock,
    ("GET", "clock"): lambda state, body: (200, {"now": state.now()}),
    ("POST", "usage"): _set_usage,
    ("POST", "app_secret"): _set_app_secret,
    ("GET", "app_secret"): lambda state, body: (200, {"required": state.knobs.app_secret_required()}),
    ("POST", "fields"): _reject_fields,
    ("GET", "fields"): lambda state, body: (200, {"rejected": state.knobs.get_rejected_fields()}),
    ("POST", "rate_limit"): _set_rate_limit,
    ("GET", "rate_limit"): lambda state, body: (200, state.rate_limits()),
}


def _numbers(state: State, method: str, rest: list[str], body: Body) -> Answer:
    if not rest:
        if method == "GET":
            return 200, state.list_numbers()
        if method == "POST":
            try:
                return 201, state.add_number(body)
            except KeyError:
                raise ControlError(409, f"number {body.get('id')} already exists") from None
        raise ControlError(405, f"{method} not allowed on {CONTROL_PREFIX}/numbers")
    if len(rest) == 2 and rest[1] == "pin_check" and method == "POST":
        # Answers whether a PIN is the number's, never the PIN itself.
        if set(body) != {"pin"}:
            raise ControlError(400, 'send {"pin": "123456"}')
        matches = state.pin_matches(rest[0], body["pin"])
        if matches is None:
            raise ControlError(404, f"no number {rest[0]}")
        return 200, {"matches": matches}
    if len(rest) != 1:
        raise ControlError(404, "no such control endpoint")
    id_ = rest[0]
    if method == "GET":
        rec = state.get_number(id_)
    elif method == "PATCH":
        rec = state.patch_number(id_, body)
    elif method == "DELETE":
        if not state.delete_number(id_):
            raise ControlError(404, f"no number {id_}")
        return 200, {"deleted": id_}
    else:
        raise ControlError(405, f"{method} not allowed on {CONTROL_PREFIX}/numbers/{id_}")
    if rec is None:
        raise ControlError(404, f"no number {id_}")
    return 200, rec
