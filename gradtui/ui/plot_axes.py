"""Pure helpers of the loss plot (no textual, no plotext): honest tick labels, the chance levels,
the numbered event marks and the line that states the plotted window.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from gradtui.numfmt import num

MAX_MARKS = 9  # numbered event marks in the plotted window (the newest)
# the plot's colours (RGB, as plotext takes them) and the legend's (hex)
COLORS = {"train": (0, 215, 255), "test": (255, 175, 0), "acc": (95, 215, 95), "chance": (138, 138, 138),
          "event": (255, 95, 255), "A": (255, 215, 0), "B": (0, 215, 255)}  # A/B: the difference view's colours
HEX = {k: "#{:02x}{:02x}{:02x}".format(*v) for k, v in COLORS.items()}


def distinct_labels(values: Sequence[float], digits: int = 2) -> list[str]:
    """``num`` of each value with the fewest significant digits (>= ``digits``) that tell them
    apart (values equal to 12 digits keep one label each)."""
    for d in range(digits, 13):
        labels = [num(v, d) for v in values]
        if len(set(labels)) == len(labels):
            return labels
    return [num(v, 12) for v in values]


def _nice(step: float) -> float:
    """The 1-2-5 number at or above ``step``."""
    e = math.floor(math.log10(step))
    for m in (1, 2, 5, 10):
        if m * 10.0 ** e >= step * (1 - 1e-9):
            return m * 10.0 ** e
    return 10.0 ** (e + 1)


def value_ticks(lo: float, hi: float, n: int) -> list[float]:
    """About ``n`` round values in [lo, hi] (both ends when no round value fits twice)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return [lo] if np.isfinite(lo) else []
    step = _nice((hi - lo) / max(1, n - 1))
    ticks = [k * step for k in range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1)]
    return ticks if len(ticks) >= 2 else [lo, hi]


def log_ticks(y_lo: float, y_hi: float, n: int) -> tuple[list[float], list[str]]:
    """Ticks of a log10 axis spanning [y_lo, y_hi] (log10 of losses): positions (log10) and their
    labels as losses, distinct. Round 1-2-5 values when the range holds two of them, else round
    values in linear steps; at most ``n`` of them."""
    if not (np.isfinite(y_lo) and np.isfinite(y_hi)):
        return [], []
    if y_hi <= y_lo:
        return [y_lo], [num(10.0 ** y_lo, 3)]
    vals: list[float] = []
    for ms in ((1,), (1, 2, 5)):  # powers of ten when two fit, else 1-2-5 values
        cands = [m * 10.0 ** k for k in range(math.floor(y_lo) - 1, math.ceil(y_hi) + 1) for m in ms]
        vals = [v for v in cands if y_lo - 1e-9 <= math.log10(v) <= y_hi + 1e-9]
        if len(vals) >= 2:
            break
    if len(vals) < 2:
        vals = [v for v in value_ticks(10.0 ** y_lo, 10.0 ** y_hi, n) if v > 0]
    if len(vals) > n:  # evenly thinned, the ends kept
        keep = np.unique(np.round(np.linspace(0, len(vals) - 1, n)).astype(int))
        vals = [vals[i] for i in keep]
    return [math.log10(v) for v in vals], distinct_labels(vals, 1)


def chance(dataset: str, n_classes: int) -> tuple[float, float] | None:
    """(loss, accuracy) of guessing uniformly among the data set's K classes: ``(ln K, 1/K)``;
    None for regression (or an unknown data set)."""
    from gradtui.data import DATASETS

    spec = DATASETS.get(dataset)
    k = spec.n_classes(n_classes) if spec is not None else 0
    return (math.log(k), 1.0 / k) if k and k >= 2 else None


def event_marks(events, x_lo: float, x_hi: float) -> list[tuple[int, int, str]]:
    """(number, step, text) of the newest :data:`MAX_MARKS` events inside (x_lo, x_hi], numbered
    from 1 (oldest shown first)."""
    inside = [ev for ev in events if x_lo < ev.step <= x_hi][-MAX_MARKS:]
    return [(i + 1, int(ev.step), ev.text) for i, ev in enumerate(inside)]


def window_line(x_lo: float, x_hi: float, marks, width: int) -> str:
    """``steps 0-2,000  1 lr=0.2  2 act tanh``: the plotted window and the numbered events, cut to
    ``width`` (an ellipsis says more were left out)."""
    head = f"steps {int(x_lo):,}-{int(x_hi):,}"
    parts = [head] + [f"{k} {text}" for k, _, text in marks]
    line = "  ".join(parts)
    if len(line) > width:
        line = line[: max(0, width - 1)] + "…"
    return line
