"""Gradient-vs-depth profile: the current value of one per-layer statistic as horizontal bars.

``v`` cycles the statistic (:data:`gradtui.ui.views.DEPTH_MODES`): grad norm (log, the shared
1e-10..1e2 range), update:weight ratio (log, 1e-8..1, guide at 1e-3), saturated %, dead %,
activation std (linear, guide at 1).

``t`` toggles the theory's markers (gradient-norm mode): where mean-field theory predicts each row's
gradient (``snap.prediction``), anchored at the last hidden layer's measured value, so at step 0 the
bars end on the markers and training moves them away.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip

from gradtui import regimes as G
from gradtui import theory
from gradtui.numfmt import num, pct
from gradtui.stats import Snapshot
from gradtui.ui import views as R
from gradtui.ui.views import DEPTH_MODES, DepthMode
from gradtui.ui.widgets import layer_views
from gradtui.ui.widgets.lines import DIM, REGIME_STYLE, LinesWidget, no_steps

VALUE_MIN_W = 8
_GUIDE = Style(color="magenta", bold=True)
MARK = "◆"  # the theory's predicted value
_MARK = Style(color="bright_white", bold=True)
PRED_ATTR = {"grad_norm": "pred_grad_log10", "delta_norm": "pred_delta_log10"}  # modes theory predicts


def predicted_log10(snap: Snapshot, stat: str) -> np.ndarray | None:
    """Each layer's predicted log10 ``stat`` (NaN for the output layer): the theory's log10 ratio to
    the last hidden layer plus that layer's measured log10 value; None where theory does not apply
    (another statistic, no prediction, residual / batch norm, no finite anchor)."""
    pred = snap.prediction
    if stat not in PRED_ATTR or pred is None or not pred.modelled or snap.n_layers < 2:
        return None
    cur = R.safe_log10(snap.latest_finite_layers(stat))
    anchor = cur[snap.n_layers - 2]  # the last hidden layer
    if not np.isfinite(anchor) or len(pred.layers) != snap.n_layers:
        return None
    return anchor + np.array([getattr(lp, PRED_ATTR[stat]) for lp in pred.layers], np.float64)


def theory_text(snap: Snapshot | None) -> str:
    """``χ₁ 0.06 ordered`` (the theory's factor per layer and phase), ``not modelled`` for residual /
    batch-norm networks, "" without a prediction."""
    pred = None if snap is None else snap.prediction
    if pred is None:
        return ""
    head = f"χ₁ {num(pred.chi1, 2)} {pred.phase}"
    return head if pred.modelled else f"theory {theory.NOT_MODELLED} (plain net: {head})"


def _columns(x: np.ndarray, lo: float, hi: float, bar_w: int) -> list[int]:
    """The bar length (in cells, 0..bar_w) of each value on [lo, hi]; 0 for NaN / inf."""
    x = np.asarray(x, np.float64)
    fin = np.isfinite(x)
    frac = np.clip((np.where(fin, x, lo) - lo) / (hi - lo), 0.0, 1.0)
    return np.where(fin, np.rint(frac * bar_w), 0).astype(int).tolist()


def rows(snap: Snapshot | None, width: int, height: int, mode: DepthMode = DEPTH_MODES[0],
         theory: bool = True) -> list[Strip]:
    """The bars of ``snap``'s per-layer ``mode.stat`` in a ``width`` x ``height`` panel; with
    ``theory`` a :data:`MARK` where the prediction puts each row (see :func:`predicted_log10`).
    The histogram and over-time modes: :mod:`gradtui.ui.widgets.layer_views`."""
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
    pred = predicted_log10(snap, mode.stat) if theory and mode.log else None
    marks = R.group_nanmean(pred, grp) if pred is not None else np.full(len(grp), np.nan)
    ns = _columns(xs, lo, hi, bar_w)
    mcols = [min(c, bar_w - 1) if ok else None
             for c, ok in zip(_columns(marks, lo, hi, bar_w), np.isfinite(marks).tolist())]
    guide = gcol is not None and 0 <= gcol < bar_w
    lines = []
    for label, n, txt, reg, mk in zip(labels, ns, texts, regimes, mcols):
        style = REGIME_STYLE[reg]
        bar = "█" * n + " " * (bar_w - n)
        over: dict[int, tuple[str, Style]] = {}
        if guide:
            over[gcol] = ("|" if bar[gcol] == " " else "┃", _GUIDE)
        if mk is not None:  # just past the bar's end when the bar reaches the prediction
            over[mk] = (MARK, _MARK)
        segs, at = [Segment(label, DIM)], 0
        for col in sorted(over):
            ch, st = over[col]
            segs += [Segment(bar[at:col], style), Segment(ch, st)]
            at = col + 1
        segs.append(Segment(bar[at:], style))
        segs.append(Segment(" " + txt.rjust(value_w), style))
        lines.append(Strip(segs).crop(0, width))
    return lines


class DepthProfile(LinesWidget):
    DEFAULT_CSS = "DepthProfile { height: 1fr; }"

    mode: reactive[int] = reactive(0)  # index into DEPTH_MODES
    theory: reactive[bool] = reactive(True)  # the prediction's markers

    @property
    def title(self) -> str:
        m = DEPTH_MODES[self.mode]
        extra = self._theory_title()
        return f"{m.title}  {extra}" if extra else m.title

    @property
    def short_title(self) -> str:
        """The title for a narrow panel: the theory's numbers alone (in the modes it predicts)."""
        pred = None if self.snap is None else self.snap.prediction
        if pred is not None and not pred.modelled and DEPTH_MODES[self.mode].stat in PRED_ATTR:
            return theory.NOT_MODELLED
        return self._theory_title() or DEPTH_MODES[self.mode].title

    def _theory_title(self) -> str:
        """``◆ χ₁ 0.056 ordered`` with the markers on, without the ◆ when they are off."""
        if DEPTH_MODES[self.mode].stat not in PRED_ATTR:
            return ""
        text = theory_text(self.snap)
        return f"{MARK} {text}" if text and self.theory else text

    def cycle(self) -> str:
        self.mode = (self.mode + 1) % len(DEPTH_MODES)
        return self.title

    def toggle_theory(self) -> bool:
        self.theory = not self.theory
        return self.theory

    def view(self) -> tuple:
        return (self.mode, self.theory)

    def basis(self, snap: Snapshot | None) -> object:
        # a histogram changes on the boundary's beat only: rebuild then, not on every snapshot
        if snap is not None and DEPTH_MODES[self.mode].kind == "hist":
            return snap.hist
        return snap

    def rows(self, snap: Snapshot | None, width: int, height: int) -> list[Strip]:
        return rows(snap, width, height, DEPTH_MODES[self.mode], self.theory)
