"""The depth panel's makemore views (Karpathy's "makemore part 3" diagnostics), one row per layer
(or group of layers), drawn by pure functions the depth profile dispatches to by its mode's kind:

- ``hist``: the layer's histogram of :attr:`gradtui.stats.Snapshot.hist` (measured in the
  trainer's thread, never here) as a strip of bars: activations over their linear range (tanh's
  saturation is mass in the end cells, a dead ReLU a spike at 0), |dL/dW| and |dL/dz| in decades
  1e-30 … 1e2 with a cell for zeros (and |x| < 1e-30) on the left and one for overflow on the right.
  The last line is the axis.
- ``time``: a per-layer statistic over the snapshot's window as a sparkline on a fixed scale
  (update:weight ratio on a log axis whose middle level is the 1e-3 guide; saturated or dead %).
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from gradtui import regimes as G
from gradtui.histograms import BINS, LOG_LO
from gradtui.numfmt import num, pct
from gradtui.stats import Snapshot
from gradtui.ui import views as R
from gradtui.ui.views import BARS, DepthMode
from gradtui.ui.widgets.lines import DIM, REGIME_STYLE, no_steps

_EDGE = Style(color="magenta", bold=True)  # zero / overflow cells and the guide
_ABOVE = Style(color="yellow")
_BELOW = Style(color="bright_blue")
_NEAR = Style(color="green")
NO_HIST = "– histograms after the first steps"


def strip_levels(frac: np.ndarray, width: int) -> np.ndarray:
    """Bar levels 0..8 of a row of bin fractions resampled to ``width`` cells (bins summed into a
    cell, or repeated over cells), scaled to the row's largest cell; any mass shows as >= 1."""
    frac = np.nan_to_num(np.asarray(frac, np.float64))
    if width <= 0 or frac.size == 0:
        return np.zeros(max(width, 0), int)
    starts = (np.arange(width) * frac.size // width).astype(np.intp)
    cells = np.add.reduceat(frac, starts) if width <= frac.size else frac[starts]
    top = cells.max()
    if top <= 0:
        return np.zeros(width, int)
    return np.where(cells > 0, np.maximum(1, np.round(cells / top * 8)), 0).astype(int)


def _bars(levels: np.ndarray) -> str:
    return "".join(BARS[v] for v in levels)


def _group_mean(a: np.ndarray, grp) -> np.ndarray:
    return np.stack([a[s:e].mean(0) for s, e in grp])


def hist_rows(snap: Snapshot | None, width: int, height: int, quantity: str) -> list[Strip]:
    """``quantity``: ``act``, ``grad`` or ``delta`` of ``snap.hist``, one strip per layer group,
    the axis on the last line (when there are two lines or more)."""
    if snap is None or snap.n_layers == 0:
        return []
    rows_h = height - 1 if height >= 2 else height
    grp = R.groups(snap.n_layers, rows_h)
    hist = snap.hist
    if hist is None or len(snap.steps) == 0:
        return [Strip([Segment(s + NO_HIST, DIM)]).crop(0, width) for s in R.group_labels(snap.layer_names, grp)]
    labels = R.group_labels(snap.layer_names, grp)
    regimes = G.worst(snap.regimes, grp)
    lw = len(labels[0])
    data = _group_mean(np.asarray(getattr(hist, quantity), np.float64), grp)
    notes = [(_act_note if quantity == "act" else _decade_note)(row) for row in data]
    if quantity == "act" and len(grp) > 1 and grp[-1] == (snap.n_layers - 1, snap.n_layers):
        lo, hi = hist.act_range[-1]  # the output layer's logits: their own range, not the axis's
        if not np.array_equal(hist.act_range[-1], hist.act_range[grp[0][0]]):
            notes[-1] = f"{num(lo)}…{num(hi)}"
    note_w = 1 + max(map(len, notes))
    strip_w = max(4, width - lw - note_w)
    lines = []
    for k, (label, reg) in enumerate(zip(labels, regimes)):
        style = REGIME_STYLE[reg]
        row = data[k]
        if quantity == "act":
            segs = [Segment(_bars(strip_levels(row, strip_w)), style)]
        else:  # zeros | decades | overflow
            inner = strip_levels(row[1:-1], strip_w - 2)
            top = max(row[1:-1].max(), row[0], row[-1], 1e-300)
            inner = np.where(inner > 0, np.maximum(1, np.round(inner * row[1:-1].max() / top)), 0).astype(int)
            edge = [0 if v <= 0 else max(1, int(round(v / top * 8))) for v in (row[0], row[-1])]
            segs = [Segment(BARS[edge[0]] if edge[0] else "·", _EDGE), Segment(_bars(inner), style),
                    Segment(BARS[edge[1]] if edge[1] else "·", _EDGE)]
        lines.append(Strip([Segment(label, DIM), *segs, Segment(notes[k].rjust(note_w), style)]).crop(0, width))
    if height >= 2:
        lines.append(Strip([Segment(" " * lw, DIM), Segment(_axis(hist, quantity, grp, strip_w), DIM)]).crop(0, width))
    return lines


def _act_note(row: np.ndarray) -> str:
    """The mass in the two end cells of the range (saturation for tanh/sigmoid)."""
    n = len(row)
    ends = row[: max(1, n // 16)].sum() + row[n - max(1, n // 16):].sum()
    return "ends " + pct(ends) if ends >= 0.005 else ""


def _decade_note(row: np.ndarray) -> str:
    """The median decade (``~1e-7``), or ``0`` when most entries are zero."""
    c = np.cumsum(row)
    if c[-1] <= 0:
        return ""
    i = int(np.searchsorted(c, c[-1] / 2))
    if i == 0:
        return "~0"
    if i == len(row) - 1:
        return "~inf"
    return f"~1e{LOG_LO + i - 1:.0f}"


def _axis(hist, quantity: str, grp, strip_w: int) -> str:
    """The scale under the strips."""
    if quantity == "act":
        lo, hi = hist.act_range[grp[0][0]]  # (hidden layers share a bounded activation's range)
        left, right = num(lo), num(hi)
        mid = "0" if lo < 0 < hi else ""
        pad = strip_w - len(left) - len(right)
        if mid and pad > 2:
            at = int(round(-lo / (hi - lo) * (strip_w - 1))) - len(left)
            at = min(max(at, 1), pad - 1)
            return left + " " * at + mid + " " * (pad - at - 1) + right
        return left + " " * max(1, pad) + right
    inner = strip_w - 2
    text = [" "] * strip_w
    text[0] = "0"
    for dec in (-30, -20, -10, 0):
        col = 1 + int((dec - LOG_LO) / BINS * inner)
        lab = "1" if dec == 0 else f"1e{dec}"
        if col + len(lab) <= strip_w and all(c == " " for c in text[col - 1: col + len(lab)]):
            text[col: col + len(lab)] = lab
    return "".join(text)


def time_rows(snap: Snapshot | None, width: int, height: int, mode: DepthMode) -> list[Strip]:
    """``mode.stat`` of every layer group over the window, oldest left, on [mode.lo, mode.hi]
    (log10 when ``mode.log``); with a guide, cells above it are yellow, near it green (within a
    decade), below it blue."""
    if snap is None or snap.n_layers == 0:
        return []
    stat = _time_stat(snap, mode)
    grp = R.groups(snap.n_layers, height)
    if len(snap.steps) == 0:
        return no_steps(snap.layer_names, grp, width)
    labels = R.group_labels(snap.layer_names, grp)
    series = np.asarray(snap.layer_series(stat), np.float64)
    if mode.log:
        vals = R.group_nanmean(R.safe_log10(series), grp)
        latest = [num(10.0 ** v) if np.isfinite(v) else "–" for v in _last_finite_cols(vals)]
    else:
        vals = R.group_nanmean(series, grp)
        latest = [pct(v) for v in _last_finite_cols(vals)]
    note_w = 1 + max(map(len, latest))
    spark_w = max(4, width - len(labels[0]) - note_w)
    cols = R.bucket_mean(vals, spark_w)  # (spark_w, groups)
    sparks = R.spark_columns(cols, mode.lo, mode.hi)
    regimes = G.worst(snap.regimes, grp)
    lines = []
    for k, (label, spark) in enumerate(zip(labels, sparks)):
        style = REGIME_STYLE[regimes[k]]
        segs = [Segment(label, DIM)]
        if mode.guide is None:
            segs.append(Segment(spark, style))
        else:
            segs += _guided(spark, cols[:, k], mode.guide)
        segs.append(Segment(latest[k].rjust(note_w), style))
        lines.append(Strip(segs).crop(0, width))
    return lines


def _time_stat(snap: Snapshot, mode: DepthMode) -> str:
    """``saturated`` for a saturating activation, ``dead`` otherwise, when the mode says either."""
    if mode.stat != "saturated|dead":
        return mode.stat
    from gradtui.activations import ACTIVATIONS

    entry = ACTIVATIONS.get(snap.config.activation)
    return "saturated" if entry is not None and entry.bounds is not None else "dead"


def _last_finite_cols(vals: np.ndarray) -> np.ndarray:
    out = np.full(vals.shape[1], np.nan)
    for k in range(vals.shape[1]):
        fin = np.flatnonzero(np.isfinite(vals[:, k]))
        if len(fin):
            out[k] = vals[fin[-1], k]
    return out


def _guided(spark: str, col: np.ndarray, guide: float) -> list[Segment]:
    """The sparkline in runs of one colour: above the guide, within a decade of it, below."""
    band = np.where(~np.isfinite(col), 1, np.where(col > guide + 1, 2, np.where(col < guide - 1, 0, 1)))
    styles = (_BELOW, _NEAR, _ABOVE)
    segs, start = [], 0
    for i in range(1, len(spark) + 1):
        if i == len(spark) or band[i] != band[start]:
            segs.append(Segment(spark[start:i], styles[band[start]]))
            start = i
    return segs
