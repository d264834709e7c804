"""The measured numbers a diagnosis reads from one snapshot, taken once, and the thresholds that
decide what the regime rule (:mod:`gradtui.regimes`) does not. Numeric side: no textual or rich.
"""

from __future__ import annotations

import math

import numpy as np

from gradtui import regimes as R
from gradtui.activations import ACTIVATIONS
from gradtui.data import DATASETS
from gradtui.numfmt import num

# --- the diagnosis's thresholds: only what the regime rule does not decide (all of them here;
# gradtui/remedies.py holds how far one remedy moves the learning rate) ------------------------
HEALTHY_UPDATE_RATIO = 1e-3  # Karpathy's rule of thumb for |dW|/|W| per step
UPDATE_RATIO_FAR = 100.0  # "far" = two decades off: the healthy presets spread over one (1e-4..4e-3)
RECENT = 100  # steps averaged for loss, accuracy and clipping rate (the headless summary's window)
MIN_STEPS = 20  # fewest recent steps for a rate (clipping, update ratio)
MIN_STEPS_CHANCE = 200  # every fresh net starts at chance: "stuck" only after this many steps
CHANCE_LOSS_TOL = 0.05  # a mean loss within 5% of the chance loss is at chance
CONVERGED_LOSS_FRAC = 0.05  # loss under 5% of chance: learnt, so small updates are expected
CLIP_ALWAYS_FRAC = 0.9  # clipping changed >= 90% of the recent steps
REGRESSION_CHANCE_LOSS = 1.0  # data.py standardises the targets: predicting their mean gives MSE 1


class Facts:
    """The numbers every rule reads, taken once: the judged row is the newest one, or after a
    divergence the newest finite one (its regimes by the same rule)."""

    def __init__(self, snap, prediction):
        self.snap, self.cfg, self.names = snap, snap.config, snap.layer_names
        self.n_hidden = snap.n_layers - 1
        self.act = ACTIVATIONS[self.cfg.activation]
        self.pred = prediction if prediction is not None and getattr(prediction, "modelled", False) else None
        status = snap.global_series("status")
        grad = snap.layer_series("grad_norm")
        ok = np.flatnonzero((status == 0) & np.isfinite(grad).all(1))
        self.diverged = snap.status == "diverged" or status[-1] != 0 or not np.isfinite(grad[-1]).all()
        self.k = len(grad) - 1 if not self.diverged else (int(ok[-1]) if len(ok) else None)
        row = self.k if self.k is not None else len(grad) - 1
        self.row = {s: snap.layer_series(s)[row] for s in ("grad_norm", "delta_norm", "weight_norm",
                                                            "update_ratio", "saturated", "dead", "act_std")}
        self.regimes = snap.regimes if not self.diverged or self.k is None else R.classify(
            grad[self.k], grad[0], self.row["saturated"], self.row["dead"])
        self.recent = snap.glob[-RECENT:]
        self.task = getattr(snap, "task", "classify")
        self.k_classes = DATASETS[self.cfg.dataset].n_out(self.cfg.n_classes)

    def where(self, regime: str) -> list[int]:
        return [i for i, r in enumerate(self.regimes) if r == regime]

    def glob_mean(self, name: str) -> float:
        v = self.snap.global_series(name)[-RECENT:]
        v = v[np.isfinite(v)]
        return float(v.mean()) if len(v) else math.nan

    def chance_loss(self) -> float:
        return math.log(self.k_classes) if self.task == "classify" else REGRESSION_CHANCE_LOSS

    def test_loss(self) -> float:
        """The newest held-out data loss of the window (NaN before the first evaluation)."""
        v = self.snap.global_series("test_loss")
        v = v[np.isfinite(v)]
        return float(v[-1]) if len(v) else math.nan

    def data_loss(self) -> float:
        """The recent training loss, or with L1/L2 on (the objective then carries the penalty) the
        newest held-out loss."""
        return self.test_loss() if (self.cfg.l1 or self.cfg.l2) else self.glob_mean("loss")

    def at_chance(self) -> bool:
        """The data loss is at chance and the training batches are not fitted either. The training
        objective is the data loss unless L1/L2 is on; then it includes the penalty and the held-out
        loss (the newest evaluation) stands in for it."""
        c, tol = self.chance_loss(), CHANCE_LOSS_TOL
        train, data = self.glob_mean("loss"), self.data_loss()
        return (self.snap.step >= MIN_STEPS_CHANCE and not self.diverged and train >= (1 - tol) * c
                and abs(data - c) <= tol * c)

    def converged(self) -> bool:
        return self.data_loss() < CONVERGED_LOSS_FRAC * self.chance_loss()

    def sigma_w(self) -> float:
        """sigma_w of the hidden-to-hidden weights, sqrt(fan_in Var W) = |W|_F / sqrt(fan_out),
        from this step's weight norms (median over layers 2..L; layer 1 if there is no other)."""
        sizes = self.cfg.hidden_sizes
        w = self.row["weight_norm"][: self.n_hidden] / np.sqrt(np.asarray(sizes, float))
        w = w[1:] if len(w) > 1 else w
        w = w[np.isfinite(w)]
        return float(np.median(w)) if len(w) else math.nan

    def delta_factor(self) -> tuple[float, float]:
        """(per-layer factor, whole ratio) of the back-propagated signal, first hidden layer over
        the last hidden one (NaN with fewer than two hidden layers)."""
        d = self.row["delta_norm"][: self.n_hidden]
        if len(d) < 2 or not (np.isfinite(d[[0, -1]]).all() and d[0] > 0 and d[-1] > 0):
            return math.nan, math.nan
        ratio = float(d[0] / d[-1])
        return ratio ** (1 / (len(d) - 1)), ratio

    def predicted(self, layer: str, key: str) -> float:
        for p in getattr(self.pred, "layers", ()) or ():
            if p.name == layer:
                return float(getattr(p, key))
        return math.nan

    def plain_mlp(self) -> bool:
        return not (self.cfg.residual or self.cfg.batchnorm)


# ------------------------------------------------------------------------------ helpers
def layer_span(f: Facts, idx) -> str:
    """Layer names compressed into runs: ``h01-h16, out``."""
    runs, names = [], f.names
    for i in idx:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(names[a] if a == b else f"{names[a]}-{names[b]}" for a, b in runs)


def value_range(values) -> str:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return "nan"
    lo, hi = num(v.min()), num(v.max())
    return lo if lo == hi else f"{lo} .. {hi}"


def ratios(f: Facts) -> str:
    """The measured delta_norm (and, with a prediction, grad_norm) ratio of the first hidden layer to
    the last, each with the theory's prediction beside it when a modelled one is given."""
    d, g = f.row["delta_norm"], f.row["grad_norm"]
    first, last = f.names[0], f.names[f.n_hidden - 1]
    out = []
    for stat, v, key in (("delta_norm", d, "pred_delta_log10"), ("grad_norm", g, "pred_grad_log10")):
        p = f.predicted(first, key)
        if f.n_hidden < 2 or (stat == "grad_norm" and not math.isfinite(p)):
            continue
        theory = f", theory {num(10 ** p)}" if math.isfinite(p) else ""
        out.append(f"{stat} {first}/{last} = {num(v[0] / v[f.n_hidden - 1])}{theory}")
    if out and f.pred is not None:
        out[-1] += f" ({f.pred.phase} phase, chi1 = {num(f.pred.chi1)})"
    return "; ".join(out)


def per_layer(f: Facts) -> str:
    """The mechanism's arithmetic: what each layer multiplies the back-propagated signal by."""
    per, ratio = f.delta_factor()
    if not math.isfinite(per):
        return ""
    n = f.n_hidden - 1
    act, sw = f.cfg.activation, f.sigma_w()
    p = f.predicted(f.names[0], "pred_delta_log10")
    if math.isfinite(p):  # the theory's layer-by-layer product (the transient included, not chi1 alone)
        est = 10 ** (p / n)
        head = (f"Each {act} layer multiplies the back-propagated signal by about sigma_w*sqrt(E[f'^2])"
                f" = {num(est)} (theory), so {n} layers give {num(10 ** p)}")
    elif f.plain_mlp() and math.isfinite(sw):
        est = sw * f.act.max_slope
        head = (f"Each {act} layer multiplies the back-propagated signal by at most sigma_w*max|f'| = "
                f"{num(sw)}*{num(f.act.max_slope)} = {num(est)}, so {n} layers give at most {num(est ** n)}")
    else:
        head = "The back-propagated signal changes by a factor at every layer"
    return f"{head}; measured {num(per)} per layer, {num(ratio)} from {f.names[f.n_hidden - 1]} to {f.names[0]}."
