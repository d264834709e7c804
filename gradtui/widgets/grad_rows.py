"""Per-layer gradient sparklines: one row per layer (or group of layers), input side at the top.

Every row shares the fixed log10 range of :mod:`regime` (1e-10 .. 1e2), so gradients fading toward
the input are visible at a glance. One Segment per cell run, styles precomputed, NaN/inf safe.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from gradtui.stats import Snapshot
from gradtui.widgets import regime as R

NAME_W, VALUE_W, TAG_W = 7, 9, 8
_STYLES = {k: Style(color=c) for k, c in R.REGIME_COLOR.items()}
_TAG_STYLES = {k: Style(color=c, bold=k != "healthy") for k, c in R.REGIME_COLOR.items()}
_DIM = Style(dim=True)


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
        if len(snap.steps) == 0:  # compiling / fresh start: no statistics yet
            for start, stop in R.groups(snap.n_layers, height):
                label = R.group_label(snap.layer_names, start, stop).ljust(NAME_W)[:NAME_W]
                self._lines.append(Strip([Segment(label + "– no steps yet", _DIM)]).crop(0, width))
            return
        series = snap.layer_series(self.stat)  # (n, L)
        logs = R.safe_log10(np.where(series == 0, 1e-300, series))  # exact 0 (dead net): lowest bar
        raw = snap.latest_layers(self.stat)
        cur = snap.latest_finite_layers(self.stat)  # after a divergence: the last finite values
        first = series[0] if len(series) else None
        regimes = R.classify(cur, first)
        regimes = ["bad" if not np.isfinite(raw[i]) else r for i, r in enumerate(regimes)]
        spark_w = max(4, width - NAME_W - VALUE_W - TAG_W)
        cols = R.bucket_mean(logs, spark_w)  # (spark_w, L)
        grp = R.groups(snap.n_layers, height)
        sparks = R.spark_columns(R.group_nanmean(cols, grp))  # one string per group, in one pass
        _, vals = R.group_log_mean(cur, grp)
        for (start, stop), spk, val, reg in zip(grp, sparks, vals, R.worst_regime(regimes, grp)):
            st = _STYLES[reg]
            segs = [
                Segment(R.group_label(snap.layer_names, start, stop).ljust(NAME_W)[:NAME_W], st),
                Segment(spk, st),
                Segment(R.sci(val, VALUE_W), st),
                Segment(" " + R.REGIME_TAG[reg].ljust(TAG_W - 1), _TAG_STYLES[reg]),
            ]
            self._lines.append(Strip(segs).crop(0, width))

    def render_line(self, y: int) -> Strip:
        w, h = self.size
        if self._built_for != (w, h):
            self._build(w, h)
        if y < len(self._lines):
            return self._lines[y]
        if y == 0 and self._snap is None:
            return Strip([Segment("waiting for the trainer…", _DIM)])
        return Strip.blank(w)
