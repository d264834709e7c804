"""Loss curve (and test accuracy on the right axis) vs step, with vertical marks at events.

Plotext pitfalls avoided: only finite data is plotted, log-y is log10 of positive values on a
linear axis (``yscale("log")`` crashes on redraw), and the plot is rebuilt at most ``hz`` times a
second (one build costs ~30 ms of UI thread).
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual_plotext import PlotextPlot

from gradtui.drive import PLOT_HZ
from gradtui.numfmt import nums
from gradtui.stats import Snapshot
from gradtui.ui import views as R


class LossPlot(PlotextPlot):
    DEFAULT_CSS = "LossPlot { height: 1fr; }"

    def __init__(self, hz: float = PLOT_HZ, **kw) -> None:
        super().__init__(**kw)
        self.hz = hz
        self.log_y = True
        self._snap: Snapshot | None = None
        self._drawn: Snapshot | None = None
        self._has_data = False
        self._hist = History()

    def on_mount(self) -> None:
        self.set_interval(1.0 / self.hz, self.redraw)

    def show(self, snap: Snapshot) -> None:
        self._snap = snap
        self._hist.add(snap)
        if self._drawn is None:  # first data: draw now, then at most hz times a second
            self.redraw()

    def on_resize(self) -> None:
        self.redraw(force=True)

    def toggle_log(self) -> bool:
        self.log_y = not self.log_y
        self._drawn = None
        self.redraw()
        return self.log_y

    def redraw(self, force: bool = False) -> None:
        snap = self._snap
        if snap is None or (snap is self._drawn and not force):
            return
        self._drawn = snap
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        width = 128  # fixed bucket count (about the braille resolution): the picture depends on the data only
        steps, loss, acc = self._hist.arrays()
        y = R.safe_log10(loss) if self.log_y else np.where(np.isfinite(loss), loss, np.nan)
        xs = R.bucket_mean(steps[:, None], width)[:, 0] if len(steps) else steps
        ys = R.bucket_mean(y[:, None], width)[:, 0] if len(y) else y
        ok = np.isfinite(xs) & np.isfinite(ys)
        self._has_data = bool(ok.sum() >= 1)
        if not self._has_data:
            self.refresh()
            return
        # Colliding tick labels are dropped in an order that depends on Python's string hashing
        # (differs per process): a short plot gets only non-colliding ticks.
        many = self.size.height >= 10
        plt.plot(xs[ok].tolist(), ys[ok].tolist(), color="cyan", marker="braille")
        aok = np.isfinite(acc)
        if snap.task == "classify" and aok.sum() >= 1:
            plt.plot(steps[aok].tolist(), acc[aok].tolist(), color="green", marker="braille", yside="right")
            plt.ylim(0, 1, yside="right")
            yt = [0, 0.5, 1] if many else [0, 1]
            plt.yticks(yt, [f"{100 * v:.0f}%" for v in yt], yside="right")
        x_lo, x_hi = float(xs[ok].min()), float(xs[ok].max())
        for ev in snap.events[-8:]:
            if x_lo < ev.step <= x_hi:
                plt.vline(float(ev.step), "magenta")
        if x_hi <= x_lo:
            plt.xlim(x_lo - 1, x_lo + 1)
        if self.log_y:  # label the log10 axis with the loss values themselves
            y_lo, y_hi = float(ys[ok].min()), float(ys[ok].max())
            yt = np.linspace(y_lo, y_hi, 3 if many else 2) if y_hi > y_lo else np.array([y_lo])
            plt.yticks(yt.tolist(), nums(10.0 ** yt))
        else:
            plt.yfrequency(3 if many else 2)
        ticks = np.unique(np.linspace(x_lo, max(x_hi, x_lo + 1), 3).round().astype(int))
        plt.xticks(ticks.tolist(), [f"{t:,}" for t in ticks])
        plt.yfrequency(3)
        self.refresh()

    def render(self):
        if not self._has_data:
            return Text("loss: waiting for the first steps…", style="dim")
        try:
            return super().render()
        except Exception as exc:  # plotext must never take the dashboard down
            return Text(f"plot unavailable: {exc}", style="dim")


class History:
    """The whole run's (step, loss, test acc), decimated by pair-averaging to <= ``cap`` rows.

    Snapshots only carry the newest window; this keeps the long view. A step that goes backwards
    (reset, preset, rebuild) starts a new history."""

    def __init__(self, cap: int = 4096) -> None:
        self.cap = cap
        self.clear()

    def clear(self) -> None:
        self.rows = np.empty((0, 3))
        self.last_step = -1

    def add(self, snap: Snapshot) -> None:
        steps = np.asarray(snap.steps)
        if snap.step < self.last_step:
            self.clear()
        new = steps > self.last_step
        if not new.any():
            return
        rows = np.column_stack([steps[new], snap.global_series("loss")[new], snap.global_series("test_acc")[new]])
        self.rows = np.concatenate([self.rows, rows])
        self.last_step = int(steps[-1])
        while len(self.rows) > self.cap:
            n = len(self.rows) // 2 * 2
            head = self.rows[:n].reshape(-1, 2, 3)
            merged = np.column_stack([head[:, 1, 0], _pair_mean(head[:, :, 1]), _pair_mean(head[:, :, 2])])
            self.rows = np.concatenate([merged, self.rows[n:]])

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.rows[:, 0], self.rows[:, 1], self.rows[:, 2]


def _pair_mean(a: np.ndarray) -> np.ndarray:
    """Mean of the finite values of each row of an (n, 2) array; NaN when neither is finite."""
    fin = np.isfinite(a)
    cnt = fin.sum(1)
    tot = np.where(fin, a, 0.0).sum(1)
    return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
