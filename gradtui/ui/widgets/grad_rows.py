"""Per-layer gradient sparklines: one row per layer (or group of layers), input side at the top.

Every row shares the fixed log10 range of :mod:`regime` (1e-10 .. 1e2), so gradients fading toward
the input are visible at a glance. One Segment per cell run, styles precomputed, NaN/inf safe.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from gradtui import regimes as G
from gradtui.stats import Snapshot
from gradtui.ui.widgets import regime as R
from gradtui.ui.widgets.lines import DIM, REGIME_STYLE, TAG_STYLE, blank, no_steps

VALUE_MIN_W = 8


class GradRows(Widget):
    """Takes snapshots (``show(snap)``), never a trainer."""

    DEFAULT_CSS = "GradRows { height: 1fr; min-height: 3; }"

    def __init__(self, stat: str = "grad_norm", **kw) -> None:
        super().__init__(**kw)
        self.stat = stat
        self._snap: Snapshot | None = None
        self._lines: list[Strip] = []
        self._built_for: tuple = ()

    def show(self, snap: Snapshot) -> None:
        self._snap = snap
        self._built_for = ()
        self.refresh()

    def _build(self, width: int, height: int) -> None:
        snap = self._snap
        self._built_for = (width, height)
        self._lines = []
        if snap is None or snap.n_layers == 0:
            return
        grp = R.groups(snap.n_layers, height)
        if len(snap.steps) == 0:  # compiling / fresh start: no statistics yet
            self._lines = no_steps(snap.layer_names, grp, width)
            return
        series = snap.layer_series(self.stat)  # (n, L)
        logs = R.safe_log10(np.where(series == 0, 1e-300, series))  # exact 0 (dead net): lowest bar
        cur = snap.latest_finite_layers(self.stat)  # after a divergence: the last finite values
        regimes = G.worst(snap.regimes, grp)
        _, vals = R.group_log_mean(cur, grp)
        texts = [R.value_text(v, reg) for v, reg in zip(vals, regimes)]
        labels = R.group_labels(snap.layer_names, grp)
        value_w = max(VALUE_MIN_W, *map(len, texts))
        spark_w = max(4, width - len(labels[0]) - value_w - R.TAG_W - 1)
        cols = R.bucket_mean(logs, spark_w)  # (spark_w, L)
        sparks = R.spark_columns(R.group_nanmean(cols, grp))  # one string per group, in one pass
        for label, spk, txt, reg in zip(labels, sparks, texts, regimes):
            st = REGIME_STYLE[reg]
            segs = [
                Segment(label, st),
                Segment(spk, st),
                Segment(" " + txt.rjust(value_w), st),
                Segment(" " + R.REGIME_TAG[reg].ljust(R.TAG_W - 1), TAG_STYLE[reg]),
            ]
            self._lines.append(Strip(segs).crop(0, width))

    def render_line(self, y: int) -> Strip:
        w, h = self.size
        if self._built_for != (w, h):
            self._build(w, h)
        if y < len(self._lines):
            return self._lines[y]
        if y == 0 and self._snap is None:
            return Strip([Segment("waiting for the trainer…", DIM)])
        return blank(w)
