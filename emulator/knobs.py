"""The emulator's settings: the start-up options, and the knobs the control API turns.

`Options` is what `python -m emulator` and `start_emulator()` were given; `Knobs` holds what the
control API may change (latency, page size, app secret, rejected fields, pinned usage, the
hourly limits) and goes back to the options on reset. Knobs share `State.lock`.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from typing import Iterable

from . import seed as seeds
from .fields import rejectable_fields
from .limits import DEFAULT_PAGE_SIZE, latency_value, page_size_value
from .ratelimit import RateLimits


@dataclass(frozen=True)
class Options:
    """Start-up options; each is also a `python -m emulator` flag (emulator/README.md)."""

    tokens: tuple[str, ...] = (seeds.DEFAULT_TOKEN,)
    latency_ms: float = 0.0
    page_size: int = DEFAULT_PAGE_SIZE
    app_secret: str | None = None
    deregister_keeps_storage: bool = False
    # Register with data_localization_region on v21.0+: Meta's spec and live API refuse it with
    # code 12; the HTML guide still shows it. True follows the guide (a choice, off by default).
    register_accepts_region: bool = False
    # Answer storage statuses and regions in lower case, as Meta's Settings reference shows them.
    lowercase_statuses: bool = False
    rate_limit: bool = True  # Meta's hourly business-use-case limit

    @classmethod
    def make(cls, *, tokens: Iterable[str] = (seeds.DEFAULT_TOKEN,), latency_ms: float = 0,
             page_size: int = DEFAULT_PAGE_SIZE, app_secret: str | None = None,
             deregister_keeps_storage: bool = False, register_accepts_region: bool = False,
             lowercase_statuses: bool = False, rate_limit: bool = True) -> Options:
        """Options checked as the control API checks the same values (ValueError names the rule)."""
        return cls(tokens=tuple(tokens) or (seeds.DEFAULT_TOKEN,),
                   latency_ms=latency_value(latency_ms or 0, "latency_ms"),
                   page_size=page_size_value(page_size), app_secret=app_secret or None,
                   deregister_keeps_storage=bool(deregister_keeps_storage),
                   register_accepts_region=bool(register_accepts_region),
                   lowercase_statuses=bool(lowercase_statuses), rate_limit=bool(rate_limit))


class Knobs:
    """What the control API changes until the next reset."""

    def __init__(self, options: Options, lock: threading.RLock) -> None:
        self.options = options
        self.lock = lock
        self.limits = RateLimits(options.rate_limit)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.latency_ms = self.options.latency_ms
            self.page_size = self.options.page_size
            self.app_secret = self.options.app_secret
            self.rejected_fields: frozenset[str] = frozenset()
            self.usage_percent: int | None = None
            self.limits.reset()

    def set_latency(self, ms: object) -> float:
        value = latency_value(ms)
        with self.lock:
            self.latency_ms = value
            return value

    def set_page_size(self, size: object) -> int:
        value = page_size_value(size)
        with self.lock:
            self.page_size = value
            return value

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

    def expected_appsecret_proof(self, signed: str) -> str | None:
        """The proof a call signing `signed` must carry, or None while no app secret is required."""
        with self.lock:
            if self.app_secret is None:
                return None
            return hmac.new(self.app_secret.encode(), signed.encode(), hashlib.sha256).hexdigest()

    def reject_fields(self, names: object) -> list[str]:
        """Make these phone number fields "nonexisting" (replacing the previous list)."""
        rejected = rejectable_fields(names)
        with self.lock:
            self.rejected_fields = rejected
            return sorted(rejected)

    def get_rejected_fields(self) -> list[str]:
        with self.lock:
            return sorted(self.rejected_fields)
