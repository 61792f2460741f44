"""The Local Storage regions Meta supports, and the one place a declared region is normalised."""

from __future__ import annotations

import difflib

from .errors import InvalidRegion as InvalidRegion  # defined in the error tree; importable from here too

DEFAULT = "DEFAULT"
"""Meta's default storage: local storage disabled. Must be declared explicitly, never inferred."""

REGIONS: dict[str, str] = {
    "IN": "India",
    "SG": "Singapore",
    "ID": "Indonesia",
    "KR": "South Korea",
    "JP": "Japan",
    "AU": "Australia",
    "BR": "Brazil",
    "ZA": "South Africa",
    "BH": "Bahrain",
    "AE": "United Arab Emirates",
    "DE": "EU (Germany)",
    "GB": "United Kingdom",
    "CH": "Switzerland",
    "CA": "Canada",
}

AREAS: dict[str, tuple[str, ...]] = {
    "APAC": ("IN", "SG", "ID", "KR", "JP", "AU"),
    "LATAM": ("BR",),
    "MEA": ("ZA", "BH", "AE"),
    "Europe": ("DE", "GB", "CH"),
    "NORAM": ("CA",),
}

# Names people write that are not ISO codes Meta accepts; each gets a pointed hint.
_HINTS = {
    "UK": "the United Kingdom's ISO code is GB",
    "EU": 'Meta\'s EU region is Germany: use DE ("EU (Germany)")',
    "US": "the US is Meta's default storage: declare DEFAULT",
}
_HINTS.update({name: _HINTS["US"] for name in ("USA", "UNITED STATES")})


# Other ways people name the same places: ISO 3166-1 alpha-3 codes and common country names.
_ALIASES: dict[str, str] = {
    "IND": "IN", "SGP": "SG", "IDN": "ID", "KOR": "KR", "JPN": "JP", "AUS": "AU", "BRA": "BR", "ZAF": "ZA",
    "BHR": "BH", "ARE": "AE", "DEU": "DE", "GBR": "GB", "CHE": "CH", "CAN": "CA",
    "BRASIL": "BR", "GERMANY": "DE", "DEUTSCHLAND": "DE", "KOREA": "KR", "UAE": "AE", "EMIRATES": "AE",
    "BRITAIN": "GB", "GREAT BRITAIN": "GB", "ENGLAND": "GB", "SCHWEIZ": "CH", "SUISSE": "CH",
}
_NAMES: dict[str, str] = {**{name.upper(): code for code, name in REGIONS.items()}, "EU (GERMANY)": "DE",
                          "EU GERMANY": "DE", **_ALIASES}


def suggestion(value: str) -> str | None:
    """The region code a near miss most likely means (``Brazil``, ``bra``, ``Brasil``, ``Indai``), or None.

    Only names, alpha-3 codes and names one or two letters off are guessed: a wrong two-letter code
    (``BE``) could mean too many things to name one."""
    text = " ".join(value.strip().upper().split())
    if text in _NAMES:
        return _NAMES[text]
    if len(text) <= 3:
        return None
    close = difflib.get_close_matches(text, [name for name in _NAMES if len(name) > 3], n=1, cutoff=0.8)
    return _NAMES[close[0]] if close else None


def normalize_region(value: object) -> str:
    """Return the upper-case region code or DEFAULT, or raise InvalidRegion saying how to fix it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidRegion(
            "region is required: declare a region code such as BR, or DEFAULT to keep Meta's "
            "default storage (local storage off). Turning local storage off must be written down."
        )
    if not isinstance(value, str):
        raise InvalidRegion(f"region must be a text code such as BR or DEFAULT, not {value!r}")
    code = value.strip().upper()
    if code == DEFAULT or code in REGIONS:
        return code
    hint = _HINTS.get(" ".join(code.split()))
    supported = ", ".join(REGIONS)
    if hint:
        raise InvalidRegion(f"region {value!r} is not a Meta region code: {hint}")
    guess = suggestion(value)
    if guess:
        raise InvalidRegion(f"region {value!r} is not supported: did you mean {guess} ({REGIONS[guess]})? "
                            f"Regions are declared by code: {supported}, or DEFAULT")
    raise InvalidRegion(f"region {value!r} is not supported; use one of {supported}, or DEFAULT")


def describe(region: str | None) -> str:
    """A human label, e.g. 'BR (Brazil)' or 'DEFAULT (Meta default storage)'."""
    if region is None:
        return "unmanaged"
    if region == DEFAULT:
        return "DEFAULT (Meta default storage)"
    return f"{region} ({REGIONS.get(region, 'unknown region')})"
