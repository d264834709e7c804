"""A plain NumPy implementation of gradtui's network and training step: the oracle for the kernels.

Written from the math spec (the docstrings of :mod:`gradtui.kernels` and :mod:`gradtui.optimizers`),
not from the kernel code: readable first, vectorised where that costs no clarity. Same flat parameter
layout as the trainer, so it loads and returns ``Trainer.mlp.theta`` directly::

    sizes = (d_in, h_1, ..., h_L, d_out)           layer l maps sizes[l] -> sizes[l+1]
    theta = [ layer 0 | layer 1 | ... ]            per layer: W (fan_in*fan_out, row-major), b,
                                                   and for hidden layers gamma, beta (batch norm)

One training step (``ReferenceNet.step``), hidden layer l with input h (nb, fi)::

    z  = h @ W + b                                  (nb, fo)
    y  = gamma * (z - mean) / sqrt(var + eps) + beta   batch norm, train mode (biased batch var)
    a  = f(y)  (+ h when residual, l > 0 and fi == fo)
    output layer: logits = h @ W + b; softmax cross-entropy (mean over batch) or MSE (mean over
    batch and outputs); loss += l1 * sum|W| + l2/2 * sum W^2 over every weight matrix
    backward, clip, optimiser update (formulas in gradtui.optimizers)

It also computes every per-layer statistic of :data:`gradtui.stats.LAYER_STATS` and the global ones
of :data:`gradtui.stats.GLOBAL_STATS` (accumulated in float64, also for a float32 network).
:mod:`gradtui.reference_compare` runs it beside a trainer on the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradtui.activations import ACTIVATIONS
from gradtui.config import Config
from gradtui.initializers import INITIALIZERS
from gradtui.stats import GLOBAL_COL, LAYER_COL

N_LAYER_STATS = len(LAYER_COL)
N_GLOBAL_STATS = len(GLOBAL_COL)
BN_EPS = 1e-5
BN_MOMENTUM = 0.1


# ------------------------------------------------------------------------------- activations
def activation(name: str, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(f(y), f'(y)) elementwise, from the activation's registry entry."""
    return ACTIVATIONS[name].f_df(y)


# ------------------------------------------------------------------------------ the network
@dataclass
class Layer:
    """Views into a flat parameter (or gradient) vector."""

    W: np.ndarray  # (fi, fo)
    b: np.ndarray  # (fo,)
    gamma: np.ndarray | None  # (fo,) hidden layers only
    beta: np.ndarray | None


def layout(sizes: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """Per layer (fan_in, fan_out, start, end) in the flat vector."""
    out, p = [], 0
    n = len(sizes) - 1
    for l in range(n):
        fi, fo = sizes[l], sizes[l + 1]
        size = fi * fo + fo + (2 * fo if l < n - 1 else 0)
        out.append((fi, fo, p, p + size))
        p += size
    return out


def unpack(flat: np.ndarray, sizes: tuple[int, ...]) -> list[Layer]:
    layers = []
    for fi, fo, p, end in layout(sizes):
        W = flat[p: p + fi * fo].reshape(fi, fo)
        q = p + fi * fo
        b = flat[q: q + fo]
        hidden = end - q == 3 * fo
        gamma = flat[q + fo: q + 2 * fo] if hidden else None
        beta = flat[q + 2 * fo: q + 3 * fo] if hidden else None
        layers.append(Layer(W, b, gamma, beta))
    return layers


def init_theta(sizes: tuple[int, ...], cfg: Config, rng: np.random.Generator) -> np.ndarray:
    """Fresh float64 parameters as the spec says: per layer W from ``cfg.init`` (fan_in, fan_out), then
    b ~ N(0, bias_std^2) (no draw when bias_std is 0), batch-norm gamma 1 and beta 0."""
    parts = []
    for fi, fo, p, end in layout(tuple(sizes)):
        parts.append(INITIALIZERS[cfg.init].fn(rng, fi, fo, cfg.init_std, cfg.init_gain).ravel())
        parts.append(rng.normal(0.0, cfg.bias_std, fo) if cfg.bias_std > 0 else np.zeros(fo))
        if end - p - fi * fo == 3 * fo:
            parts += [np.ones(fo), np.zeros(fo)]
    return np.concatenate(parts)


def _norm(x: np.ndarray) -> float:
    x = np.asarray(x, np.float64).ravel()
    return float(np.sqrt(np.sum(x * x)))  # (not np.dot: a threaded BLAS splits that sum by its thread count)


@dataclass
class StepResult:
    loss: float  # data loss + penalty on the batch
    correct: int  # classification: right predictions in the batch
    glob: np.ndarray  # (N_GSTATS,) like one ring row (test_* are NaN: no evaluation here)
    layers: np.ndarray  # (n_layers, N_LSTATS) like one ring row
    grad: np.ndarray  # the gradient after clipping, flat like theta
    diverged: bool


class ReferenceNet:
    """Parameters, optimiser state and running batch-norm statistics of one network, in NumPy.

    ``theta`` etc. are owned copies (``dtype`` of the network); load the trainer's with
    :meth:`from_trainer`.
    """

    def __init__(self, sizes, cfg: Config, task: str = "classify", theta: np.ndarray | None = None,
                 dtype: str | None = None):
        self.sizes = tuple(int(s) for s in sizes)
        self.cfg = cfg
        self.task = task
        self.dtype = np.dtype(dtype or cfg.dtype)
        self.lay = layout(self.sizes)
        n_params = self.lay[-1][3]
        self.theta = np.zeros(n_params, self.dtype) if theta is None else np.array(theta, self.dtype)
        assert self.theta.shape == (n_params,)
        self.m1 = np.zeros(n_params, self.dtype)  # velocity / first moment
        self.m2 = np.zeros(n_params, self.dtype)  # accumulator / second moment
        n_hidden = len(self.sizes) - 2
        self.run_mean = [np.zeros(self.sizes[l + 1]) for l in range(n_hidden)]
        self.run_var = [np.ones(self.sizes[l + 1]) for l in range(n_hidden)]
        self.t = 0  # optimiser steps taken
        self.f = activation  # hook: tests swap in a corrupted version
        self.grad_hook = None  # hook: called with the flat data gradient (tests corrupt it)

    @classmethod
    def from_trainer(cls, trainer) -> "ReferenceNet":
        net = cls(trainer.mlp.sizes, trainer.cfg, trainer.data.task, trainer.mlp.theta)
        net.m1[:] = trainer.mlp.m1
        net.m2[:] = trainer.mlp.m2
        net.t = trainer.opt_t
        for l in range(len(net.run_mean)):
            u = trainer.mlp.geo[l, 3]  # unit offset of layer l
            net.run_mean[l][:] = trainer.mlp.bnrun[0, u: u + net.sizes[l + 1]]
            net.run_var[l][:] = trainer.mlp.bnrun[1, u: u + net.sizes[l + 1]]
        return net

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    # --------------------------------------------------------------------------- forward
    def forward(self, x: np.ndarray, stats: np.ndarray, update_running: bool = True):
        """Training-mode forward of ``x (nb, d_in)``. Returns (logits, cache); fills the activation
        statistics of ``stats (n_layers, N_LSTATS)``."""
        cfg = self.cfg
        act = ACTIVATIONS[cfg.activation]
        params = unpack(self.theta, self.sizes)
        nb = x.shape[0]
        h = x
        cache = []
        for l, p in enumerate(params):
            z = h @ p.W + p.b  # (nb, fo)
            if l == self.n_layers - 1:  # output layer: logits
                cache.append(dict(h=h))
                self._act_stats(stats[l], z, None, act)
                return z, cache
            c = dict(h=h)
            if cfg.batchnorm:
                mean = z.mean(axis=0, dtype=np.float64)  # (fo,)
                var = ((z - mean) ** 2).mean(axis=0)  # biased
                invstd = 1.0 / np.sqrt(var + BN_EPS)
                xh = ((z - mean) * invstd).astype(self.dtype)  # (nb, fo)
                y = p.gamma * xh + p.beta
                if update_running:
                    m = BN_MOMENTUM
                    self.run_mean[l] = (1 - m) * self.run_mean[l] + m * mean
                    self.run_var[l] = (1 - m) * self.run_var[l] + m * var * nb / max(nb - 1, 1)
                c.update(xh=xh, invstd=invstd)
            else:
                y = z
            a, d = self.f(cfg.activation, y)  # (nb, fo) each
            if cfg.residual and l > 0 and p.W.shape[0] == p.W.shape[1]:
                a = a + h
            c["d"] = d
            cache.append(c)
            self._act_stats(stats[l], a, d, act)
            h = a
        raise AssertionError("not reached")

    @staticmethod
    def _act_stats(row, a, d, act) -> None:
        a64 = np.asarray(a, np.float64)
        row[LAYER_COL["act_mean"]] = a64.mean()
        row[LAYER_COL["act_std"]] = a64.std()
        if d is None:  # output layer
            row[LAYER_COL["saturated"]] = 0.0
            row[LAYER_COL["dead"]] = 0.0
            return
        row[LAYER_COL["saturated"]] = np.mean(np.abs(d) < 0.01 * act.max_slope) if act.saturating else 0.0
        row[LAYER_COL["dead"]] = np.mean(np.all(d == 0, axis=0))

    # ------------------------------------------------------------------------------ loss
    def data_loss(self, z: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray, int]:
        """(loss, dloss/dz, correct) for logits ``z (nb, C)`` and targets ``t (nb, C)``."""
        nb, c = z.shape
        if self.task == "classify":
            shifted = z - z.max(axis=1, keepdims=True)
            logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log softmax
            loss = -float(np.sum(np.asarray(t * logp, np.float64))) / nb
            dz = (np.exp(logp) - t) / nb
            correct = int(np.sum(z.argmax(1) == t.argmax(1)))
            return loss, dz.astype(self.dtype), correct
        e = z - t
        loss = float(np.sum(np.asarray(e, np.float64) ** 2)) / (nb * c)
        return loss, (2 * e / (nb * c)).astype(self.dtype), 0

    def penalty(self) -> float:
        cfg = self.cfg
        if not (cfg.l1 or cfg.l2):
            return 0.0
        s = 0.0
        for p in unpack(self.theta, self.sizes):
            W = np.asarray(p.W, np.float64)
            s += cfg.l1 * np.abs(W).sum() + 0.5 * cfg.l2 * (W * W).sum()
        return float(s)

    # -------------------------------------------------------------------------- backward
    def backward(self, dz: np.ndarray, cache, stats: np.ndarray) -> np.ndarray:
        """Flat gradient of the data loss (penalty not included); fills the gradient statistics."""
        cfg = self.cfg
        params = unpack(self.theta, self.sizes)
        grad = np.zeros_like(self.theta)
        grads = unpack(grad, self.sizes)
        nb = dz.shape[0]
        ga = None  # dloss/da of the current hidden layer
        for l in range(self.n_layers - 1, -1, -1):
            p, g, c = params[l], grads[l], cache[l]
            if l < self.n_layers - 1:
                gy = ga * c["d"]  # through the activation
                if cfg.batchnorm:
                    xh, invstd = c["xh"], c["invstd"]
                    g.gamma[:] = (gy * xh).sum(axis=0)
                    g.beta[:] = gy.sum(axis=0)
                    gxh = gy * p.gamma  # (nb, fo)
                    dz = (invstd / nb) * (nb * gxh - gxh.sum(axis=0) - xh * (gxh * xh).sum(axis=0))
                    dz = dz.astype(self.dtype)
                else:
                    dz = gy
            stats[l, LAYER_COL["delta_norm"]] = _norm(dz)
            g.W[:] = c["h"].T @ dz  # (fi, fo)
            g.b[:] = dz.sum(axis=0)
            stats[l, LAYER_COL["grad_norm"]] = _norm(g.W)
            stats[l, LAYER_COL["grad_mean_abs"]] = float(np.abs(np.asarray(g.W, np.float64)).mean())
            if l > 0:
                ga_prev = dz @ p.W.T  # (nb, fi)
                if l < self.n_layers - 1 and cfg.residual and p.W.shape[0] == p.W.shape[1]:
                    ga_prev = ga_prev + ga  # the skip path carries dloss/da straight through
                ga = ga_prev
        return grad

    def add_penalty_grad(self, grad: np.ndarray) -> None:
        cfg = self.cfg
        if not (cfg.l1 or cfg.l2):
            return
        for p, g in zip(unpack(self.theta, self.sizes), unpack(grad, self.sizes)):
            g.W += cfg.l2 * p.W + cfg.l1 * np.sign(p.W)

    # -------------------------------------------------------------------------- clipping
    def clip(self, grad: np.ndarray) -> bool:
        """Clip ``grad`` in place; True when it changed."""
        cfg = self.cfg
        c = cfg.clip_value
        if cfg.clip == "value":
            over = np.abs(grad) > c
            np.clip(grad, -c, c, out=grad)
            return bool(over.any())
        if cfg.clip == "layer_norm":
            changed = False
            for _, _, p0, p1 in self.lay:
                n = _norm(grad[p0:p1])
                if n > c:
                    grad[p0:p1] *= c / n
                    changed = True
            return changed
        if cfg.clip == "global_norm":
            n = _norm(grad)
            if n > c:
                grad *= c / n
                return True
            return False
        assert cfg.clip == "none", cfg.clip
        return False

    # ---------------------------------------------------------------------------- update
    def update(self, grad: np.ndarray, lr: float, stats: np.ndarray) -> None:
        """One optimiser step; fills weight_norm and update_ratio."""
        cfg = self.cfg
        g, m1, m2 = grad, self.m1, self.m2
        self.t += 1
        t = self.t
        name = cfg.optimizer
        if name == "sgd":
            delta = -lr * g
        elif name == "momentum":
            m1[:] = cfg.momentum * m1 + g
            delta = -lr * m1
        elif name == "nesterov":
            m1[:] = cfg.momentum * m1 + g
            delta = -lr * (g + cfg.momentum * m1)
        elif name == "adagrad":
            m2[:] = m2 + g * g
            delta = -lr * g / (np.sqrt(m2) + cfg.eps)
        elif name == "rmsprop":
            m2[:] = cfg.rho * m2 + (1 - cfg.rho) * g * g
            delta = -lr * g / (np.sqrt(m2) + cfg.eps)
        elif name in ("adam", "adamw"):
            m1[:] = cfg.beta1 * m1 + (1 - cfg.beta1) * g
            m2[:] = cfg.beta2 * m2 + (1 - cfg.beta2) * g * g
            m_hat = m1 / (1 - cfg.beta1 ** t)
            v_hat = m2 / (1 - cfg.beta2 ** t)
            delta = -lr * m_hat / (np.sqrt(v_hat) + cfg.eps)
            if name == "adamw":  # decoupled decay, weight matrices only
                for p, d in zip(unpack(self.theta, self.sizes), unpack(delta, self.sizes)):
                    d.W -= lr * cfg.weight_decay * p.W
        else:
            raise ValueError(f"unknown optimizer {name!r}")
        delta = np.asarray(delta, self.dtype)
        for l, (p, d) in enumerate(zip(unpack(self.theta, self.sizes), unpack(delta, self.sizes))):
            wn = _norm(p.W)  # before the update
            stats[l, LAYER_COL["weight_norm"]] = wn
            stats[l, LAYER_COL["update_ratio"]] = _norm(d.W) / wn if wn > 0 else 0.0
        self.theta += delta

    # ------------------------------------------------------------------------------ step
    def loss_and_grad(self, x: np.ndarray, t: np.ndarray, update_running: bool = False):
        """(objective, flat gradient incl. penalty, correct, per-layer stats) on one batch."""
        stats = np.full((self.n_layers, N_LAYER_STATS), np.nan)
        z, cache = self.forward(x, stats, update_running)
        loss, dz, correct = self.data_loss(z, t)
        grad = self.backward(dz, cache, stats)
        if self.grad_hook is not None:
            self.grad_hook(grad)
        loss += self.penalty()
        self.add_penalty_grad(grad)
        return loss, grad, correct, stats

    def step(self, x: np.ndarray, t: np.ndarray, lr: float) -> StepResult:
        """One training step on the batch ``x (nb, d_in)``, ``t (nb, d_out)`` at rate ``lr``."""
        x = np.asarray(x, self.dtype)
        t = np.asarray(t, self.dtype)
        loss, grad, correct, stats = self.loss_and_grad(x, t, update_running=True)
        glob = np.full(N_GLOBAL_STATS, np.nan)
        gn = _norm(grad)  # before clipping, every parameter
        clipped = self.clip(grad)
        glob[GLOBAL_COL["loss"]] = loss
        glob[GLOBAL_COL["train_acc"]] = correct / x.shape[0] if self.task == "classify" else np.nan
        glob[GLOBAL_COL["lr"]] = lr
        glob[GLOBAL_COL["grad_norm"]] = gn
        glob[GLOBAL_COL["clipped"]] = float(clipped)
        diverged = not (np.isfinite(loss) and np.isfinite(gn))
        glob[GLOBAL_COL["status"]] = 1.0 if diverged else 0.0
        if not diverged:
            self.update(grad, lr, stats)
        return StepResult(loss, correct, glob, stats, grad, diverged)

    def run(self, x: np.ndarray, t: np.ndarray, idx: np.ndarray, lrs) -> list[StepResult]:
        """Steps over the batches ``x[idx[k]]`` at rates ``lrs[k]``; stops after a divergence."""
        out = []
        for k in range(idx.shape[0]):
            r = self.step(x[idx[k]], t[idx[k]], float(lrs[k]))
            out.append(r)
            if r.diverged:
                break
        return out
