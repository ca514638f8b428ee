"""Each rule's precision as measured on real code, for SARIF's `precision` and `security` ranking.

`measured_precision.json` (beside this module) holds, per rule, how many findings of the ecosystem
check's last census were judged TRUE and FALSE by reading the code (`tools/ecosystem/check.py
--write-precision`). The level is the lower end of the 95 % Wilson interval of that precision, so a
rule judged on a handful of findings cannot claim more than its evidence:

    very-high  lower bound >= 90 %
    high       lower bound >= 80 %
    medium     lower bound >= 60 %
    low        below that

A rule with fewer than 10 judged findings keeps the precision its author declared.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

TABLE = Path(__file__).with_name("measured_precision.json")
MIN_JUDGED = 10
LEVELS = ((0.90, "very-high"), (0.80, "high"), (0.60, "medium"))


def wilson_lower(true: int, judged: int, z: float = 1.96) -> float:
    if judged == 0:
        return 0.0
    p = true / judged
    centre = p + z * z / (2 * judged)
    margin = z * math.sqrt(p * (1 - p) / judged + z * z / (4 * judged * judged))
    return (centre - margin) / (1 + z * z / judged)


@cache
def _counts() -> dict[str, tuple[int, int]]:
    try:
        data = json.loads(TABLE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {code: (int(c["true"]), int(c["true"]) + int(c["false"])) for code, c in data.get("rules", {}).items()}


def measured(code: str) -> tuple[int, int] | None:
    """(TRUE, judged) for a rule, or None when too few of its findings were judged."""
    found = _counts().get(code)
    return found if found is not None and found[1] >= MIN_JUDGED else None


def level(code: str, declared: str) -> str:
    """SARIF precision: from the measurement when there is one, else what the rule declares."""
    found = measured(code)
    if found is None:
        return declared
    lower = wilson_lower(*found)
    return next((name for threshold, name in LEVELS if lower >= threshold), "low")
