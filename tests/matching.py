"""A regular-expression match a test relies on, typed: ``re.search`` returns ``Match | None``, and a
test that goes on to ``.group()`` a None fails on an AttributeError that says nothing. This fails
on the missing match itself, naming what was not found."""

from __future__ import annotations

import re


def must_match(match: re.Match[str] | None, what: str = "the pattern") -> re.Match[str]:
    assert match is not None, f"{what} not found"
    return match
