"""Per-layer gradient sparklines: one row per layer (or group of layers), input side at the top.

Every row shares the fixed log10 range of :mod:`gradtui.ui.views` (1e-10 .. 1e2), so gradients
fading toward the input are visible at a glance. One Segment per cell run, styles precomputed,
NaN/inf safe.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from textual.strip import Strip

from gradtui import regimes as G
from gradtui.stats import Snapshot
from gradtui.ui import views as R
from gradtui.ui.widgets.lines import DIM, REGIME_STYLE, TAG_STYLE, LinesWidget, no_steps

VALUE_MIN_W = 8
WAITING = "waiting for the trainer…"


def rows(snap: Snapshot | None, width: int, height: int, stat: str = "grad_norm") -> list[Strip]:
    """The lines of ``snap``'s per-layer ``stat`` sparklines in a ``width`` x ``height`` panel."""
    if snap is None:
        return [Strip([Segment(WAITING, DIM)])]
    if snap.n_layers == 0:
        return []
    grp = R.groups(snap.n_layers, height)
    if len(snap.steps) == 0:  # compiling / fresh start: no statistics yet
        return no_steps(snap.layer_names, grp, width)
    series = snap.layer_series(stat)  # (n, L)
    logs = R.safe_log10(np.where(series == 0, 1e-300, series))  # exact 0 (dead net): lowest bar
    cur = snap.latest_finite_layers(stat)  # after a divergence: the last finite values
    regimes = G.worst(snap.regimes, grp)
    _, vals = R.group_log_mean(cur, grp)
    texts = [R.value_text(v, reg) for v, reg in zip(vals, regimes)]
    labels = R.group_labels(snap.layer_names, grp)
    value_w = max(VALUE_MIN_W, *map(len, texts))
    spark_w = max(4, width - len(labels[0]) - value_w - R.TAG_W - 1)
    cols = R.bucket_mean(logs, spark_w)  # (spark_w, L)
    sparks = R.spark_columns(R.group_nanmean(cols, grp))  # one string per group, in one pass
    lines = []
    for label, spk, txt, reg in zip(labels, sparks, texts, regimes):
        st = REGIME_STYLE[reg]
        segs = [
            Segment(label, st),
            Segment(spk, st),
            Segment(" " + txt.rjust(value_w), st),
            Segment(" " + R.REGIME_TAG[reg].ljust(R.TAG_W - 1), TAG_STYLE[reg]),
        ]
        lines.append(Strip(segs).crop(0, width))
    return lines


class GradRows(LinesWidget):
    """Takes snapshots (``show(snap)``), never a trainer."""

    DEFAULT_CSS = "GradRows { height: 1fr; min-height: 3; }"

    def __init__(self, stat: str = "grad_norm", **kw) -> None:
        super().__init__(**kw)
        self.stat = stat

    def view(self) -> tuple:
        return (self.stat,)

    def rows(self, snap: Snapshot | None, width: int, height: int) -> list[Strip]:
        return rows(snap, width, height, self.stat)
