"""Train and test loss and (right axis) test accuracy vs step, dotted chance levels (ln K, 1/K),
numbered event marks listed under the plot with the plotted window. Rebuilt at most ``hz`` times
a second, never off screen (:class:`gradtui.ui.widgets.plot_base.ThrottledPlot`).
"""

from __future__ import annotations

import numpy as np

from gradtui.stats import Snapshot
from gradtui.ui import plot_axes as axes
from gradtui.ui import views as R
from gradtui.ui.widgets.plot_base import ThrottledPlot, curve, level


class LossPlot(ThrottledPlot):
    DEFAULT_CSS = "LossPlot { height: 1fr; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.log_y = True
        self._snap: Snapshot | None = None
        self._hist = History()

    def show(self, snap: Snapshot) -> None:
        self._snap = snap
        self._hist.add(snap)
        self.news()

    @property
    def history(self) -> "History":
        """The whole run's losses so far (a fork starts from a copy of its origin's)."""
        return self._hist

    def seed(self, history: "History") -> None:
        """Start from a copy of ``history`` (a fork: the run it came from)."""
        self._hist = history.copy()
        self.news()

    def toggle_log(self) -> bool:
        self.log_y = not self.log_y
        self.redraw(force=True)
        return self.log_y

    def draw(self, plt) -> bool:
        snap = self._snap
        if snap is None:
            return False
        steps, loss, test_loss, acc = self._hist.arrays()
        xs, ys = curve(steps, self._y(loss))
        if not len(xs):
            return False
        # Colliding tick labels are dropped in an order that depends on Python's string hashing
        # (differs per process): a short plot gets only non-colliding ticks.
        many = self.size.height >= 10
        x_lo, x_hi = float(xs.min()), float(xs.max())
        ty = self._y(test_loss)
        tok = np.isfinite(ty) & (steps >= x_lo) & (steps <= x_hi)
        y_all = np.concatenate([ys, ty[tok]])
        ch = axes.chance(snap.config.dataset, snap.config.n_classes) if snap.task == "classify" else None
        if ch is not None:
            y_all = np.append(y_all, self._y(np.array([ch[0]])))
        y_all = y_all[np.isfinite(y_all)]
        y_lo, y_hi = float(y_all.min()), float(y_all.max())
        if ch is not None and np.isfinite(self._y(np.array([ch[0]]))[0]):
            level(plt, x_lo, x_hi, float(self._y(np.array([ch[0]]))[0]))
        plt.plot(xs.tolist(), ys.tolist(), color=axes.COLORS["train"], marker="braille")
        if tok.any():
            plt.plot(steps[tok].tolist(), ty[tok].tolist(), color=axes.COLORS["test"], marker="braille")
        aok = np.isfinite(acc) & (steps >= x_lo) & (steps <= x_hi)
        if snap.task == "classify":
            if ch is not None:
                level(plt, x_lo, x_hi, ch[1], yside="right")
            if aok.any():
                plt.plot(steps[aok].tolist(), acc[aok].tolist(), color=axes.COLORS["acc"], marker="braille", yside="right")
            plt.ylim(0, 1, yside="right")
            yt = [0, 0.5, 1] if many else [0, 1]
            plt.yticks(yt, [f"{100 * v:.0f}%" for v in yt], yside="right")
        marks = axes.event_marks(snap.events, x_lo, x_hi)
        for k, step, _ in marks:
            plt.vline(float(step), axes.COLORS["event"])
            plt.text(str(k), float(step), y_hi, color=axes.COLORS["event"])
        self.frame(plt, (x_lo, x_hi), (y_lo, y_hi), self.log_y, marks)
        return True

    def _y(self, values: np.ndarray) -> np.ndarray:
        """The plotted value: log10 of the positive finite losses, or the finite losses."""
        return R.safe_log10(values) if self.log_y else np.where(np.isfinite(values), values, np.nan)


class History:
    """The whole run's (step, loss, test loss, test acc), at most ``cap`` rows of about equal spans.

    Snapshots only carry the newest window; this keeps the long view. Past ``cap`` rows, every
    pair of rows becomes one and the rows that come later are averaged ``stride`` steps at a time,
    so every row covers about as many steps as any other. Each row keeps how many steps it holds:
    a merge is a mean weighted by them, and a row sits at the mean of its own steps. (Merging every
    pair again on each overflow, as before, left the oldest row covering half the run at its last
    step: the plot of a 50,000-step run started at step 30,000.) A step that goes backwards (reset,
    preset, rebuild) starts a new history."""

    def __init__(self, cap: int = 4096) -> None:
        self.cap = cap
        self.clear()

    def clear(self) -> None:
        self.rows = np.empty((0, 5))  # step, loss, test loss, test acc, steps held
        self.pending = np.empty((0, 5))  # the newest steps, fewer than ``stride``
        self.stride = 1  # steps a row covers
        self.last_step = -1

    def add(self, snap: Snapshot) -> None:
        steps = np.asarray(snap.steps)
        if snap.step < self.last_step:
            self.clear()
        new = steps > self.last_step
        if not new.any():
            return
        rows = np.column_stack([steps[new], *(snap.global_series(k)[new] for k in ("loss", "test_loss", "test_acc")),
                                np.ones(int(new.sum()))])
        self.last_step = int(steps[-1])
        pend = np.concatenate([self.pending, rows])
        n = len(pend) // self.stride * self.stride
        self.rows = np.concatenate([self.rows, _block_mean(pend[:n], self.stride)])
        self.pending = pend[n:]
        while len(self.rows) > self.cap:
            n = len(self.rows) // 2 * 2
            self.rows = np.concatenate([_block_mean(self.rows[:n], 2), self.rows[n:]])
            self.stride *= 2

    def copy(self) -> "History":
        other = History(self.cap)
        other.rows, other.pending = self.rows.copy(), self.pending.copy()
        other.stride, other.last_step = self.stride, self.last_step
        return other

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """steps, loss, test loss, test accuracy (the newest steps not yet a whole row included)."""
        rows = np.concatenate([self.rows, self.pending]) if len(self.pending) else self.rows
        return rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]


def _block_mean(rows: np.ndarray, k: int) -> np.ndarray:
    """Every ``k`` consecutive rows (a whole number of them) as one, weighted by the steps each
    holds (the last column): the mean step, each column's mean over its finite values (NaN where
    a block has none: test figures come every few steps), and the steps held."""
    if k == 1 or not len(rows):
        return rows
    blocks = rows.reshape(-1, k, rows.shape[1])
    held = blocks[:, :, -1:]
    vals = blocks[:, :, :-1]
    fin = np.isfinite(vals)
    w = np.where(fin, held, 0.0)
    tot = (np.where(fin, vals, 0.0) * w).sum(1)
    cnt = w.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(cnt > 0, tot / np.maximum(cnt, 1e-300), np.nan)
    return np.column_stack([means, held.sum(1)])
