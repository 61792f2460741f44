"""The emulator's mutable world: numbers, faults, latency, call log, clock, app secret,
rejected fields, and persistence.

One discipline: every read or write of this shared state happens under `State.lock` (a
re-entrant lock). Callers that read and then write a number hold it for the whole operation;
the server and the control API go through the methods here, which take it themselves.
Persistence (`--state FILE`) covers the numbers, the known business accounts and the clock
offset, written atomically after every mutation. The app secret is never persisted or shown.
"""

from __future__ import annotations

import collections
import copy
import hashlib
import hmac
import os
import threading
import time
from typing import Any, Iterable

from . import seed as seeds
from .faults import FaultBook
from .fields import rejectable_fields
from .limits import DEFAULT_PAGE_SIZE, latency_value, page_size_value
from .persistence import read_state_file, write_state_file
from .record import NumberRecord

HIDDEN_PIN = "***"


class State:
    def __init__(self, *, seed: str | None = "demo", tokens: Iterable[str] = (seeds.DEFAULT_TOKEN,),
                 latency_ms: float = 0, deregister_keeps_storage: bool = False,
                 state_file: str | None = None, app_secret: str | None = None,
                 page_size: int = DEFAULT_PAGE_SIZE):
        self.lock = threading.RLock()
        self.startup_page_size = page_size_value(page_size)
        self.page_size = self.startup_page_size
        self.tokens = tuple(tokens) or (seeds.DEFAULT_TOKEN,)
        self.deregister_keeps_storage = bool(deregister_keeps_storage)
        self.state_file = state_file
        self.startup_latency_ms = latency_value(latency_ms or 0, "latency_ms")
        self.startup_app_secret = app_secret or None
        self.numbers: dict[str, NumberRecord] = {}
        self.wabas: set[str] = set()
        self.faults = FaultBook(self.lock)
        self.calls: list[dict[str, Any]] = []
        self.latency_ms = self.startup_latency_ms
        self.app_secret = self.startup_app_secret
        self.rejected_fields: frozenset[str] = frozenset()
        self.clock_offset = 0.0
        self.usage_percent: int | None = None
        # Bumped by reset(): requests still in flight from before a reset must not touch the new world.
        self.generation = 0
        self._recent: collections.deque[float] = collections.deque()
        if state_file and os.path.exists(state_file):
            self._load()
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
        """Back to the start: the seed's numbers, no faults, calls, rejected fields or clock offset.

        Latency and the app secret go back to their start-up values. Returns the number count.
        """
        with self.lock:
            self._seed(seed)
            self.generation += 1
            self.faults.clear()
            self.calls.clear()
            self.latency_ms = self.startup_latency_ms
            self.page_size = self.startup_page_size
            self.app_secret = self.startup_app_secret
            self.rejected_fields = frozenset()
            self.clock_offset = 0.0
            self.usage_percent = None
            self._recent.clear()
            self.save()
            return len(self.numbers)

    def _load(self) -> None:
        assert self.state_file is not None
        numbers, self.wabas, self.clock_offset = read_state_file(self.state_file)
        self.numbers = {rec.id: rec for rec in numbers}

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
        rec = NumberRecord.from_dict(fields)
        with self.lock:
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

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {"emulator": "whatsapp-graph", "numbers": len(self.numbers),
                    "deregister_keeps_storage": self.deregister_keeps_storage,
                    "latency_ms": self.latency_ms, "page_size": self.page_size, "now": self.now()}

    # knobs (control API)
    def set_latency(self, ms: object) -> float:
        value = latency_value(ms)
        with self.lock:
            self.latency_ms = value
            return self.latency_ms

    def set_page_size(self, size: object) -> int:
        value = page_size_value(size)
        with self.lock:
            self.page_size = value
            return value

    def get_page_size(self) -> int:
        with self.lock:
            return self.page_size

    def get_latency(self) -> float:
        with self.lock:
            return self.latency_ms

    def begin_request(self) -> tuple[int, float]:
        """The generation a request belongs to and the latency to add to it."""
        with self.lock:
            return self.generation, self.latency_ms

    def set_usage_percent(self, percent: int | None) -> None:
        with self.lock:
            self.usage_percent = percent

    def set_app_secret(self, secret: str | None) -> None:
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ValueError("secret must be a non-empty string, or null to stop requiring it")
        with self.lock:
            self.app_secret = secret

    def app_secret_required(self) -> bool:
        with self.lock:
            return self.app_secret is not None

    def expected_appsecret_proof(self, token: str) -> str | None:
        """The proof a call with `token` must carry, or None while no app secret is required."""
        with self.lock:
            if self.app_secret is None:
                return None
            return hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()

    def reject_fields(self, names: object) -> list[str]:
        """Make these phone number fields "nonexisting" (replacing the previous list)."""
        rejected = rejectable_fields(names)
        with self.lock:
            self.rejected_fields = rejected
            return sorted(rejected)

    def get_rejected_fields(self) -> list[str]:
        with self.lock:
            return sorted(self.rejected_fields)

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
