"""Meta's hourly business-use-case limit, per business account, on the emulator's clock.

docs/graph-api.md ("Rate limits", from Meta's rate-limiting page and the WhatsApp platform overview):
200 calls per hour per app per business account, 5,000 once the account has a registered number;
it covers `GET /{waba_id}`, `GET /{waba_id}/phone_numbers` and `GET /{phone_number_id}`. Over it
Meta answers 80008, and `X-Business-Use-Case-Usage` reports per account `call_count`,
`total_cputime`, `total_time` (percent) and `estimated_time_to_regain_access` (minutes).

The window is the last hour of the emulator's clock, so `POST /_emulator/clock` moves a test past
it without waiting. A refused call is not counted *(choice)*: access returns when the oldest
counted call leaves the window. Every method here is called under `State.lock`.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Any

from .errors import GraphError

HOUR = 3600.0
CALLS_PER_HOUR = 200              # Meta: per app per business account
CALLS_PER_HOUR_REGISTERED = 5000  # Meta: once the account has a registered number
MAX_CALLS_PER_HOUR = 1_000_000    # a bound on the control API's value (choice)
USAGE_TYPE = "whatsapp_business_management"


@dataclass(frozen=True)
class Usage:
    """One business account's use of its hourly limit at one moment."""

    calls: int
    limit: int
    regain_seconds: float  # 0 while a counted call would be accepted

    @property
    def percent(self) -> int:
        return self.calls * 100 // self.limit

    @property
    def regain_minutes(self) -> int:
        """Meta states the wait in whole minutes; a part of a minute is a minute."""
        return math.ceil(self.regain_seconds / 60) if self.regain_seconds > 0 else 0

    def header_entry(self, pinned_percent: int | None) -> dict[str, Any]:
        """The account's entry of `X-Business-Use-Case-Usage` (percentages: `pinned_percent` when
        the control API fixed them, else the share of the limit used; the emulator models calls
        only, so the time and CPU figures repeat it)."""
        pct = self.percent if pinned_percent is None else pinned_percent
        return {"type": USAGE_TYPE, "call_count": pct, "total_cputime": pct, "total_time": pct,
                "estimated_time_to_regain_access": self.regain_minutes}


def too_many_calls() -> GraphError:
    """Meta's answer over the limit; how long to wait is in the usage header, not the envelope."""
    return GraphError(
        80008, "There have been too many calls to this WhatsApp Business account. Wait a bit and "
               "try again. For more info, please refer to "
               "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.")


def _calls_per_hour(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CALLS_PER_HOUR:
        raise ValueError(f"calls_per_hour must be a whole number from 1 to {MAX_CALLS_PER_HOUR}, "
                         "or null for Meta's limits (200 an hour, 5,000 with a registered number)")
    return value


class RateLimits:
    """Counted calls per business account, and the limits the control API set."""

    def __init__(self, enabled: bool = True) -> None:
        self.startup_enabled = bool(enabled)
        self.enabled = self.startup_enabled
        self.all_accounts: int | None = None      # None: Meta's 200 / 5,000
        self.per_account: dict[str, int] = {}
        self._calls: dict[str, collections.deque[float]] = {}

    def reset(self) -> None:
        self.enabled = self.startup_enabled
        self.all_accounts = None
        self.per_account.clear()
        self._calls.clear()

    def limit_for(self, business_id: str, registered: bool) -> int:
        if business_id in self.per_account:
            return self.per_account[business_id]
        if self.all_accounts is not None:
            return self.all_accounts
        return CALLS_PER_HOUR_REGISTERED if registered else CALLS_PER_HOUR

    def usage(self, business_id: str, now: float, registered: bool) -> Usage:
        limit = self.limit_for(business_id, registered)
        window = self._calls.get(business_id)
        if not self.enabled or not window:
            return Usage(0, limit, 0.0)
        while window and window[0] <= now - HOUR:
            window.popleft()
        regain = 0.0
        if len(window) >= limit:
            # Access returns when enough counted calls have left the window for one more to fit.
            regain = max(0.0, window[len(window) - limit] + HOUR - now)
        return Usage(len(window), limit, regain)

    def count(self, business_id: str, now: float, registered: bool) -> None:
        """Count one call Meta counts against the account, or refuse it with 80008."""
        if not self.enabled:
            return
        usage = self.usage(business_id, now, registered)
        if usage.calls >= usage.limit:
            raise too_many_calls()
        self._calls.setdefault(business_id, collections.deque()).append(now)

    def configure(self, body: dict[str, Any]) -> None:
        """The control API's `{"calls_per_hour": N}`, `{"waba_id": W, "calls_per_hour": N}` or
        `{"enabled": bool}`; ValueError names what is wrong and changes nothing."""
        unknown = set(body) - {"calls_per_hour", "waba_id", "enabled"}
        if unknown or not body or ("enabled" in body and len(body) > 1) \
                or ("waba_id" in body and "calls_per_hour" not in body):
            raise ValueError('send {"calls_per_hour": N} for every business account, '
                             '{"waba_id": "W", "calls_per_hour": N} for one (null: Meta\'s limits), '
                             'or {"enabled": false} to stop counting')
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise ValueError("enabled must be true or false")
            self.enabled = body["enabled"]
            return
        value = _calls_per_hour(body["calls_per_hour"])
        if "waba_id" not in body:
            self.all_accounts = value
            return
        waba = body["waba_id"]
        if not isinstance(waba, str) or not waba.isascii() or not waba.isdigit():
            raise ValueError("waba_id must be a business account ID (ASCII digits, as a string)")
        if value is None:
            self.per_account.pop(waba, None)
        else:
            self.per_account[waba] = value

    def describe(self, now: float, accounts: dict[str, bool]) -> dict[str, Any]:
        """What the control API shows: the settings, and each known account's usage
        (`accounts` maps every known business account to whether it has a registered number)."""
        shown = {}
        for waba, registered in sorted(accounts.items()):
            usage = self.usage(waba, now, registered)
            shown[waba] = {"calls": usage.calls, "limit": usage.limit, "percent": usage.percent,
                           "estimated_time_to_regain_access": usage.regain_minutes}
        return {"enabled": self.enabled, "calls_per_hour": self.all_accounts,
                "per_account": dict(sorted(self.per_account.items())), "accounts": shown}
