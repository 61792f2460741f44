"""The emulator's mutable world: numbers, business accounts, clock, faults, call log, persistence.

One discipline: every read or write of this shared state happens under `State.lock` (a
re-entrant lock). Callers that read and then write a number hold it for the whole operation;
the server and the control API go through the methods here, which take it themselves. The
control API's knobs (knobs.py) share the lock. Persistence (`--state FILE`) covers the numbers,
the known business accounts and the clock offset, written atomically after every mutation. The
app secret is never persisted or shown.
"""

from __future__ import annotations

import collections
import copy
import hmac
import os
import threading
import time
from typing import Any

from . import seed as seeds
from .faults import FaultBook
from .knobs import Knobs, Options
from .persistence import read_state_file, write_state_file
from .record import NumberRecord

HIDDEN_PIN = "***"
APP_CALLS_PER_HOUR = 5000  # the notional app-wide allowance behind X-App-Usage (choice)


class State:
    def __init__(self, *, seed: str | None = "demo", state_file: str | None = None,
                 options: Options | None = None) -> None:
        self.lock = threading.RLock()
        self.options = options or Options()
        self.knobs = Knobs(self.options, self.lock)
        # The accepted tokens; a test may take one away (Meta revoking it) under the lock.
        self.tokens: tuple[str, ...] = self.options.tokens
        self.state_file = state_file
        self.numbers: dict[str, NumberRecord] = {}
        self.wabas: set[str] = set()
        self.faults = FaultBook(self.lock)
        self.calls: list[dict[str, Any]] = []
        self.clock_offset = 0.0
        # Bumped by reset(): requests still in flight from before a reset must not touch the new world.
        self.generation = 0
        self._recent: collections.deque[float] = collections.deque()
        if state_file and os.path.exists(state_file):
            numbers, self.wabas, self.clock_offset = read_state_file(state_file)
            self.numbers = {rec.id: rec for rec in numbers}
        else:
            self._seed(seed)
            self.save()

    # clock
    def now(self) -> float:
        with self.lock:
            return time.time() + self.clock_offset

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.clock_offset += float(seconds)
            self.save()
            return self.now()

    # seeding and persistence
    def _seed(self, seed: str | None) -> None:
        self.numbers = {n.id: n for n in seeds.numbers_for_seed(seed)}
        self.wabas = {n.waba_id for n in self.numbers.values()}
        if seed == "demo":
            self.wabas.add(seeds.DEMO_WABA_ID)

    def reset(self, seed: str | None) -> int:
        """Back to the start: the seed's numbers, no faults, calls, counted calls or clock offset,
        and every knob at its start-up value. Returns the number count."""
        with self.lock:
            self._seed(seed)
            self.generation += 1
            self.faults.clear()
            self.calls.clear()
            self.knobs.reset()
            self.clock_offset = 0.0
            self._recent.clear()
            self.save()
            return len(self.numbers)

    def save(self) -> None:
        if self.state_file:
            with self.lock:
                write_state_file(self.state_file, self.numbers.values(), self.wabas, self.clock_offset)

    # numbers (control API)
    # The control API never answers with a PIN: a web page that reached it must not learn one,
    # and a test asks `pin_matches` instead.
    @staticmethod
    def _shown(rec: NumberRecord) -> dict[str, Any]:
        out = rec.to_dict()
        if out["pin"] is not None:
            out["pin"] = HIDDEN_PIN
        return out

    def list_numbers(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._shown(self.numbers[k]) for k in sorted(self.numbers)]

    def get_number(self, id_: str) -> dict[str, Any] | None:
        with self.lock:
            rec = self.numbers.get(id_)
            return self._shown(rec) if rec is not None else None

    def pin_matches(self, id_: str, pin: object) -> bool | None:
        """Whether `pin` is the number's two-step PIN (None: no such number)."""
        with self.lock:
            rec = self.numbers.get(id_)
            if rec is None:
                return None
            return isinstance(pin, str) and rec.pin is not None and hmac.compare_digest(
                pin.encode(), rec.pin.encode())

    def add_number(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A new number; without its own times it was created and onboarded now (emulator clock)."""
        with self.lock:
            now = self.now()
            stamped = {"created_at": now, **fields}
            stamped.setdefault("onboarded_at", stamped["created_at"])
            rec = NumberRecord.from_dict(stamped)
            if rec.id in self.numbers:
                raise KeyError(rec.id)
            self.numbers[rec.id] = rec
            self.wabas.add(rec.waba_id)
            self.save()
            return self._shown(rec)

    def patch_number(self, id_: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            rec = self.numbers.get(id_)
            if rec is None:
                return None
            merged = rec.merged(fields)
            self.numbers[id_] = merged
            self.wabas.add(merged.waba_id)
            self.save()
            return self._shown(merged)

    def delete_number(self, id_: str) -> bool:
        with self.lock:
            # The WABA stays known so that listing it answers an empty page, not 100/33.
            found = self.numbers.pop(id_, None) is not None
            if found:
                self.save()
            return found

    def business_id_for(self, object_id: str | None) -> str | None:
        """The business account a Graph path's first segment belongs to (for usage headers)."""
        if not object_id:
            return None
        with self.lock:
            rec = self.numbers.get(object_id)
            return rec.waba_id if rec is not None else object_id

    def account_numbers(self, waba_id: str) -> list[NumberRecord]:
        with self.lock:
            return [r for r in self.numbers.values() if r.waba_id == waba_id]

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {"emulator": "whatsapp-graph", "numbers": len(self.numbers),
                    "deregister_keeps_storage": self.options.deregister_keeps_storage,
                    "register_accepts_region": self.options.register_accepts_region,
                    "lowercase_statuses": self.options.lowercase_statuses,
                    "rate_limit": self.knobs.limits.enabled,
                    "latency_ms": self.knobs.latency_ms, "page_size": self.knobs.page_size,
                    "now": self.now()}

    def begin_request(self) -> tuple[int, float]:
        """The generation a request belongs to and the latency to add to it."""
        with self.lock:
            return self.generation, self.knobs.latency_ms

    # Meta's hourly business-use-case limit (ratelimit.py)
    def has_registered_number(self, waba_id: str) -> bool:
        with self.lock:
            return any(r.registered for r in self.numbers.values() if r.waba_id == waba_id)

    def count_business_call(self, waba_id: str) -> None:
        """Count a call Meta counts against the account's hourly limit, or raise 80008."""
        with self.lock:
            self.knobs.limits.count(waba_id, self.now(), self.has_registered_number(waba_id))

    def rate_limits(self) -> dict[str, Any]:
        with self.lock:
            accounts = {w: self.has_registered_number(w) for w in self.wabas}
            return self.knobs.limits.describe(self.now(), accounts)

    def usage_headers(self, business_id: str | None) -> dict[str, Any]:
        """The usage headers' values: the app's (a notional allowance of every Graph call in the
        last hour) and the business account's (its hourly limit), pinned by `/_emulator/usage`."""
        with self.lock:
            now = self.now()
            self._recent.append(now)
            while self._recent and self._recent[0] <= now - 3600:
                self._recent.popleft()
            pinned = self.knobs.usage_percent
            app = pinned if pinned is not None else min(100, len(self._recent) * 100 // APP_CALLS_PER_HOUR)
            waba = business_id or "0"
            usage = self.knobs.limits.usage(waba, now, self.has_registered_number(waba))
            return {"X-App-Usage": {"call_count": app, "total_cputime": min(app, 1), "total_time": app},
                    "X-Business-Use-Case-Usage": {waba: [usage.header_entry(pinned)]}}

    # call log
    def log_call(self, entry: dict[str, Any], generation: int) -> None:
        """Log a finished call, unless a reset happened since it started."""
        with self.lock:
            entry["finished"] = self.now()
            if self.generation == generation:
                self.calls.append(entry)

    def list_calls(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.calls)

    def clear_calls(self) -> None:
        with self.lock:
            self.calls.clear()
