"""The installed distribution, and other distributions that install the same top-level names.

The package's import names are ``provider`` and ``emulator``: generic names, kept because Pulumi
state holds the provider by its dotted path (``provider.resource.PhoneNumberStorageProvider``,
docs/engine.md "The process") and ``destroy`` and ``refresh`` unpickle it without running the
program. Renaming the package would orphan every existing stack; a namespaced alias would not
help, because the pickled path is what the engine imports. Two distributions that install the
same top-level directory overwrite each other's files, which pip does not detect. So the clash is
found, not avoided: ``--version`` names any other installed distribution that claims ``provider``
or ``emulator`` (docs/packaging.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from typing import Iterable

DISTRIBUTION = "whatsapp-local-storage"
TOP_LEVEL = ("provider", "emulator")


@dataclass(frozen=True)
class Clash:
    """Another installed distribution that also installs one of this package's top-level names."""

    distribution: str
    version: str
    name: str

    def warning(self) -> str:
        return (f"warning: the installed distribution {self.distribution} {self.version} also installs the "
                f"top-level package `{self.name}`; the two overwrite each other's files. Install "
                f"{DISTRIBUTION} in a virtual environment without {self.distribution} (docs/packaging.md)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_levels(dist: metadata.Distribution) -> set[str]:
    """The top-level import names a distribution installs: its ``top_level.txt`` when it has one,
    else the first part of every path in its RECORD that is not its own metadata or scripts."""
    listed = dist.read_text("top_level.txt")
    if listed is not None:
        return {line.strip() for line in listed.splitlines() if line.strip()}
    names = set()
    for path in dist.files or ():
        first = path.parts[0] if path.parts else ""
        if first and not first.endswith((".dist-info", ".egg-info", ".data", ".pth")) and first != "..":
            names.add(first.removesuffix(".py"))
    return names


def clashes(distributions: Iterable[metadata.Distribution] | None = None,
            names: Iterable[str] = TOP_LEVEL) -> list[Clash]:
    """Every other installed distribution that installs one of ``names``, sorted; this
    distribution itself never counts."""
    wanted = set(names)
    found = set()
    for dist in metadata.distributions() if distributions is None else distributions:
        name = dist.metadata["Name"] or ""
        if not name or _canonical(name) == DISTRIBUTION:
            continue
        for clash in sorted(_top_levels(dist) & wanted):
            found.add(Clash(name, dist.version, clash))
    return sorted(found, key=lambda c: (c.name, _canonical(c.distribution)))
