"""The control API under `/_emulator/`: what tests and people use to set the stage.

`route()` maps a control request (method, path after the prefix, JSON object body) to
`(http_status, body)` through the `State` methods, which take `State.lock` themselves.
Control calls need no token and no appsecret_proof; faults and latency never touch them.
"""

from __future__ import annotations

import math

from .state import State

CONTROL_PREFIX = "/_emulator"


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def route(state: State, method: str, path: str, body: dict):
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "numbers":
        return _numbers(state, method, parts[1:], body)
    handler = _ROUTES.get((method, parts[0] if parts else ""))
    if handler is None or len(parts) > 1:
        raise ControlError(404, f"no control endpoint {method} {CONTROL_PREFIX}{path}")
    return handler(state, body)


def _reset(state: State, body: dict):
    return 200, {"ok": True, "numbers": state.reset(body.get("seed"))}


def _add_fault(state: State, body: dict):
    return 200, state.faults.add(body)


def _clear_faults(state: State, body: dict):
    state.faults.clear()
    return 200, {"ok": True}


def _set_latency(state: State, body: dict):
    ms = body.get("ms")
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0:
        raise ControlError(400, "ms must be a number >= 0")
    return 200, {"ms": state.set_latency(ms)}


def _clear_calls(state: State, body: dict):
    state.clear_calls()
    return 200, {"ok": True}


def _advance_clock(state: State, body: dict):
    seconds = body.get("advance_seconds")
    # Forward only: a clock moved back would hand spent register budget back; NaN or infinity
    # (Python's JSON reader accepts both) would break every budget and lockout check.
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds < math.inf:
        raise ControlError(400, "advance_seconds must be a finite number >= 0 (the clock only moves forward)")
    return 200, {"now": state.advance(seconds)}


def _set_usage(state: State, body: dict):
    pct = body.get("percent")
    if pct is not None and (not isinstance(pct, int) or isinstance(pct, bool) or not 0 <= pct <= 100):
        raise ControlError(400, "percent must be an integer 0-100, or null")
    state.set_usage_percent(pct)
    return 200, {"percent": pct}


def _set_app_secret(state: State, body: dict):
    if set(body) != {"secret"}:
        raise ControlError(400, 'send {"secret": "..."} to require appsecret_proof, '
                                'or {"secret": null} to stop requiring it')
    state.set_app_secret(body["secret"])
    return 200, {"required": body["secret"] is not None}


def _reject_fields(state: State, body: dict):
    if set(body) != {"reject"}:
        raise ControlError(400, 'send {"reject": ["field", ...]}; [] makes every field exist again')
    return 200, {"rejected": state.reject_fields(body["reject"])}


_ROUTES = {
    ("GET", ""): lambda state, body: (200, state.summary()),
    ("POST", "reset"): _reset,
    ("POST", "faults"): _add_fault,
    ("GET", "faults"): lambda state, body: (200, state.faults.pending()),
    ("DELETE", "faults"): _clear_faults,
    ("POST", "latency"): _set_latency,
    ("GET", "latency"): lambda state, body: (200, {"ms": state.get_latency()}),
    ("GET", "calls"): lambda state, body: (200, state.list_calls()),
    ("DELETE", "calls"): _clear_calls,
    ("POST", "clock"): _advance_clock,
    ("GET", "clock"): lambda state, body: (200, {"now": state.now()}),
    ("POST", "usage"): _set_usage,
    ("POST", "app_secret"): _set_app_secret,
    ("GET", "app_secret"): lambda state, body: (200, {"required": state.app_secret_required()}),
    ("POST", "fields"): _reject_fields,
    ("GET", "fields"): lambda state, body: (200, {"rejected": state.get_rejected_fields()}),
}


def _numbers(state: State, method: str, rest: list[str], body: dict):
    if not rest:
        if method == "GET":
            return 200, state.list_numbers()
        if method == "POST":
            try:
                return 201, state.add_number(body)
            except KeyError:
                raise ControlError(409, f"number {body.get('id')} already exists") from None
        raise ControlError(405, f"{method} not allowed on {CONTROL_PREFIX}/numbers")
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
