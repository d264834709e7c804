"""Training on the NumPy reference while the kernels compile: the trainer's "numpy" backend.

A cold numba cache costs 20-60 s of compiling on 2 cores. Rather than show a banner for that long,
the dashboard starts on this backend (:class:`gradtui.reference.ReferenceNet`, which agrees with the
kernels to ~1e-10) and switches to the kernels between two chunks once they are ready
(:class:`gradtui.commands.Backend`, recorded in a session so that a replay takes the same path).

Everything here works on the trainer's own arrays: theta, the optimiser moments, the running
batch-norm statistics, ``opt_t``, the ring rows and the gradient of the last step are read before a
chunk and written back after it, so the kernels carry on from exactly this state. No njit function
is called (numba's compile lock would make this thread wait for the compile).
"""

from __future__ import annotations

import math

import numpy as np

from gradtui.reference import BN_EPS, ReferenceNet, _norm
from gradtui.stats import GLOBAL_COL, LAYER_COL

_TEST_LOSS, _TEST_ACC = GLOBAL_COL["test_loss"], GLOBAL_COL["test_acc"]
_WEIGHT_NORM, _UPDATE_RATIO = LAYER_COL["weight_norm"], LAYER_COL["update_ratio"]


def _net(tr) -> ReferenceNet:
    return ReferenceNet.from_trainer(tr)


def _write_back(tr, net: ReferenceNet) -> None:
    m = tr.mlp
    m.theta[:] = net.theta
    m.m1[:] = net.m1
    m.m2[:] = net.m2
    for l in range(len(net.run_mean)):
        u, fo = m.geo[l, 3], m.geo[l, 1]
        m.bnrun[0, u: u + fo] = net.run_mean[l]
        m.bnrun[1, u: u + fo] = net.run_var[l]


def train_chunk(tr, idx: np.ndarray, lrs: np.ndarray) -> tuple[int, bool]:
    """What ``kernels.train_chunk`` does, in NumPy, on trainer ``tr``: ``idx.shape[0]`` steps from
    ring row ``tr.ring.pos``, step number ``tr.step_count``, test evaluation every ``eval_every``
    steps; stops after a diverged step (its update skipped). Returns (rows written, diverged)."""
    net = _net(tr)
    ring = tr.ring
    step0 = tr.step_count
    eval_every = tr.cfg.eval_every
    rows, diverged = 0, False
    for k in range(idx.shape[0]):
        r = net.step(tr.x[idx[k]], tr.t[idx[k]], float(lrs[k]))
        row = (ring.pos + k) % ring.capacity
        ring.step[row] = step0 + k
        ring.glob[row] = r.glob
        ring.layers[row] = r.layers
        tr.mlp.grad[:] = r.grad
        rows = k + 1
        if r.diverged:  # as the kernels: the weights' norms, no update ratio
            for l, (fi, fo, p, _) in enumerate(net.lay):
                ring.layers[row, l, _WEIGHT_NORM] = _norm(net.theta[p: p + fi * fo])
                ring.layers[row, l, _UPDATE_RATIO] = math.nan
            diverged = True
            break
        if (step0 + k + 1) % eval_every == 0:
            ring.glob[row, _TEST_LOSS], ring.glob[row, _TEST_ACC] = evaluate(net, tr.xte, tr.tte)
    _write_back(tr, net)
    return rows, diverged


def predict(net: ReferenceNet, x: np.ndarray) -> np.ndarray:
    """Evaluation-mode outputs (running batch-norm statistics) of ``x (n, d_in)``, as
    ``kernels.predict``."""
    cfg = net.cfg
    h = np.asarray(x, net.dtype)
    for l, (fi, fo, p, end) in enumerate(net.lay):
        W = net.theta[p: p + fi * fo].reshape(fi, fo)
        q = p + fi * fo
        z = h @ W + net.theta[q: q + fo]
        if l == net.n_layers - 1:
            return z
        if cfg.batchnorm:
            gamma, beta = net.theta[q + fo: q + 2 * fo], net.theta[q + 2 * fo: end]
            z = gamma * ((z - net.run_mean[l]) / np.sqrt(net.run_var[l] + BN_EPS)) + beta
            z = z.astype(net.dtype)
        a, _ = net.f(cfg.activation, z)
        if cfg.residual and l > 0 and fi == fo:
            a = a + h
        h = a
    raise AssertionError("not reached")


def evaluate(net: ReferenceNet, x: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """(loss, accuracy) on a held-out set in evaluation mode, as ``kernels.evaluate`` (accuracy NaN
    for regression)."""
    out = np.asarray(predict(net, x), np.float64)
    n, c = out.shape
    if net.task == "classify":
        tm = np.argmax(t, axis=1)
        mx = out.max(axis=1)
        lse = np.log(np.exp(out - mx[:, None]).sum(axis=1))
        loss = float(np.sum(lse - (out[np.arange(n), tm] - mx))) / n
        return loss, float(np.sum(out.argmax(1) == tm)) / n
    e = out - np.asarray(t, np.float64)
    return float(np.sum(e * e)) / (n * c), math.nan


def predict_trainer(tr, x: np.ndarray) -> np.ndarray:
    """``tr``'s evaluation-mode outputs of ``x`` (the decision-boundary view), without the kernels."""
    return np.asarray(predict(_net(tr), x), tr.mlp.dtype)
