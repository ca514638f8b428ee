"""The rule families of ftaudit's catalogue: a rule code's first three characters (``FT2`` for FT201)."""

from __future__ import annotations

# prefix -> what its rules are about
FAMILY_TITLES = {
    "FT0": "ftaudit itself", "FT1": "Module GIL declarations", "FT2": "Shared state and locking",
    "FT3": "Borrowed references and containers", "FT4": "Private internals and removed C APIs",
    "FT5": "Python-level code", "FT6": "Sub-interpreter isolation", "FT7": "Packaging and build metadata",
}
# Module GIL declarations, shared state and thread state, containers other threads change.
_CONCURRENCY = ("FT1", "FT2", "FT3")


def family(code: str) -> str:
    """A rule code's family prefix: ``FT2`` for FT201 (a plugin's ``XMP`` for XMP201)."""
    return code[:3]


def family_title(prefix: str) -> str:
    return FAMILY_TITLES.get(prefix, "other")


def concurrency_family(code: str) -> bool:
    """Whether the rule belongs to the free-threading families (SARIF tags them `concurrency`)."""
    return code.startswith(_CONCURRENCY)
