"""Meta's version table (provider/versions.py) and what the provider makes of it: the flow is the
one of the version Meta serves on the day, with notices. `today` is injected, never patched."""

from __future__ import annotations

import datetime

import pytest

from provider import versions
from provider.config import ProviderConfig
from provider.errors import ConfigurationError
from provider.notices import Notices
from provider.planner import LiveState, plan

D = datetime.date


@pytest.mark.parametrize("version, today, served", [
    ("v17.0", D(2026, 12, 2), "v21.0"),
    ("v20.0", D(2026, 9, 23), "v20.0"),   # the last day v20.0 is live
    ("v20.0", D(2026, 9, 24), "v21.0"),
    ("v20.0", D(2027, 1, 20), "v21.0"),
    ("v20.0", D(2027, 1, 21), "v22.0"),
    ("v17.0", D(2027, 1, 21), "v22.0"),
    ("v21.0", D(2027, 1, 21), "v22.0"),
    ("v21.0", D(2026, 12, 2), "v21.0"),
    ("v25.0", D(2028, 7, 28), "v25.0"),
    ("v25.0", D(2028, 7, 29), "v26.0"),
    ("v27.0", D(2026, 12, 2), "v27.0"),
    ("v2.3", D(2026, 12, 2), "v21.0"),
])
def test_a_version_is_served_as_itself_or_the_oldest_live_one(version, today, served):
    assert versions.served(version, today) == served


@pytest.mark.parametrize("bad", ["21.0", "v21", "v٢١.0", "v21.0\n", "v1000.0", "v21.0.1", ""])
def test_only_ascii_versions_parse(bad):
    with pytest.raises(ValueError):
        versions.parse(bad)


def test_the_table_is_ordered_and_lists_v27():
    dates = [r.retires for r in versions.RELEASES if r.retires]
    assert dates == sorted(dates)
    assert [versions.parse(r.version) for r in versions.RELEASES] == sorted(
        versions.parse(r.version) for r in versions.RELEASES)
    assert versions.RELEASES[-1].version == "v27.0" and versions.RELEASES[-1].released == "2026-11-04"


def config(version: str, today: datetime.date) -> ProviderConfig:
    """The configuration, its notices said as a fresh process says them (none printed yet)."""
    loaded = ProviderConfig.parse({"api_version": version, "graph_api_url": "http://127.0.0.1:9"},
                                  today=lambda: today)
    Notices().all_once(loaded.notices)
    return loaded


@pytest.mark.parametrize("version, today, flow", [
    ("v20.0", D(2026, 12, 2), True),    # retired: served as v21.0
    ("v17.0", D(2027, 2, 1), True),
    ("v20.0", D(2026, 6, 1), False),    # still live then: the register flow
    ("v21.0", D(2026, 12, 2), True),
])
def test_the_flow_is_decided_by_the_version_meta_serves_on_the_day(version, today, flow):
    cfg = config(version, today)
    assert cfg.settings_flow is flow
    p = plan("1", LiveState(True, "BR"), "IN", settings_flow=cfg.settings_flow)
    assert p.steps == (["deregister", "settings", "register"] if flow else ["deregister", "register"])


def test_a_retired_version_gets_a_notice_naming_the_served_version_and_the_date(capsys):
    cfg = config("v20.0", D(2026, 12, 2))
    err = capsys.readouterr().err
    assert cfg.served_version == "v21.0"
    assert ("apiVersion v20.0 was retired by Meta on 2026-09-24; on 2026-12-02 Meta serves it as v21.0, "
            "so this provider plans with v21.0's flow (storage through /settings)") in err
    # and v21.0 itself ends within 90 days
    assert "Meta retires v21.0 on 2027-01-21, 50 days after 2026-12-02; from then on its calls are served as v22.0" in err


def test_a_version_older_than_the_table_names_no_retirement_date(capsys):
    config("v17.0", D(2027, 2, 1))
    err = capsys.readouterr().err
    assert "apiVersion v17.0 was retired by Meta; on 2027-02-01 Meta serves it as v22.0" in err


@pytest.mark.parametrize("version, today, notice", [
    ("v21.0", D(2026, 12, 2), True),
    ("v21.0", D(2026, 10, 23), True),    # 90 days before 2027-01-21
    ("v21.0", D(2026, 10, 22), False),   # 91 days before
    ("v25.0", D(2026, 12, 2), False),
    ("v27.0", D(2026, 12, 2), False),    # no retirement date announced
])
def test_a_notice_when_the_configured_version_ends_within_90_days(capsys, version, today, notice):
    config(version, today)
    err = capsys.readouterr().err
    assert ("Meta retires" in err) is notice, err
    assert "retired by Meta" not in err


def test_the_default_version_is_quiet_today(capsys):
    config("v25.0", versions.utc_today())
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("bad", ["v٢١.0", "v21.0x", "v1000.0", "vv21.0"])
def test_a_version_with_non_ascii_digits_or_junk_is_a_configuration_error(bad):
    with pytest.raises(ConfigurationError, match="whatsapp:apiVersion"):
        ProviderConfig.parse({"api_version": bad, "graph_api_url": "http://127.0.0.1:9"})
