"""Train and test loss and (right axis) test accuracy vs step, dotted chance levels (ln K, 1/K),
numbered event marks listed under the plot with the plotted window.

Plotext pitfalls avoided: only finite data is plotted, log-y is log10 of positive values on a
linear axis (``yscale("log")`` crashes on redraw), and the plot is rebuilt at most ``hz`` times a
second (one build costs ~30 ms of UI thread).
"""

from __future__ import annotations

import time

import numpy as np
from rich.text import Text
from textual_plotext import PlotextPlot

from gradtui.drive import PLOT_HZ
from gradtui.stats import Snapshot
from gradtui.ui import plot_axes as axes
from gradtui.ui import views as R


LATE = 0.25  # s past a due drawing before the timer draws it (snapshots come every 0.1 s)


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
        self._last_draw = -1e9
        self._due = None  # the timer of a redraw already asked for

    def show(self, snap: Snapshot) -> None:
        """Draw now if the last drawing is 1/hz old. Otherwise the snapshot that arrives once it is
        draws (inside that snapshot's frame: a timer of its own would cost a frame of its own);
        a timer :data:`LATE` s after that catches a last snapshot (the run paused or stopped)."""
        self._snap = snap
        self._hist.add(snap)
        wait = self._last_draw + 1.0 / self.hz - time.monotonic()
        if self._drawn is None or wait <= 0:
            self.redraw()
        elif self._due is None:
            self._due = self.set_timer(wait + LATE, self._timed)

    def _timed(self) -> None:
        self._due = None
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
        self._last_draw = time.monotonic()
        if self._due is not None:  # drawn before the catch-up timer: it has nothing left to do
            self._due.stop()
            self._due = None
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        width = 128  # fixed bucket count (about the braille resolution): the picture depends on the data only
        steps, loss, test_loss, acc = self._hist.arrays()
        tf = self._y(loss)
        xs = R.bucket_mean(steps[:, None], width)[:, 0] if len(steps) else steps
        ys = R.bucket_mean(tf[:, None], width)[:, 0] if len(tf) else tf
        ok = np.isfinite(xs) & np.isfinite(ys)
        self._has_data = bool(ok.sum() >= 1)
        if not self._has_data:
            self.refresh()
            return
        # Colliding tick labels are dropped in an order that depends on Python's string hashing
        # (differs per process): a short plot gets only non-colliding ticks.
        many = self.size.height >= 10
        x_lo, x_hi = float(xs[ok].min()), float(xs[ok].max())
        ty = self._y(test_loss)
        tok = np.isfinite(ty) & (steps >= x_lo) & (steps <= x_hi)
        y_all = np.concatenate([ys[ok], ty[tok]])
        ch = axes.chance(snap.config.dataset, snap.config.n_classes) if snap.task == "classify" else None
        if ch is not None:
            y_all = np.append(y_all, self._y(np.array([ch[0]])))
        y_all = y_all[np.isfinite(y_all)]
        y_lo, y_hi = float(y_all.min()), float(y_all.max())
        cx = np.linspace(x_lo, max(x_hi, x_lo + 1), 40).tolist()  # the dotted chance lines' x
        if ch is not None and np.isfinite(self._y(np.array([ch[0]]))[0]):
            plt.plot(cx, [float(self._y(np.array([ch[0]]))[0])] * len(cx), color=axes.COLORS["chance"], marker="·")
        plt.plot(xs[ok].tolist(), ys[ok].tolist(), color=axes.COLORS["train"], marker="braille")
        if tok.any():
            plt.plot(steps[tok].tolist(), ty[tok].tolist(), color=axes.COLORS["test"], marker="braille")
        aok = np.isfinite(acc) & (steps >= x_lo) & (steps <= x_hi)
        if snap.task == "classify":
            if ch is not None:
                plt.plot(cx, [ch[1]] * len(cx), color=axes.COLORS["chance"], marker="·", yside="right")
            if aok.any():
                plt.plot(steps[aok].tolist(), acc[aok].tolist(), color=axes.COLORS["acc"], marker="braille", yside="right")
            plt.ylim(0, 1, yside="right")
            yt = [0, 0.5, 1] if many else [0, 1]
            plt.yticks(yt, [f"{100 * v:.0f}%" for v in yt], yside="right")
        marks = axes.event_marks(snap.events, x_lo, x_hi)
        for k, step, _ in marks:
            plt.vline(float(step), axes.COLORS["event"])
            plt.text(str(k), float(step), y_hi, color=axes.COLORS["event"])
        plt.xlim(x_lo - 1, x_lo + 1) if x_hi <= x_lo else plt.xlim(x_lo, x_hi)
        n_ticks = 3 if many else 2
        if self.log_y:  # the log10 axis labelled with the losses themselves, distinct
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
        self.refresh()

    def _y(self, values: np.ndarray) -> np.ndarray:
        """The plotted value: log10 of the positive finite losses, or the finite losses."""
        return R.safe_log10(values) if self.log_y else np.where(np.isfinite(values), values, np.nan)

    def render(self):
        if not self._has_data:
            return Text("loss: waiting for the first steps…", style="dim")
        try:
            return super().render()
        except Exception as exc:  # plotext must never take the dashboard down
            return Text(f"plot unavailable: {exc}", style="dim")


class History:
    """The whole run's (step, loss, test loss, test acc), decimated by pair-averaging to <= ``cap`` rows.

    Snapshots only carry the newest window; this keeps the long view. A step that goes backwards
    (reset, preset, rebuild) starts a new history."""

    def __init__(self, cap: int = 4096) -> None:
        self.cap = cap
        self.clear()

    def clear(self) -> None:
        self.rows = np.empty((0, 4))
        self.last_step = -1

    def add(self, snap: Snapshot) -> None:
        steps = np.asarray(snap.steps)
        if snap.step < self.last_step:
            self.clear()
        new = steps > self.last_step
        if not new.any():
            return
        rows = np.column_stack([steps[new], *(snap.global_series(k)[new] for k in ("loss", "test_loss", "test_acc"))])
        self.rows = np.concatenate([self.rows, rows])
        self.last_step = int(steps[-1])
        while len(self.rows) > self.cap:
            n = len(self.rows) // 2 * 2
            head = self.rows[:n].reshape(-1, 2, 4)
            merged = np.column_stack([head[:, 1, 0], *(_pair_mean(head[:, :, c]) for c in (1, 2, 3))])
            self.rows = np.concatenate([merged, self.rows[n:]])

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """steps, loss, test loss, test accuracy."""
        return self.rows[:, 0], self.rows[:, 1], self.rows[:, 2], self.rows[:, 3]


def _pair_mean(a: np.ndarray) -> np.ndarray:
    """Mean of the finite values of each row of an (n, 2) array; NaN when neither is finite."""
    fin = np.isfinite(a)
    cnt = fin.sum(1)
    tot = np.where(fin, a, 0.0).sum(1)
    return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
