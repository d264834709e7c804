"""The A/B loss plot: both runs' training loss on one axis (log), legend A / B in the difference
view's colours, each run's changes marked in its colour (``B1`` ... under the plot), and the chance
level ln K when both runs learn the same K classes. One axis is the
point: two plots with axes of their own (1.09..1.12 beside 0.2..1) hide which run is ahead. (Each
run's test accuracy is on its status bar: a second pair of curves made the small plot unreadable.)

The runs are named by place (A left or on top): a swap (``x``) renames the curves.
"""

from __future__ import annotations

import numpy as np

from gradtui.stats import Snapshot
from gradtui.ui import plot_axes as axes
from gradtui.ui import views as R
from gradtui.ui.compare import SIDES
from gradtui.ui.widgets.loss_plot import History
from gradtui.ui.widgets.plot_base import ThrottledPlot, curve, level

MARKS_PER_RUN = 4  # the newest changes of each run marked in the plotted window


def title() -> str:
    c = axes.HEX
    return f"loss (log) [{c['A']}]━[/]A [{c['B']}]━[/]B [{c['chance']}]┄[/]chance"


def shared_chance(snaps) -> tuple[float, float] | None:
    """The chance levels (ln K, 1/K) when every run classifies the same K classes, else None
    (regression, or runs on different data)."""
    levels = {axes.chance(s.config.dataset, s.config.n_classes) if s.task == "classify" else None
              for s in snaps}
    return levels.pop() if len(levels) == 1 else None


def run_marks(runs, x_lo: float, x_hi: float) -> list[tuple[tuple[str, int, str], str]]:
    """((label, step, text), side) of each run's newest :data:`MARKS_PER_RUN` changes inside the
    plotted window, labelled by side (``B1``, ``B2``...), in step order."""
    marks = [((f"{side}{k}", step, text), side)
             for side, snap in runs
             for k, step, text in axes.event_marks(snap.events, x_lo, x_hi)[-MARKS_PER_RUN:]]
    return sorted(marks, key=lambda m: m[0][1])


class ABLossPlot(ThrottledPlot):
    """Shows the runs it is given (:meth:`show_runs`), never a trainer. The histories are the
    runs' own loss plots' (:attr:`LossPlot.history`): kept once, read here."""

    DEFAULT_CSS = "ABLossPlot { height: 1fr; width: 1fr; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._runs: list[tuple[History, Snapshot | None]] = []  # in place order (A first)

    def on_mount(self) -> None:
        self.border_title = title()

    def show_runs(self, runs: list[tuple[History, Snapshot | None]]) -> None:
        """``(its loss history, its newest snapshot)`` of each run, in place order (A first):
        redrawn when a run has a new snapshot, or the runs or their places changed."""
        same = len(runs) == len(self._runs) and all(
            h is h0 and s is s0 for (h, s), (h0, s0) in zip(runs, self._runs))
        self._runs = list(runs)
        if not same:
            self.news()

    def draw(self, plt) -> bool:
        runs = [(SIDES[i] if i < len(SIDES) else str(i), hist, snap)
                for i, (hist, snap) in enumerate(self._runs) if snap is not None]
        curves = []
        for side, hist, _ in runs:
            steps, loss, _, _ = hist.arrays()
            x, y = curve(steps, R.safe_log10(loss))
            if len(x):
                curves.append((side, x, y))
        if not curves:
            return False
        x_lo = min(float(x.min()) for _, x, _ in curves)
        x_hi = max(float(x.max()) for _, x, _ in curves)
        ys = np.concatenate([y for _, _, y in curves])
        ch = shared_chance([s for _, _, s in runs])
        if ch is not None:
            ys = np.append(ys, np.log10(ch[0]))
            level(plt, x_lo, x_hi, float(np.log10(ch[0])))
        for side, x, y in curves:
            plt.plot(x.tolist(), y.tolist(), color=axes.COLORS.get(side, axes.COLORS["train"]), marker="braille")
        marks = run_marks([(side, snap) for side, _, snap in runs], x_lo, x_hi)
        for (label, step, _), side in marks:
            color = axes.COLORS.get(side, axes.COLORS["event"])
            plt.vline(float(step), color)
            plt.text(label, float(step), float(ys.max()), color=color)
        self.frame(plt, (x_lo, x_hi), (float(ys.min()), float(ys.max())), True, [m for m, _ in marks])
        return True
