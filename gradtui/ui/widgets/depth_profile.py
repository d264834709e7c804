"""Gradient-vs-depth profile: the current value of one per-layer statistic as horizontal bars.

``v`` cycles the statistic (:data:`gradtui.ui.views.DEPTH_MODES`): grad norm (log, the shared
1e-10..1e2 range), update:weight ratio (log, 1e-8..1, guide at 1e-3), saturated %, dead %,
activation std (linear, guide at 1).
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip

from gradtui import regimes as G
from gradtui.numfmt import pct
from gradtui.stats import Snapshot
from gradtui.ui import views as R
from gradtui.ui.views import DEPTH_MODES, DepthMode
from gradtui.ui.widgets import layer_views
from gradtui.ui.widgets.lines import DIM, REGIME_STYLE, LinesWidget, no_steps

VALUE_MIN_W = 8
_GUIDE = Style(color="magenta", bold=True)


def rows(snap: Snapshot | None, width: int, height: int, mode: DepthMode = DEPTH_MODES[0]) -> list[Strip]:
    """The bars of ``snap``'s per-layer ``mode.stat`` in a ``width`` x ``height`` panel (the
    histogram and over-time modes: :mod:`gradtui.ui.widgets.layer_views`)."""
    if mode.kind == "hist":
        return layer_views.hist_rows(snap, width, height, mode.stat)
    if mode.kind == "time":
        return layer_views.time_rows(snap, width, height, mode)
    if snap is None or snap.n_layers == 0:
        return []
    grp = R.groups(snap.n_layers, height)
    if len(snap.steps) == 0:  # compiling / fresh start: no statistics yet
        return no_steps(snap.layer_names, grp, width)
    lo, hi = mode.lo, mode.hi
    cur = np.asarray(snap.latest_finite_layers(mode.stat), np.float64)  # last finite after a divergence
    regimes = G.worst(snap.regimes, grp)  # bars take the layer's regime colour in every mode
    if mode.log:
        xs, shown_all = R.group_log_mean(cur, grp)
        texts = [R.value_text(v, reg) for v, reg in zip(shown_all, regimes)]
    else:
        xs = R.group_nanmean(cur, grp)
        texts = [pct(v) if hi == 1.0 else R.value_text(v, reg) for v, reg in zip(xs, regimes)]
    labels = R.group_labels(snap.layer_names, grp)
    value_w = max(VALUE_MIN_W, *map(len, texts))
    bar_w = max(4, width - len(labels[0]) - value_w - 1)
    gcol = None if mode.guide is None else int(round((mode.guide - lo) / (hi - lo) * (bar_w - 1)))
    lines = []
    for label, x, txt, reg in zip(labels, xs, texts, regimes):
        style = REGIME_STYLE[reg]
        n = 0 if not np.isfinite(x) else int(round(np.clip((x - lo) / (hi - lo), 0, 1) * bar_w))
        segs = [Segment(label, DIM)]
        bar = "█" * n + " " * (bar_w - n)
        if gcol is not None and 0 <= gcol < bar_w:
            segs += [Segment(bar[:gcol], style),
                     Segment("|" if bar[gcol] == " " else "┃", _GUIDE),
                     Segment(bar[gcol + 1:], style)]
        else:
            segs.append(Segment(bar, style))
        segs.append(Segment(" " + txt.rjust(value_w), style))
        lines.append(Strip(segs).crop(0, width))
    return lines


class DepthProfile(LinesWidget):
    DEFAULT_CSS = "DepthProfile { height: 1fr; }"

    mode: reactive[int] = reactive(0)  # index into DEPTH_MODES

    @property
    def title(self) -> str:
        return DEPTH_MODES[self.mode].title

    def cycle(self) -> str:
        self.mode = (self.mode + 1) % len(DEPTH_MODES)
        return self.title

    def view(self) -> tuple:
        return (self.mode,)

    def basis(self, snap: Snapshot | None) -> object:
        # a histogram changes on the boundary's beat only: rebuild then, not on every snapshot
        if snap is not None and DEPTH_MODES[self.mode].kind == "hist":
            return snap.hist
        return snap

    def rows(self, snap: Snapshot | None, width: int, height: int) -> list[Strip]:
        return rows(snap, width, height, DEPTH_MODES[self.mode])
