"""Gradient-vs-depth profile: the current value of one per-layer statistic as horizontal bars.

``v`` cycles the statistic: grad norm (log, the shared 1e-10..1e2 range), update:weight ratio (log,
1e-8..1, guide at 1e-3), saturated %, dead %, activation std (linear, guide at 1).
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from gradtui import regimes as G
from gradtui.numfmt import pct
from gradtui.stats import Snapshot
from gradtui.ui.widgets import regime as R
from gradtui.ui.widgets.lines import DIM, REGIME_STYLE, blank, no_steps

# stat, title, log scale?, lo, hi, guide value (or None)
MODES = (
    ("grad_norm", "|dL/dW| by depth (log)", True, R.LOG_LO, R.LOG_HI, None),
    ("update_ratio", "update:weight ratio (log, | = 1e-3)", True, -8.0, 0.0, -3.0),
    ("saturated", "saturated units %", False, 0.0, 1.0, None),
    ("dead", "dead units %", False, 0.0, 1.0, None),
    ("act_std", "activation std (| = 1)", False, 0.0, 2.0, 1.0),
)
VALUE_MIN_W = 8
_GUIDE = Style(color="magenta", bold=True)


class DepthProfile(Widget):
    DEFAULT_CSS = "DepthProfile { height: 1fr; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.mode = 0
        self._snap: Snapshot | None = None
        self._lines: list[Strip] = []
        self._built_for: tuple = ()

    @property
    def title(self) -> str:
        return MODES[self.mode][1]

    def cycle(self) -> str:
        self.mode = (self.mode + 1) % len(MODES)
        self._built_for = ()
        self.refresh()
        return self.title

    def show(self, snap: Snapshot) -> None:
        self._snap = snap
        self._built_for = ()
        self.refresh()

    def _build(self, width: int, height: int) -> None:
        self._built_for = (width, height)
        self._lines = []
        snap = self._snap
        if snap is None or snap.n_layers == 0:
            return
        grp = R.groups(snap.n_layers, height)
        if len(snap.steps) == 0:  # compiling / fresh start: no statistics yet
            self._lines = no_steps(snap.layer_names, grp, width)
            return
        stat, _, log, lo, hi, guide = MODES[self.mode]
        cur = np.asarray(snap.latest_finite_layers(stat), np.float64)  # last finite after a divergence
        regimes = G.worst(snap.regimes, grp)  # bars take the layer's regime colour in every mode
        if log:
            xs, shown_all = R.group_log_mean(cur, grp)
            texts = [R.value_text(v, reg) for v, reg in zip(shown_all, regimes)]
        else:
            xs = R.group_nanmean(cur, grp)
            texts = [pct(v) if hi == 1.0 else R.value_text(v, reg) for v, reg in zip(xs, regimes)]
        labels = R.group_labels(snap.layer_names, grp)
        value_w = max(VALUE_MIN_W, *map(len, texts))
        bar_w = max(4, width - len(labels[0]) - value_w - 1)
        gcol = None if guide is None else int(round((guide - lo) / (hi - lo) * (bar_w - 1)))
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
            self._lines.append(Strip(segs).crop(0, width))

    def render_line(self, y: int) -> Strip:
        w, h = self.size
        if self._built_for != (w, h):
            self._build(w, h)
        return self._lines[y] if y < len(self._lines) else blank(w)
