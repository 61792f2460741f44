"""Meta's usage headers, read once per answer: how close the app and each business account are
to their limits, and how long a throttled one must wait.

``X-App-Usage`` is the app's (``call_count``, ``total_time``, ``total_cputime``, percent).
``X-Business-Use-Case-Usage`` is keyed by business account: ``{"<waba-id>": [{"type",
"call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"}]}``, the last in
minutes (docs/graph-api.md, "Rate limits"). Meta's hourly limit for reading numbers (200 an hour
per business account, 5,000 with a registered number) is per account, so the client says which
account is close to it and the reader stops reading the one that reached it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

APP = ""  # the key of the app's own figure in ``Usage.accounts`` (X-App-Usage names no account)


@dataclass(frozen=True)
class Usage:
    """One answer's usage figures: the highest percentage per business account (``APP``: the app's)."""

    accounts: Mapping[str, float] = field(default_factory=dict)
    regain_seconds: Mapping[str, float] = field(default_factory=dict)  # accounts that stated a wait

    @property
    def percent(self) -> float:
        """The highest figure of any account or the app: what pacing goes by."""
        return max(self.accounts.values(), default=0.0)

    @property
    def limited_account(self) -> str | None:
        """The business account that states the longest wait, or the only account the answer names."""
        waits = {waba: wait for waba, wait in self.regain_seconds.items() if waba != APP}
        if waits:
            return max(waits, key=lambda waba: waits[waba])
        named = [waba for waba in self.accounts if waba != APP]
        return named[0] if len(named) == 1 else None


def _number(entry: Mapping[str, Any], key: str) -> float:
    try:
        return float(entry.get(key, 0))
    except (TypeError, ValueError):
        return 0.0


def _loads(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _highest(entry: Mapping[str, Any]) -> float:
    return max(_number(entry, key) for key in ("call_count", "total_time", "total_cputime"))


def read(headers: Mapping[str, str]) -> Usage:
    """The figures of an answer's headers; malformed headers count as absent."""
    accounts: dict[str, float] = {}
    regain: dict[str, float] = {}
    app = _loads(headers.get("X-App-Usage"))
    if isinstance(app, dict):
        accounts[APP] = _highest(app)
    business = _loads(headers.get("X-Business-Use-Case-Usage"))
    if isinstance(business, dict) and "call_count" in business:  # one account's entry, not keyed
        business = {APP: [business]}
    for waba, value in (business.items() if isinstance(business, dict) else ()):
        for entry in (v for v in (value if isinstance(value, list) else [value]) if isinstance(v, dict)):
            key = str(waba)
            accounts[key] = max(accounts.get(key, 0.0), _highest(entry))
            wait = _number(entry, "estimated_time_to_regain_access") * 60
            if wait > 0:
                regain[key] = max(regain.get(key, 0.0), wait)
    return Usage(accounts, regain)


def stated_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until Meta accepts calls again: Retry-After, or ``estimated_time_to_regain_access`` (minutes)."""
    try:
        retry_after = float(headers.get("Retry-After") or 0)
    except ValueError:
        retry_after = 0.0
    wait = max(retry_after, max(read(headers).regain_seconds.values(), default=0.0))
    return wait or None
