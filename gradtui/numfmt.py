"""The one number format every view uses (numeric side: no textual or rich).

Two significant digits (by default); plain between 0.01 and 1000, without trailing zeros
(``0.1``, ``0.05``, ``250``, ``1.1``), scientific outside (``9.8e-05``, ``3.6e+118``); ``0``,
``nan``, ``inf``, ``-inf``. Never raises.
"""

from __future__ import annotations

import math

PLAIN_LO, PLAIN_HI = 1e-2, 1e3


def num(x, digits: int = 2) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "?"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    sci = f"{x:.{digits - 1}e}"  # rounds to ``digits`` significant digits
    r = float(sci)
    if PLAIN_LO <= abs(r) < PLAIN_HI:
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(r))))
        text = f"{r:.{decimals}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return sci


def pct(x, decimals: int = 1) -> str:
    """A fraction as a percentage (``12.5%``; ``decimals`` after the point); ``–`` when not
    finite."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "–"
    return f"{100 * x:.{decimals}f}%" if math.isfinite(x) else "–"


def nums(values, digits: int = 2, max_digits: int = 6) -> list[str]:
    """``num`` of each value, with just enough significant digits (from ``digits`` up to
    ``max_digits``) that different values get different labels (axis ticks over a narrow range)."""
    values = list(values)
    distinct = len(set(values))
    for d in range(digits, max_digits + 1):
        labels = [num(v, d) for v in values]
        if len(set(labels)) == distinct:
            return labels
    return labels
