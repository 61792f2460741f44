"""Injected faults: what the control API may ask for, and which pending fault a request takes.

A `FaultBook` shares the emulator's one lock (`State.lock`), so taking a fault and processing
the request it lets through cannot interleave with a reset.
"""

from __future__ import annotations

import fnmatch
import threading
from typing import Any

from .errors import http_status_for
from .limits import latency_value

FAULT_KEYS = ("method", "path", "count", "status", "code", "subcode", "message", "error_data",
              "retry_after", "delay_ms", "drop", "apply")
# An HTTP status given without a code gets the Graph code that usually travels with it.
_CODE_FOR_STATUS = {401: 190, 403: 10, 500: 131000, 503: 133004}


Fault = dict[str, Any]


def _whole(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number")
    return value


def fault_from_spec(spec: dict[str, Any]) -> Fault:
    """A complete fault from the control API's body; ValueError names a bad field."""
    unknown = set(spec) - set(FAULT_KEYS)
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    fault: Fault = {"method": str(spec.get("method") or "*").upper(),
             "path": str(spec.get("path") or "*"),
             "count": spec.get("count", 1),
             "subcode": spec.get("subcode"),
             "message": spec.get("message"),
             "error_data": spec.get("error_data"),
             "retry_after": spec.get("retry_after"),
             "delay_ms": latency_value(spec.get("delay_ms") or 0, "delay_ms"),
             "drop": bool(spec.get("drop", False)),
             "apply": bool(spec.get("apply", False))}
    if fault["count"] is not None and (not isinstance(fault["count"], int) or fault["count"] < 1):
        raise ValueError("count must be a positive integer, or null for every matching request")
    status, code = spec.get("status"), spec.get("code")
    if status is None and code is None:
        # A fault that only delays (or drops) needs no error; a bare fault means 503/133004.
        if not fault["delay_ms"] and not fault["drop"]:
            status, code = 503, 133004
    elif code is None:
        code = _CODE_FOR_STATUS.get(_whole(status, "status"), 1)
    elif status is None:
        status = http_status_for(_whole(code, "code"))
    fault["status"] = _whole(status, "status") if status is not None else None
    fault["code"] = _whole(code, "code") if code is not None else None
    return fault


class FaultBook:
    """Pending faults, tried in the order they were added."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._faults: list[Fault] = []

    def add(self, spec: dict[str, Any]) -> Fault:
        fault = fault_from_spec(spec)
        with self._lock:
            self._faults.append(fault)
        return dict(fault)

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching the request, counted down; None when none matches."""
        with self._lock:
            for fault in self._faults:
                if fault["method"] not in ("*", method):
                    continue
                if not fnmatch.fnmatchcase(path, fault["path"]):
                    continue
                if fault["count"] is not None:
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        self._faults.remove(fault)
                return {k: v for k, v in fault.items() if k != "count"}
            return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return [dict(f) for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
