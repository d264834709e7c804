"""The MLP's parameters and preallocated buffers, and the packing of a Config into kernel data.

No training loop here (that is :mod:`gradtui.trainer`); this module only knows shapes::

    sizes   = (d_in, h_1, ..., h_L, d_out)      layer l maps sizes[l] -> sizes[l+1]
    theta   : flat params, per layer [W (fan_in*fan_out) | b | gamma | beta]  (gamma/beta hidden only)
    work    : kernels.work_shape(batch, sizes): activations and their gradients
"""

from __future__ import annotations

import numpy as np

from gradtui import kernels as K
from gradtui.activations import ACTIVATIONS, slope_threshold
from gradtui.config import Config
from gradtui.initializers import INITIALIZERS
from gradtui.optimizers import CLIPPING, OPTIMIZERS

EVAL_ROWS = 512  # rows per evaluation batch (test set, decision-boundary grid)


def flops_per_sample(sizes) -> float:
    """Work of one training step per sample, for layer sizes ``(d_in, h_1, ..., d_out)``:
    6 * sum(fan_in * fan_out) (forward, input gradient, weight gradient; as the benchmark counts)."""
    return 6.0 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def layer_names(n_hidden: int) -> tuple[str, ...]:
    """Input side first: h01 .. hNN, then the output layer."""
    return tuple(f"h{i + 1:02d}" for i in range(n_hidden)) + ("out",)


def pack_config(cfg: Config, task: str) -> tuple[np.ndarray, np.ndarray]:
    """The plain data the kernels branch on: (icfg int64, fcfg float64)."""
    act = ACTIVATIONS[cfg.activation]
    icfg = np.zeros(K.N_ICFG, np.int64)
    icfg[K.I_ACT] = act.id
    icfg[K.I_SATURATING] = int(act.saturating)
    icfg[K.I_OPT] = OPTIMIZERS[cfg.optimizer].id
    icfg[K.I_CLIP] = CLIPPING[cfg.clip].id
    icfg[K.I_RESID] = int(cfg.residual)
    icfg[K.I_BN] = int(cfg.batchnorm)
    icfg[K.I_TASK] = K.TASK_CLASSIFY if task == "classify" else K.TASK_REGRESS
    icfg[K.I_EVAL_EVERY] = cfg.eval_every
    icfg[K.I_STATS] = 1
    fcfg = np.zeros(K.N_FCFG, np.float64)
    fcfg[K.F_MOMENTUM] = cfg.momentum
    fcfg[K.F_BETA1] = cfg.beta1
    fcfg[K.F_BETA2] = cfg.beta2
    fcfg[K.F_RHO] = cfg.rho
    fcfg[K.F_EPS] = cfg.eps
    fcfg[K.F_WD] = cfg.weight_decay
    fcfg[K.F_L1] = cfg.l1
    fcfg[K.F_L2] = cfg.l2
    fcfg[K.F_CLIP] = cfg.clip_value
    fcfg[K.F_BN_EPS] = 1e-5
    fcfg[K.F_BN_MOM] = 0.1
    fcfg[K.F_SLOPE_THR] = slope_threshold(act)
    return icfg, fcfg


class MLP:
    """Parameters, optimiser state and every buffer one network needs, allocated once."""

    def __init__(self, sizes: tuple[int, ...], batch: int, dtype: str = "float64"):
        self.sizes = tuple(int(s) for s in sizes)
        self.dtype = np.dtype(dtype)
        self.batch = int(batch)
        n_layers = len(self.sizes) - 1
        self.names = layer_names(n_layers - 1)
        geo = np.zeros((n_layers, K.N_GEO), np.int64)
        p = u = 0
        for l in range(n_layers):
            fi, fo = self.sizes[l], self.sizes[l + 1]
            geo[l] = (fi, fo, p, u, 0)
            p += fi * fo + fo + (2 * fo if l < n_layers - 1 else 0)
            geo[l, K.G_PEND] = p
            u += fo
        self.geo = geo
        self.n_params, self.n_units = p, u
        dt = self.dtype
        self.theta = np.zeros(p, dt)  # parameters
        self.grad = np.zeros(p, dt)  # gradient of the last step
        self.m1 = np.zeros(p, dt)  # optimiser first moment / velocity
        self.m2 = np.zeros(p, dt)  # optimiser second moment / accumulator
        self.delta = np.zeros(p, dt)  # the update of the last step (scratch)
        self.bnbuf = np.zeros((2, u))  # batch mean, 1/std of the last training forward
        self.bnrun = np.zeros((2, u))  # running mean, var (evaluation mode)
        self.work = np.zeros(K.work_shape(self.batch, self.sizes), dt)
        self.xb = np.zeros((self.batch, self.sizes[0]), dt)
        self.tb = np.zeros((self.batch, self.sizes[-1]), dt)
        self.ebuf = np.zeros((4, EVAL_ROWS * max(self.sizes)), dt)  # evaluation-mode activations
        self.escratch = np.zeros((2, EVAL_ROWS * max(self.sizes)))  # float64 kernel scratch for them
        self.scratch = np.zeros(K.scratch_shape(self.batch, self.sizes))  # float64 kernel scratch
        self.sums = np.zeros((n_layers, K.N_SUMS))  # per-layer sums one phase of a step leaves the next
        # the kernels' grouped arguments (views of the arrays above: writes go through)
        self.net = K.Net(self.theta, self.grad, self.m1, self.m2, self.delta, self.geo)
        self.bufs = K.Bufs(self.work, self.xb, self.tb, self.bnbuf, self.bnrun, self.scratch, self.sums,
                           self.ebuf, self.escratch)
        self.reset_running_stats()

    @property
    def n_layers(self) -> int:
        return self.geo.shape[0]

    def weight(self, l: int) -> np.ndarray:
        """View of layer l's weight matrix (fan_in, fan_out)."""
        fi, fo, p = self.geo[l, K.G_FIN], self.geo[l, K.G_FOUT], self.geo[l, K.G_POFF]
        return self.theta[p: p + fi * fo].reshape(fi, fo)

    def reset_running_stats(self) -> None:
        self.bnrun[0] = 0.0
        self.bnrun[1] = 1.0

    def reset_optimizer(self) -> None:
        self.m1[:] = 0
        self.m2[:] = 0

    def init_weights(self, init: str, rng: np.random.Generator, std: float, gain: float,
                     bias_std: float = 0.0) -> None:
        """Fresh weights from ``init``; biases N(0, bias_std^2) (zero, and no draw, when bias_std is 0:
        seeded runs stay as they were); batch-norm gamma 1, beta 0. Per layer: W, then b."""
        fn = INITIALIZERS[init].fn
        for l in range(self.n_layers):
            fi, fo, p, _, pend = self.geo[l]
            self.theta[p: p + fi * fo] = fn(rng, int(fi), int(fo), std, gain).astype(self.dtype).ravel()
            q = p + fi * fo
            self.theta[q:pend] = 0.0
            if bias_std > 0:
                self.theta[q: q + fo] = rng.normal(0.0, bias_std, size=int(fo)).astype(self.dtype)
            if pend - q == 3 * fo:
                self.theta[q + fo: q + 2 * fo] = 1.0
        self.reset_running_stats()

    # -- conveniences for tests, the bench and the decision-boundary view (worker thread only)
    def loss_grad(self, xb: np.ndarray, tb: np.ndarray, icfg: np.ndarray, fcfg: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective and a copy of its gradient on one batch (no running-stat update)."""
        nb = xb.shape[0]
        bufs = self.bufs
        if nb != self.batch:
            bufs = bufs._replace(work=np.zeros(K.work_shape(nb, self.sizes), self.dtype),
                                 scratch=np.zeros(K.scratch_shape(nb, self.sizes)))
        lstats = np.zeros((self.n_layers, K.N_LSTATS))
        loss, _ = K.loss_grad(np.ascontiguousarray(xb, self.dtype), np.ascontiguousarray(tb, self.dtype),
                              self.net, icfg, fcfg, bufs, lstats)
        return loss, self.grad.copy()

    def predict(self, x: np.ndarray, icfg: np.ndarray, fcfg: np.ndarray) -> np.ndarray:
        out = np.zeros((x.shape[0], self.sizes[-1]), self.dtype)
        K.predict(np.ascontiguousarray(x, self.dtype), self.net, icfg, fcfg, self.bufs, out)
        return out
