"""Top-level name clashes (issue 31, item 3): the package keeps the generic import names
``provider`` and ``emulator`` because Pulumi state holds ``provider.resource.PhoneNumberStorageProvider``;
another installed distribution that claims either name is named by ``--version``."""

from __future__ import annotations

import io
from importlib import metadata
from pathlib import Path

import pytest

from provider import cli, distribution


def _dist(root: Path, name: str, *, top_level: str | None = None, record: tuple[str, ...] = ()) -> metadata.Distribution:
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if top_level is not None:
        (info / "top_level.txt").write_text(top_level)
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in record))
    return metadata.PathDistribution(info)


def test_another_distribution_that_installs_provider_or_emulator_is_a_clash_and_ours_is_not(tmp_path: Path) -> None:
    dists = [
        _dist(tmp_path, "generic-providers", top_level="provider\nother\n"),
        _dist(tmp_path, "fake-emulator", record=("emulator/__init__.py", "fake_emulator-1.0.dist-info/RECORD")),
        _dist(tmp_path, "single-module", record=("provider.py",)),
        _dist(tmp_path, "unrelated", top_level="requests_toolbelt\n"),
        _dist(tmp_path, "whatsapp_local_storage", top_level="provider\nemulator\n"),
    ]
    found = distribution.clashes(dists)
    assert [(c.distribution, c.name) for c in found] == [
        ("fake-emulator", "emulator"), ("generic-providers", "provider"), ("single-module", "provider")]
    assert "also installs the top-level package `provider`" in found[1].warning()


def test_version_names_a_clashing_distribution_on_stderr_and_keeps_stdout_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distribution, "clashes", lambda: [distribution.Clash("generic-providers", "2.0", "provider")])
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["--version"], out=out, err=err) == 0
    assert out.getvalue().startswith("python -m provider ") and out.getvalue().count("\n") == 1
    assert "generic-providers 2.0 also installs the top-level package `provider`" in err.getvalue()


def test_this_checkouts_environment_has_no_clash() -> None:
    assert distribution.clashes() == []
