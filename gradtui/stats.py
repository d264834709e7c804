"""The statistics schema, the ring buffer the trainer writes, and the immutable snapshot views read.

Every view, export and test reads the statistics through :data:`LAYER_STATS` and
:data:`GLOBAL_STATS`: one table, documented once. The README's export schema is written by hand;
tests/test_readme_schema.py checks its keys and descriptions against these tables and the exporter.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from gradtui import kernels as K
from gradtui import regimes
from gradtui.config import Config
from gradtui.histograms import Histograms


def last_finite(values: np.ndarray) -> float:
    """The newest finite value of a series (NaN when there is none)."""
    ok = np.flatnonzero(np.isfinite(values))
    return float(values[ok[-1]]) if len(ok) else float("nan")


def finite_mean(values: np.ndarray) -> float:
    """The mean of a series' finite values (NaN when there is none)."""
    ok = np.isfinite(values)
    return float(np.mean(values[ok])) if ok.any() else float("nan")


@dataclass(frozen=True)
class Stat:
    name: str
    col: int
    help: str


LAYER_STATS: tuple[Stat, ...] = (
    Stat("grad_norm", K.L_GRAD_NORM, "L2 norm of dLoss/dW (data loss, penalties excluded, before clipping)"),
    Stat("grad_mean_abs", K.L_GRAD_MEAN_ABS, "mean |dLoss/dW| over the weight matrix"),
    Stat("delta_norm", K.L_DELTA_NORM, "L2 norm of the back-propagated signal dLoss/dz at this layer (whole batch)"),
    Stat("weight_norm", K.L_WEIGHT_NORM, "L2 (Frobenius) norm of W before the update"),
    Stat("update_ratio", K.L_UPDATE_RATIO, "|dW| / |W| of this step's update (healthy: about 1e-3)"),
    Stat("act_mean", K.L_ACT_MEAN, "mean of the layer's output over batch and units"),
    Stat("act_std", K.L_ACT_STD, "std of the layer's output over batch and units"),
    Stat("saturated", K.L_SATURATED, "fraction of (sample, unit) with |f'| < 1% of max f' (sigmoid, tanh; else 0)"),
    Stat("dead", K.L_DEAD, "fraction of units with f' = 0 on the whole batch (dead ReLUs)"),
)

GLOBAL_STATS: tuple[Stat, ...] = (
    Stat("loss", K.S_LOSS, "training objective on the batch: data loss + L1/L2 penalty"),
    Stat("train_acc", K.S_TRAIN_ACC, "accuracy on the batch (classification; null for regression)"),
    Stat("test_acc", K.S_TEST_ACC, "accuracy on the test set, every eval_every steps (else null)"),
    Stat("test_loss", K.S_TEST_LOSS, "data loss on the test set, every eval_every steps (else null)"),
    Stat("lr", K.S_LR, "learning rate used at this step"),
    Stat("grad_norm", K.S_GRAD_NORM, "global L2 norm of the whole gradient, before clipping"),
    Stat("clipped", K.S_CLIPPED, "whether clipping changed the gradient at this step"),
    Stat("status", K.S_STATUS, "ok, or diverged (non-finite loss or gradient; update skipped)"),
)

LAYER_COL = {s.name: s.col for s in LAYER_STATS}
GLOBAL_COL = {s.name: s.col for s in GLOBAL_STATS}
STATUS_NAMES = {K.STATUS_OK: "ok", K.STATUS_DIVERGED: "diverged"}

assert sorted(LAYER_COL.values()) == list(range(K.N_LSTATS))
assert sorted(GLOBAL_COL.values()) == list(range(K.N_GSTATS))


class StatsRing:
    """Preallocated ring of per-step statistics; the kernels write into it directly.

    ``pos`` is the next row to write, ``count`` the number of rows ever written.
    """

    def __init__(self, n_layers: int, capacity: int = 8192):
        self.capacity = int(capacity)
        self.step = np.zeros(self.capacity, np.int64)
        self.glob = np.full((self.capacity, K.N_GSTATS), np.nan)
        self.layers = np.full((self.capacity, n_layers, K.N_LSTATS), np.nan)
        self.pos = 0
        self.count = 0
        self.rewound: int | None = None  # the lowest count an undo went back to, until an export took note

    def advance(self, n: int) -> None:
        self.pos = (self.pos + n) % self.capacity
        self.count += n

    def clear(self) -> None:
        self.pos = 0
        self.count = 0

    def _rows(self, n: int) -> np.ndarray:
        n = min(n, self.count, self.capacity)
        return (self.pos - n + np.arange(n)) % self.capacity

    def last(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the newest ``n`` rows, oldest first: (steps, glob, layers).

        ``layers`` is (n, n_layers, N_LSTATS) laid out statistic by statistic: one statistic's
        (n, n_layers) history is one contiguous block. A view reading one statistic of a 1,024-step
        window then reads its 170 kB, not every cache line of the whole 1.5 MB (measured: the UI
        thread's rows took 3-5x longer than on a warm cache while two trainers ran)."""
        r = self._rows(n)
        by_stat = np.ascontiguousarray(np.moveaxis(self.layers[r], -1, 0))
        return self.step[r], self.glob[r], np.moveaxis(by_stat, 0, -1)

    def since(self, count0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows written after the ring had ``count0`` rows (must still be in the ring)."""
        n = self.count - count0
        if n > self.capacity:
            raise OverflowError(f"{n} rows requested from a ring of {self.capacity}")
        return self.last(n)


@dataclass(frozen=True)
class Event:
    step: int  # the first step that ran with the change
    text: str


@dataclass(frozen=True)
class Boundary:
    """Model output over a grid of the (standardised) input plane, for the decision-boundary view."""

    extent: tuple[float, float, float, float]  # x0, x1, y0, y1
    values: np.ndarray  # (rows, cols): predicted class (classify) or output (regress); row 0 = top
    points: np.ndarray  # (n, 2) a subsample of the training inputs
    labels: np.ndarray  # (n,) their classes or targets
    test_points: np.ndarray | None = None  # (m, 2) a subsample of the test inputs
    test_labels: np.ndarray | None = None  # (m,) their classes or targets


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _latest_finite(series: np.ndarray, n_layers: int) -> np.ndarray:
    """(n_layers,) the newest finite value of each column of ``series`` (n, n_layers); NaN where a
    column has none."""
    if len(series) == 0:  # compiling / fresh start
        return np.full(n_layers, np.nan)
    newest = np.asarray(series[-1], np.float64)
    if np.isfinite(newest).all():  # (every step but a divergence's)
        return newest.copy()
    out = np.full(n_layers, np.nan)
    fin = np.isfinite(series)
    has = fin.any(0)
    last = len(series) - 1 - np.argmax(fin[::-1], axis=0)
    out[has] = series[last[has], np.flatnonzero(has)]
    return out


@dataclass(frozen=True)
class Snapshot:
    """Everything a view may read, immutable: the worker builds one, the UI only reads it."""

    config: Config
    layer_names: tuple[str, ...]
    step: int  # steps completed
    status: str  # compiling | running | paused | diverged | error
    steps: np.ndarray  # (n,) step numbers of the window, oldest first
    glob: np.ndarray  # (n, N_GSTATS) see GLOBAL_STATS
    layers: np.ndarray  # (n, n_layers, N_LSTATS) see LAYER_STATS
    events: tuple[Event, ...] = ()
    steps_per_sec: float = 0.0
    message: str = ""
    task: str = "classify"
    boundary: Boundary | None = None
    compile_s: float | None = None
    commands_taken: int = 0  # commands the trainer had taken off its queue when this was built
    total_steps: int = 0  # steps the trainer ran since it was built, resets included (``step`` restarts)
    hist: Histograms | None = None  # per-layer histograms of a recent step (refreshed with the boundary)
    prediction: Any = None  # gradtui.theory.Prediction for this network at initialisation (explain.py)
    findings: tuple = ()  # gradtui.diagnose.Finding's of a recent snapshot, most important first
    backend: str = "kernels"  # what computes the steps: "kernels", or "numpy" while they compile (cold start)
    pace: float | None = None  # the live driver's speed limit, steps/s (None: unthrottled)

    @staticmethod
    def build(config, layer_names, step, status, steps, glob, layers, **kw) -> "Snapshot":
        return Snapshot(config, tuple(layer_names), int(step), status, _frozen(steps), _frozen(glob),
                        _frozen(layers), **kw)

    @cached_property
    def regimes(self) -> tuple[str, ...]:
        """Each layer's regime by the one rule of :mod:`gradtui.regimes` (computed once)."""
        return regimes.of_snapshot(self)

    def warm(self) -> "Snapshot":
        """Compute now what every view reads of this snapshot (each layer's regime and newest
        finite gradient norm), in the thread that built it rather than the UI's; returns it."""
        _ = self.regimes
        self.latest_finite_layers("grad_norm")
        return self

    @property
    def n_layers(self) -> int:
        return len(self.layer_names)

    def layer_series(self, name: str) -> np.ndarray:
        """(n, n_layers) history of one per-layer statistic."""
        return self.layers[:, :, LAYER_COL[name]]

    def global_series(self, name: str) -> np.ndarray:
        return self.glob[:, GLOBAL_COL[name]]

    def latest_layers(self, name: str) -> np.ndarray:
        """(n_layers,) newest value of a per-layer statistic (NaN when there is no step yet)."""
        if len(self.steps) == 0:
            return np.full(self.n_layers, np.nan)
        return self.layers[-1, :, LAYER_COL[name]]

    def latest_finite_layers(self, name: str) -> np.ndarray:
        """(n_layers,) each layer's newest *finite* value in the window: after a divergence the
        views keep showing where each layer stood (NaN only for a layer with no finite value).
        Computed once per snapshot and statistic (several views read it); read-only."""
        got = self._memo.get(("finite", name))
        if got is None:
            got = self._memo[("finite", name)] = _frozen(_latest_finite(self.layer_series(name), self.n_layers))
        return got

    @cached_property
    def _memo(self) -> dict:
        return {}

    def latest(self, name: str) -> float:
        if len(self.steps) == 0:
            return float("nan")
        return float(self.glob[-1, GLOBAL_COL[name]])

    def last_finite(self, name: str) -> float:
        """Newest finite value of a global statistic (test accuracy is only set every k steps)."""
        return last_finite(self.global_series(name))
