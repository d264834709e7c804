"""Pure helpers shared by the widgets (no textual, no rich): log scaling, grouping layers into rows,
labels, the colour and tag of each regime, and the depth panel's modes. The regime rule itself lives in :mod:`gradtui.regimes` (one rule for
every view and for the export's consumers); numbers are formatted by :func:`gradtui.numfmt.num`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradtui import regimes as G
from gradtui.numfmt import num

# The fixed log10 range every gradient row and the depth profile share: 1e-10 .. 1e2.
LOG_LO, LOG_HI = -10.0, 2.0

# ANSI colour names so the palette reads in 16 and 256 colours. Six different hues in Textual's
# default ANSI theme too (there magenta is the same colour as red: not used).
REGIME_COLOR = {G.OK: "green", G.VANISHING: "bright_blue", G.SATURATED: "cyan", G.EXPLODING: "yellow",
                G.DEAD: "bright_black", G.NAN: "bright_red"}
REGIME_TAG = {G.OK: "ok", G.VANISHING: "vanish", G.SATURATED: "saturated", G.EXPLODING: "EXPLODE",
              G.DEAD: "DEAD", G.NAN: "NaN/inf"}
TAG_W = 1 + max(map(len, REGIME_TAG.values()))  # a space, then the longest tag
BARS = " ▁▂▃▄▅▆▇█"


class DepthMode(NamedTuple):
    """One view of the depth panel (``v`` cycles them): a per-layer statistic on a fixed scale."""

    stat: str  # a per-layer statistic of gradtui.stats
    name: str  # short name (the ``v`` key's help)
    title: str  # the panel's title
    log: bool  # log10 scale?
    lo: float
    hi: float
    guide: float | None = None  # a vertical guide at this value
    kind: str = "bars"  # bars: the latest value; time: over the window; hist: a histogram of snap.hist


DEPTH_MODES = (
    DepthMode("grad_norm", "grad norm", "|dL/dW| by depth (log)", True, LOG_LO, LOG_HI),
    DepthMode("update_ratio", "update ratio", "upd:weight (log |=1e-3)", True, -8.0, 0.0, -3.0),
    DepthMode("saturated", "saturated", "saturated units %", False, 0.0, 1.0),
    DepthMode("dead", "dead", "dead units %", False, 0.0, 1.0),
    DepthMode("act_std", "act std", "activation std (| = 1)", False, 0.0, 2.0, 1.0),
    # makemore part 3: histograms (stat = the Histograms field) and statistics over time
    DepthMode("act", "act histogram", "activation histogram", False, 0.0, 1.0, kind="hist"),
    DepthMode("grad", "dL/dW histogram", "|dL/dW| histogram (decades)", True, 0.0, 1.0, kind="hist"),
    DepthMode("delta", "dL/dz histogram", "|dL/dz| histogram (decades)", True, 0.0, 1.0, kind="hist"),
    DepthMode("update_ratio", "ratio over time", "upd:weight over time, 1e-6…1", True, -6.0, 0.0, -3.0,
              kind="time"),
    DepthMode("saturated|dead", "sat/dead over time", "saturated/dead % over time", False, 0.0, 1.0,
              kind="time"),
)
NO_STEPS = "– no steps yet"


def safe_log10(a) -> np.ndarray:
    """log10 of positive finite values; NaN for zero, negative, NaN or inf (never warns)."""
    a = np.asarray(a, np.float64)
    out = np.empty(a.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log10(a, out=out)  # 0 -> -inf, < 0 -> NaN, inf -> inf: all made NaN below (one pass)
    out[~np.isfinite(out)] = np.nan
    return out


def bucket_mean(series: np.ndarray, width: int) -> np.ndarray:
    """(n, k) -> (width, k): nan-mean over equal step buckets, newest bucket last (right-aligned)."""
    n = series.shape[0]
    if width <= 0:
        return np.empty((0,) + series.shape[1:])
    if n <= width:
        out = np.full((width,) + series.shape[1:], np.nan)
        out[width - n:] = series
        return out
    starts = np.linspace(0, n, width + 1).astype(int)[:-1]  # (n > width: every bucket has a step)
    fin = np.isfinite(series)
    s = np.add.reduceat(np.where(fin, series, 0.0), starts, axis=0)
    c = np.add.reduceat(fin, starts, axis=0, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)


_BAR_CHARS = np.array(list(BARS) + ["·"])


def spark_columns(values: np.ndarray, lo: float = LOG_LO, hi: float = LOG_HI) -> list[str]:
    """One sparkline per column of log10 values ``(width, k)`` (a 1-D array is one column) on the
    fixed [lo, hi] range, in one vectorised pass; NaN (no data / not finite) -> '·'."""
    v = np.asarray(values, np.float64)
    if v.ndim == 1:
        v = v[:, None]
    idx = np.clip(np.round((np.nan_to_num(v, nan=lo) - lo) / (hi - lo) * 7), 0, 7).astype(int) + 1
    idx[~np.isfinite(v)] = len(BARS)
    chars = _BAR_CHARS[idx.T]  # (k, width)
    return ["".join(row) for row in chars.tolist()]


def group_nanmean(a, groups: list[tuple[int, int]]) -> np.ndarray:
    """NaN-ignoring mean over the last axis within each contiguous [start, stop) group that
    :func:`groups` made: (..., n) -> (..., len(groups)); NaN where a group has no finite value."""
    a = np.asarray(a, np.float64)
    starts = np.array([s for s, _ in groups], dtype=np.intp)
    fin = np.isfinite(a)
    s = np.add.reduceat(np.where(fin, a, 0.0), starts, axis=-1)
    c = np.add.reduceat(fin.astype(np.int64), starts, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def group_log_mean(a, groups: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the mean log10 of its positive finite values (NaN if none) and the value to
    show, the geometric mean 10**that, or else the group's first value (NaN, inf or 0 stays
    visible as itself)."""
    a = np.asarray(a, np.float64)
    lg = group_nanmean(safe_log10(a), groups)
    with np.errstate(over="ignore"):
        shown = np.where(np.isfinite(lg), 10.0 ** lg, a[[s for s, _ in groups]])
    return lg, shown


def value_text(shown: float, regime: str) -> str:
    """A layer's (or group's) number: ``num(shown)``, or ``last <num>`` when its regime is NaN/inf
    and ``shown`` is therefore the last finite value (after a divergence)."""
    if regime == G.NAN and np.isfinite(shown):
        return "last " + num(shown)
    return num(shown)


def groups(n: int, rows: int) -> list[tuple[int, int]]:
    """Split ``n`` layers into at most ``rows`` contiguous [start, stop) groups (input side first).
    The output layer (the last) keeps a row of its own whenever there are two rows or more."""
    rows = max(1, min(rows, n))
    if rows == n:
        return [(i, i + 1) for i in range(n)]
    if rows == 1:
        return [(0, n)]
    hidden = n - 1
    edges = [round(i * hidden / (rows - 1)) for i in range(rows)]  # sizes differ by at most one
    return [(edges[i], edges[i + 1]) for i in range(rows - 1)] + [(hidden, n)]


def group_label(names, start: int, stop: int) -> str:
    """``h07``, or ``h03-04`` / ``h101-103`` for a group (the second number in full)."""
    if stop - start == 1:
        return names[start]
    a, b = names[start], names[stop - 1]
    return f"{a}-{b.lstrip('h')}"


def group_labels(names, grp) -> list[str]:
    """Every group's label, padded to one width (the longest label + a space)."""
    labels = [group_label(names, a, b) for a, b in grp]
    w = 1 + max(map(len, labels), default=0)
    return [s.ljust(w) for s in labels]
