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


WILSON_Z = 1.959963984540054  # 95 %


def wilson(successes: int, n: int, z: float = WILSON_Z) -> tuple[float, float]:
    """The 95 % Wilson score interval of ``successes`` out of ``n`` ((0, 1) when nothing was judged);
    the ecosystem check prints the same intervals."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def wilson_lower(true: int, judged: int) -> float:
    return wilson(true, judged)[0] if judged else 0.0


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
