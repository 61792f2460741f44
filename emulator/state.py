"""The emulator's mutable world: numbers, faults, latency, call log, clock and persistence.

Everything here is guarded by one re-entrant lock (`State.lock`); callers that read and then
write a number hold it for the whole operation. Persistence (`--state FILE`) covers the numbers,
the known business accounts and the clock offset, written atomically after every mutation.
"""

from __future__ import annotations

import collections
import copy
import fnmatch
import json
import os
import tempfile
import threading
import time

from . import seed as seeds

FAULT_KEYS = ("method", "path", "count", "status", "code", "subcode", "message", "error_data",
              "retry_after", "delay_ms", "drop", "apply")
# An HTTP status given without a code gets the Graph code that usually travels with it.
_CODE_FOR_STATUS = {401: 190, 403: 10, 500: 131000, 503: 133004}
_STATE_FILE_VERSION = 1


class State:
    def __init__(self, *, seed: str | None = "demo", tokens=(seeds.DEFAULT_TOKEN,),
                 latency_ms: float = 0, deregister_keeps_storage: bool = False,
                 state_file: str | None = None):
        self.lock = threading.RLock()
        self.tokens = tuple(tokens) or (seeds.DEFAULT_TOKEN,)
        self.deregister_keeps_storage = bool(deregister_keeps_storage)
        self.state_file = state_file
        self.startup_latency_ms = float(latency_ms or 0)
        self.numbers: dict[str, dict] = {}
        self.wabas: set[str] = set()
        self.faults: list[dict] = []
        self.calls: list[dict] = []
        self.latency_ms = self.startup_latency_ms
        self.clock_offset = 0.0
        self.usage_percent: int | None = None
        # Bumped by reset(): requests still in flight from before a reset must not touch the new world.
        self.generation = 0
        self._recent = collections.deque()
        if state_file and os.path.exists(state_file):
            self._load()
        else:
            self._seed(seed)
            self.save()

    # clock
    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.clock_offset += float(seconds)
            self.save()
            return self.now()

    # seeding and persistence
    def _seed(self, seed: str | None) -> None:
        self.numbers = {n["id"]: n for n in seeds.numbers_for_seed(seed)}
        self.wabas = {n["waba_id"] for n in self.numbers.values()}
        if seed == "demo":
            self.wabas.add(seeds.DEMO_WABA_ID)

    def reset(self, seed: str | None) -> None:
        with self.lock:
            self._seed(seed)
            self.generation += 1
            self.faults.clear()
            self.calls.clear()
            self.latency_ms = self.startup_latency_ms
            self.clock_offset = 0.0
            self.usage_percent = None
            self._recent.clear()
            self.save()

    def _load(self) -> None:
        with open(self.state_file, encoding="utf-8") as f:
            data = json.load(f)
        self.numbers = {}
        for rec in data.get("numbers", []):
            rec = seeds.complete_record(rec)
            self.numbers[rec["id"]] = rec
        self.wabas = set(data.get("wabas", [])) | {n["waba_id"] for n in self.numbers.values()}
        self.clock_offset = float(data.get("clock_offset", 0.0))

    def save(self) -> None:
        if not self.state_file:
            return
        with self.lock:
            data = {"version": _STATE_FILE_VERSION,
                    "numbers": [self.numbers[k] for k in sorted(self.numbers)],
                    "wabas": sorted(self.wabas),
                    "clock_offset": self.clock_offset}
            directory = os.path.dirname(os.path.abspath(self.state_file))
            fd, tmp = tempfile.mkstemp(prefix=".emulator-state-", suffix=".tmp", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(data, f, indent=1, sort_keys=True)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.state_file)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise

    # numbers (control API)
    def list_numbers(self) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(self.numbers[k]) for k in sorted(self.numbers)]

    def get_number(self, id_: str) -> dict | None:
        with self.lock:
            rec = self.numbers.get(id_)
            return copy.deepcopy(rec) if rec is not None else None

    def add_number(self, fields: dict) -> dict:
        rec = seeds.complete_record(fields)
        with self.lock:
            if rec["id"] in self.numbers:
                raise KeyError(rec["id"])
            self.numbers[rec["id"]] = rec
            self.wabas.add(rec["waba_id"])
            self.save()
            return copy.deepcopy(rec)

    def patch_number(self, id_: str, fields: dict) -> dict | None:
        with self.lock:
            rec = self.numbers.get(id_)
            if rec is None:
                return None
            if "id" in fields and str(fields["id"]) != id_:
                raise ValueError("id cannot be changed")
            merged = copy.deepcopy(rec)
            merged.update(copy.deepcopy(fields))
            merged = seeds.complete_record(merged)
            self.numbers[id_] = merged
            self.wabas.add(merged["waba_id"])
            self.save()
            return copy.deepcopy(merged)

    def delete_number(self, id_: str) -> bool:
        with self.lock:
            # The WABA stays known so that listing it answers an empty page, not 100/33.
            found = self.numbers.pop(id_, None) is not None
            if found:
                self.save()
            return found

    # faults
    def add_fault(self, spec: dict) -> dict:
        unknown = set(spec) - set(FAULT_KEYS)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        fault = {"method": str(spec.get("method") or "*").upper(),
                 "path": str(spec.get("path") or "*"),
                 "count": spec.get("count", 1),
                 "subcode": spec.get("subcode"),
                 "message": spec.get("message"),
                 "error_data": spec.get("error_data"),
                 "retry_after": spec.get("retry_after"),
                 "delay_ms": float(spec.get("delay_ms") or 0),
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
            code = _CODE_FOR_STATUS.get(int(status), 1)
        elif status is None:
            from .graph import http_status_for
            status = http_status_for(int(code))
        fault["status"] = int(status) if status is not None else None
        fault["code"] = int(code) if code is not None else None
        with self.lock:
            self.faults.append(fault)
        return dict(fault)

    def take_fault(self, method: str, path: str) -> dict | None:
        with self.lock:
            for fault in self.faults:
                if fault["method"] not in ("*", method):
                    continue
                if not fnmatch.fnmatchcase(path, fault["path"]):
                    continue
                if fault["count"] is not None:
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        self.faults.remove(fault)
                return {k: v for k, v in fault.items() if k != "count"}
            return None

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # call log
    def log_call(self, entry: dict) -> None:
        with self.lock:
            self.calls.append(entry)

    def list_calls(self) -> list[dict]:
        with self.lock:
            return copy.deepcopy(self.calls)

    def clear_calls(self) -> None:
        with self.lock:
            self.calls.clear()

    # usage headers
    def usage(self) -> int:
        """Percent of a notional hourly call allowance used, for the X-*-Usage headers."""
        with self.lock:
            now = time.monotonic()
            self._recent.append(now)
            while self._recent and self._recent[0] < now - 3600:
                self._recent.popleft()
            if self.usage_percent is not None:
                return self.usage_percent
            return min(100, len(self._recent) * 100 // 5000)
