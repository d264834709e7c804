"""Pure helpers shared by the widgets: log scaling, regime classification, number formatting.

Regimes of a layer's gradient norm ``g`` (``gmax`` = the largest finite layer norm this step):

* ``bad``        g is NaN or inf (the run diverged);
* ``exploding``  g > 1e2, or g > 1 and it grew more than 100x over the visible window;
* ``vanishing``  g < 1e-7 absolute, or g < 1e-3 x gmax (this layer learns 1000x slower);
* ``healthy``    everything else.
"""

from __future__ import annotations

import numpy as np

# The fixed log10 range every gradient row and the depth profile share: 1e-10 .. 1e2.
LOG_LO, LOG_HI = -10.0, 2.0
VANISH_ABS, VANISH_REL = 1e-7, 1e-3
EXPLODE_ABS, EXPLODE_GROWTH = 1e2, 1e2

REGIMES = ("healthy", "vanishing", "exploding", "bad")
# ANSI colour names so the palette reads in 16 and 256 colours.
REGIME_COLOR = {"healthy": "green", "vanishing": "bright_blue", "exploding": "yellow", "bad": "bright_red"}
REGIME_TAG = {"healthy": "ok", "vanishing": "vanish", "exploding": "EXPLODE", "bad": "NaN/inf"}
BARS = " ▁▂▃▄▅▆▇█"


def safe_log10(a) -> np.ndarray:
    """log10 of positive finite values; NaN for zero, negative, NaN or inf (never warns)."""
    a = np.asarray(a, np.float64)
    out = np.full(a.shape, np.nan)
    ok = np.isfinite(a) & (a > 0)
    out[ok] = np.log10(a[ok])
    return out


def classify(current, first=None) -> list[str]:
    """Regime of each layer from its current norm (and the oldest norm of the window)."""
    cur = np.asarray(current, np.float64)
    fin = np.isfinite(cur)
    gmax = float(cur[fin].max()) if fin.any() else 0.0
    out = []
    for i, g in enumerate(cur):
        if not np.isfinite(g):
            out.append("bad")
        elif g > EXPLODE_ABS or (first is not None and g > 1 and np.isfinite(first[i])
                                 and first[i] > 0 and g / first[i] > EXPLODE_GROWTH):
            out.append("exploding")
        elif g < VANISH_ABS or g < VANISH_REL * gmax:
            out.append("vanishing")
        else:
            out.append("healthy")
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
    edges = np.linspace(0, n, width + 1).astype(int)
    fin = np.isfinite(series)
    csum = np.concatenate([np.zeros((1,) + series.shape[1:]), np.cumsum(np.where(fin, series, 0.0), 0)])
    ccnt = np.concatenate([np.zeros((1,) + series.shape[1:]), np.cumsum(fin, 0)])
    s = csum[edges[1:]] - csum[edges[:-1]]
    c = ccnt[edges[1:]] - ccnt[edges[:-1]]
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


def worst_regime(regimes: list[str], groups: list[tuple[int, int]]) -> list[str]:
    """The worst regime (healthy < vanishing < exploding < bad) within each group."""
    rank = np.array([REGIMES.index(r) for r in regimes])
    worst = np.maximum.reduceat(rank, np.array([s for s, _ in groups], dtype=np.intp))
    return [REGIMES[k] for k in worst]


def sci(x: float, width: int = 8) -> str:
    """Scientific notation that never raises: 1.23e-09, 0, nan, inf."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "?".rjust(width)
    if not np.isfinite(x):
        return ("nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")).rjust(width)
    if x == 0:
        return "0".rjust(width)
    return f"{x:.2e}".rjust(width)


def groups(n: int, rows: int) -> list[tuple[int, int]]:
    """Split ``n`` layers into at most ``rows`` contiguous [start, stop) groups (input side first)."""
    rows = max(1, min(rows, n))
    edges = [round(i * n / rows) for i in range(rows + 1)]  # sizes differ by at most one
    return [(edges[i], edges[i + 1]) for i in range(rows)]


def group_label(names, start: int, stop: int) -> str:
    if stop - start == 1:
        return names[start]
    a, b = names[start], names[stop - 1]
    return f"{a}-{b.lstrip('h')}"
