"""The emulator's bounds on what a request or the control API may ask of it, in one place.

Each bound is a choice of ours (Meta states none of them except the listing's `limit`): large
enough for any test, small enough that one request cannot stall or exhaust the server.
"""

from __future__ import annotations

DEFAULT_PAGE_SIZE = 25  # Meta's listings default to 25 per page
MAX_PAGE_SIZE = 100      # Meta's limit on `limit` for phone number listings
MAX_LATENCY_MS = 120_000.0  # a delay longer than any client timeout is a mistake, not a test
MAX_BODY_BYTES = 1 << 20    # 1 MiB: far above any Graph call this API takes
MAX_CHUNK_LINE = 1024       # a chunk-size line of chunked transfer encoding


def page_size_value(value: object) -> int:
    """A page size the listing can use; ValueError names the rule."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_PAGE_SIZE:
        raise ValueError(f"page size must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return value


def latency_value(value: object, name: str = "ms") -> float:
    """A delay the server can sleep: a finite number of milliseconds from 0 to MAX_LATENCY_MS."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or not 0 <= value <= MAX_LATENCY_MS:  # NaN fails every comparison
        raise ValueError(f"{name} must be a number of milliseconds from 0 to {MAX_LATENCY_MS:.0f}")
    return float(value)
