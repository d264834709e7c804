"""The claim vocabulary of the lessons: named measures over a snapshot and the comparisons a lesson
may claim about them (numeric side: no textual or rich).

A *measure* is one number computed from a :class:`gradtui.stats.Snapshot` whose window holds the
steps of one phase of a lesson (the steps run since the last change). Gradient-like measures use
the geometric mean of the last :data:`GRAD_STEPS` steps, loss and accuracy the mean of the last
:data:`LOSS_STEPS` steps (the headless summary's rule), so one noisy step cannot decide a claim.
"First" and "last" layer mean the first and last *hidden* layers (the output layer's delta is the
softmax residual, which depends on the labels; ``THEORY.md``).

A *claim* compares a measure after a change with its value before (the previous phase, or the
lesson's start) or with a fixed number:

=================== ============================================================
``at_least`` x       after >= x
``at_most`` x        after <= x
``rises_by`` x       after - before >= x
``falls_by`` x       before - after >= x
``grows_by_factor``  after / before >= x (x > 1; e.g. 1e3 = three decades)
``shrinks_by_factor`` before / after >= x
``within_factor`` x  max(after/before, before/after) <= x: "this does not change it"
=================== ============================================================

A claim on a non-finite value fails (a diverged run has no loss), except on ``diverged``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from gradtui import regimes
from gradtui.numfmt import num

GRAD_STEPS = 20  # gradient statistics: geometric mean of the newest 20 steps of the phase
LOSS_STEPS = 100  # loss / accuracy: mean of the newest 100 steps (as the headless summary)


def _hidden(snap) -> list[int]:
    idx = [i for i, n in enumerate(snap.layer_names) if n != "out"]
    return idx or [0]


def _geo(values: np.ndarray) -> float:
    """Geometric mean of the finite, positive values (NaN when there is none)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    return float(np.exp(np.mean(np.log(v)))) if len(v) else float("nan")


def _mean(values: np.ndarray) -> float:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return float(np.mean(v)) if len(v) else float("nan")


def _layer(stat: str, which: str, geo: bool = True) -> Callable:
    def fn(snap) -> float:
        series = snap.layer_series(stat)[-GRAD_STEPS:]
        h = _hidden(snap)
        col = series[:, h[0] if which == "first" else h[-1]]
        return _geo(col) if geo else _mean(col)
    return fn


def _ratio(stat: str) -> Callable:
    first, last = _layer(stat, "first"), _layer(stat, "last")
    return lambda snap: first(snap) / last(snap)


def _hidden_mean(stat: str) -> Callable:
    return lambda snap: _mean(snap.layer_series(stat)[-GRAD_STEPS:, _hidden(snap)])


def _global_mean(stat: str) -> Callable:
    return lambda snap: _mean(snap.global_series(stat)[-LOSS_STEPS:])


def _grad_max(snap) -> float:
    g = snap.layer_series("grad_norm")[-GRAD_STEPS:]
    per_layer = [_geo(g[:, i]) for i in range(g.shape[1])] if len(g) else [float("nan")]
    return float(np.nanmax(per_layer)) if np.isfinite(per_layer).any() else float("nan")


def _n_regime(name: str) -> Callable:
    def fn(snap) -> float:
        if len(snap.steps) == 0:
            return float("nan")
        return float(sum(snap.regimes[i] == name for i in _hidden(snap)))
    return fn


def _weight_norm(snap) -> float:
    w = snap.layer_series("weight_norm")
    if len(w) == 0:
        return float("nan")
    return float(np.sqrt(np.sum(np.asarray(w[-1], np.float64) ** 2)))


def _clipped(snap) -> float:
    c = snap.global_series("clipped")
    c = c[np.isfinite(c)]
    return float(np.mean(c > 0)) if len(c) else float("nan")


@dataclass(frozen=True)
class Measure:
    fn: Callable
    help: str


MEASURES: dict[str, Measure] = {
    "grad_ratio": Measure(_ratio("grad_norm"), "first hidden layer's grad_norm / last hidden layer's"),
    "delta_ratio": Measure(_ratio("delta_norm"), "first hidden layer's delta_norm / last hidden layer's"),
    "grad_first": Measure(_layer("grad_norm", "first"), "first hidden layer's grad_norm"),
    "grad_last": Measure(_layer("grad_norm", "last"), "last hidden layer's grad_norm"),
    "grad_max": Measure(_grad_max, "the largest layer grad_norm (output layer included)"),
    "update_first": Measure(_layer("update_ratio", "first"), "first hidden layer's |dW|/|W| (healthy ~1e-3)"),
    "update_last": Measure(_layer("update_ratio", "last"), "last hidden layer's |dW|/|W|"),
    "act_std_last": Measure(_layer("act_std", "last", geo=False), "std of the last hidden layer's output"),
    "saturated": Measure(_hidden_mean("saturated"), "mean saturated fraction of the hidden layers"),
    "dead": Measure(_hidden_mean("dead"), "mean dead-unit fraction of the hidden layers"),
    "weight_norm": Measure(_weight_norm, "L2 norm of all weights (the newest step)"),
    "loss": Measure(_global_mean("loss"), f"training loss, mean of the newest {LOSS_STEPS} steps"),
    "train_acc": Measure(_global_mean("train_acc"), f"batch accuracy, mean of the newest {LOSS_STEPS} steps"),
    "test_acc": Measure(lambda s: s.last_finite("test_acc"), "the newest test accuracy"),
    "lr": Measure(lambda s: s.latest("lr"), "learning rate of the newest step"),
    "clipped": Measure(_clipped, "fraction of the phase's steps where clipping changed the gradient"),
    "diverged": Measure(lambda s: 1.0 if s.status == "diverged" else 0.0, "1 when the run diverged, else 0"),
    "steps": Measure(lambda s: float(len(s.steps)), "steps the phase ran (fewer when it diverged)"),
    **{f"n_{r}": Measure(_n_regime(r), f"hidden layers in the '{r}' regime (newest step)")
       for r in (regimes.VANISHING, regimes.EXPLODING, regimes.SATURATED, regimes.DEAD, regimes.OK)},
}

RELATIVE = {"rises_by", "falls_by", "grows_by_factor", "shrinks_by_factor", "within_factor"}
OPS: dict[str, Callable[[float, float, float], bool]] = {
    "at_least": lambda b, a, x: a >= x,
    "at_most": lambda b, a, x: a <= x,
    "rises_by": lambda b, a, x: a - b >= x,
    "falls_by": lambda b, a, x: b - a >= x,
    "grows_by_factor": lambda b, a, x: b > 0 and a / b >= x,
    "shrinks_by_factor": lambda b, a, x: a > 0 and b / a >= x,
    "within_factor": lambda b, a, x: a > 0 and b > 0 and max(a / b, b / a) <= x,
}
AGAINST = ("previous", "start")
_WORDS = {"at_least": ">=", "at_most": "<=", "rises_by": "rises by >=", "falls_by": "falls by >=",
          "grows_by_factor": "grows by a factor >=", "shrinks_by_factor": "shrinks by a factor >=",
          "within_factor": "changes by a factor <="}


@dataclass(frozen=True)
class Claim:
    measure: str
    op: str
    value: float
    against: str = "previous"  # the phase a relative claim compares with

    @property
    def relative(self) -> bool:
        return self.op in RELATIVE

    def holds(self, before: float, after: float) -> bool:
        if not math.isfinite(after) or (self.relative and not math.isfinite(before)):
            return False
        return bool(OPS[self.op](before, after, self.value))

    def describe(self) -> str:
        ref = "" if not self.relative else (" (vs the start)" if self.against == "start" else "")
        return f"{self.measure} {_WORDS[self.op]} {num(self.value)}{ref}"


def measure_all(snap) -> dict[str, float]:
    """Every measure of :data:`MEASURES` on ``snap`` (NaN where it does not apply)."""
    with np.errstate(all="ignore"):
        return {name: float(m.fn(snap)) for name, m in MEASURES.items()}
