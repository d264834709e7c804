"""What the dashboard's plotext plots share: a rebuild at most ``hz`` times a second (one build costs
~10-30 ms of the UI thread), none while the plot is not on screen, and a render that never takes
the dashboard down.

Plotext pitfalls avoided by the subclasses: only finite data is plotted, log-y is log10 of positive
values on a linear axis (``yscale("log")`` crashes on redraw).
"""

from __future__ import annotations

import time

import numpy as np
from rich.text import Text
from textual_plotext import PlotextPlot

from gradtui.drive import PLOT_HZ
from gradtui.ui import plot_axes as axes
from gradtui.ui import views as R

LATE = 0.25  # s past a due drawing before the timer draws it (snapshots come every 0.1 s)
BUCKETS = 128  # points per curve (about the braille resolution): the picture depends on the data only


def curve(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a history column, bucket-averaged to at most :data:`BUCKETS` points, finite only."""
    if not len(steps):
        return steps, values
    xs = R.bucket_mean(steps[:, None], BUCKETS)[:, 0]
    ys = R.bucket_mean(values[:, None], BUCKETS)[:, 0]
    ok = np.isfinite(xs) & np.isfinite(ys)
    return xs[ok], ys[ok]


def level(plt, x_lo: float, x_hi: float, y: float, yside: str | None = None) -> None:
    """A dotted chance level at ``y`` across the plotted steps."""
    cx = np.linspace(x_lo, max(x_hi, x_lo + 1), 40).tolist()
    plt.plot(cx, [y] * len(cx), color=axes.COLORS["chance"], marker="·", yside=yside)


class ThrottledPlot(PlotextPlot):
    """Subclasses call :meth:`news` when their data changed and implement :meth:`draw`."""

    WAITING = "loss: waiting for the first steps…"

    def __init__(self, hz: float = PLOT_HZ, **kw) -> None:
        super().__init__(**kw)
        self.hz = hz
        self._has_data = False
        self._stale = True  # data came since the last drawing
        self._ever = False  # drawn at least once
        self._last_draw = -1e9
        self._due = None  # the timer of a redraw already asked for

    def news(self) -> None:
        """Draw now if the last drawing is 1/hz old. Otherwise the news that arrives once it is
        draws (inside that snapshot's frame: a timer of its own would cost a frame of its own);
        a timer :data:`LATE` s after that catches the last news (the run paused or stopped)."""
        self._stale = True
        wait = self._last_draw + 1.0 / self.hz - time.monotonic()
        if not self._ever or wait <= 0:
            self.redraw()
        elif self._due is None:
            self._due = self.set_timer(wait + LATE, self._timed)

    def _timed(self) -> None:
        self._due = None
        self.redraw()

    def redraw(self, force: bool = False) -> None:
        """Rebuild the plot (when there is news, or ``force``). Not while it is off screen (its
        own ``display: none`` or a hidden parent): it is drawn once it is shown."""
        if not (self._stale or force):
            return
        if self._due is not None:  # drawn before the catch-up timer: it has nothing left to do
            self._due.stop()
            self._due = None
        if not self.size.area and self._ever:
            self._stale = True
            return
        self._stale, self._ever = False, True
        self._last_draw = time.monotonic()
        self.plt.clear_data()
        self.plt.clear_figure()
        self._has_data = self.draw(self.plt)
        self.refresh()

    def draw(self, plt) -> bool:
        """Build the figure on ``plt``; False when there is nothing to plot yet."""
        raise NotImplementedError

    def frame(self, plt, xs: tuple[float, float], ys: tuple[float, float], log_y: bool, marks) -> None:
        """The axes of a loss plot over steps ``xs`` and (log10) losses ``ys``: honest, distinct
        tick labels (3 on a tall plot, 2 on a short one: colliding labels are dropped in an order
        that differs per process), and the line that states the window and lists ``marks``."""
        (x_lo, x_hi), (y_lo, y_hi) = xs, ys
        plt.xlim(x_lo - 1, x_lo + 1) if x_hi <= x_lo else plt.xlim(x_lo, x_hi)
        n_ticks = 3 if self.size.height >= 10 else 2
        if log_y:  # the log10 axis labelled with the losses themselves, distinct
            pos, labels = axes.log_ticks(y_lo, y_hi, n_ticks)
        else:
            pos = axes.value_ticks(y_lo, y_hi, n_ticks)
            labels = axes.distinct_labels(pos)
        if pos:
            plt.yticks(pos, labels)
        if y_hi > y_lo:
            plt.ylim(y_lo, y_hi)
        ticks = np.unique(np.linspace(x_lo, max(x_hi, x_lo + 1), 3).round().astype(int))
        plt.xticks(ticks.tolist(), [f"{t:,}" for t in ticks])
        plt.xlabel(axes.window_line(x_lo, x_hi, marks, max(10, self.size.width - 4)))

    def on_resize(self) -> None:
        self.redraw(force=True)

    def on_show(self) -> None:
        if self._stale:
            self.redraw()

    def render(self):
        if not self._has_data:
            return Text(self.WAITING, style="dim")
        try:
            return super().render()
        except Exception as exc:  # plotext must never take the dashboard down
            return Text(f"plot unavailable: {exc}", style="dim")
