"""The provider's one clock: "now" for the executor, the runner, the safety rules and the CLI.

Change windows and the 72-hour register budget depend on the time, and tests must be able to
set it without sleeping until a window, in the provider process too (the engine-protocol tests
run ``python -m pulumi.dynamic`` as a subprocess, which no in-process fake reaches). So ``now()``
reads one test-only environment variable, at every call:

- ``WHATSAPP_TEST_NOW=2026-12-06T02:30:00Z``: the clock stands at that instant (UTC, to the second);
- ``WHATSAPP_TEST_NOW=@/path/to/file``: the instant written in that file, read at every call, so a
  test can move the clock while a command runs (between two cutovers of one ``pulumi up``).

Why the environment and nothing else: the environment belongs to whoever runs the command (the
operator's shell, a CI job's settings), which is trusted with the Meta token already; a stack file
arrives in a pull request, and a clock that a pull request could move would open every change
window. Stack config never sets it. When it is set, ``notice()`` says so, and whoever holds the
process (the engine adapter, the CLI entry) prints that notice once, so a deployment log always
shows that the clock was not the real one. ``now()`` itself never prints.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from .errors import ConfigurationError
from .notices import Notice

VAR = "WHATSAPP_TEST_NOW"
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _fixed(value: str) -> datetime:
    text = value
    if value.startswith("@"):
        try:
            with open(value[1:], encoding="utf-8") as handle:
                text = handle.read().strip()
        except OSError as exc:
            raise ConfigurationError(f"{VAR}={value}: cannot read the clock file ({exc.strerror}); write an "
                                     "instant such as 2026-12-06T02:30:00Z into it, or unset it") from None
    try:
        return datetime.strptime(text, _FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise ConfigurationError(f"{VAR} must be an instant such as 2026-12-06T02:30:00Z (UTC) or @FILE holding "
                                 f"one, got {text[:40]!r}; it is for tests only: unset it") from None


def now() -> datetime:
    """The current instant, UTC, to the second; ``WHATSAPP_TEST_NOW`` when it is set."""
    value = os.environ.get(VAR, "").strip()
    if not value:
        return datetime.now(timezone.utc).replace(microsecond=0)
    return _fixed(value)


def notice() -> Notice | None:
    """The notice that the clock is a test clock, or None when it is the real one."""
    value = os.environ.get(VAR, "").strip()
    if not value:
        return None
    return Notice(f"clock:{value}", f"{VAR} is set: the provider's clock reads {_fixed(value).strftime(_FORMAT)} "
                                    "(a test clock; change windows and the register budget use it)")
