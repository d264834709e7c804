"""Per-layer histograms (makemore part 3's diagnostics): layer outputs on a linear axis, |dL/dW|
and |dL/dz| in decades, measured from what the last training step left in a network's buffers.

Measured on the snapshot cadence by the thread that drives the trainer (the kernels sample at most
``kernels.HIST_SAMPLE`` entries a layer and quantity), so they cost nothing per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradtui import kernels as K

BINS = K.HIST_BINS
LOG_LO = K.HIST_LOG_LO  # log10 |x| of the first decade's lower edge


@dataclass(frozen=True)
class Histograms:
    """Fractions of each layer's sampled entries (rows sum to 1 where anything was counted).

    ``act (n_layers, BINS)`` over ``act_range[l] = (lo, hi)``; ``grad`` and ``delta``
    ``(n_layers, BINS + 2)``: column 0 is |x| < 10^LOG_LO (exact zeros included), column 1 + b the
    decade [10^(LOG_LO + b), 10^(LOG_LO + b + 1)), the last |x| >= 10^(LOG_LO + BINS) (inf)."""

    step: int
    act: np.ndarray
    act_range: np.ndarray
    grad: np.ndarray
    delta: np.ndarray

    def decade_edges(self) -> np.ndarray:
        """log10 of the decade bins' edges (BINS + 1 of them)."""
        return LOG_LO + np.arange(BINS + 1, dtype=np.float64)

    def as_dict(self, names) -> dict:
        """JSON-ready: one entry per layer name (the export's histogram records)."""
        r = lambda a: [round(float(v), 6) for v in a]  # noqa: E731
        return {"step": self.step, "log10_lo": LOG_LO, "bins": BINS,
                "layers": {n: {"act": r(self.act[l]), "act_range": [float(v) for v in self.act_range[l]],
                               "grad": r(self.grad[l]), "delta": r(self.delta[l])}
                           for l, n in enumerate(names)}}


def _fractions(counts: np.ndarray) -> np.ndarray:
    tot = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, tot, out=np.zeros_like(counts), where=tot > 0)


def measure(mlp, step: int, act_bounds=None) -> Histograms:
    """The histograms of ``mlp``'s last training step (``step``: its number). ``act_bounds``:
    ``(lo, hi)`` of the hidden layers' outputs when the activation is bounded, else each layer's
    finite range is used. Call from the thread that drives the trainer."""
    n = mlp.n_layers
    rng = np.full((n, 2), np.nan)
    if act_bounds is not None:
        rng[:-1] = act_bounds  # hidden layers; the output layer's logits use their own range
    h_act = np.zeros((n, BINS))
    h_grad = np.zeros((n, BINS + 2))
    h_delta = np.zeros((n, BINS + 2))
    K.histograms(mlp.net, mlp.bufs, mlp.batch, rng, h_act, h_grad, h_delta)
    for a in (h_act, h_grad, h_delta, rng):
        a.flags.writeable = False
    return Histograms(int(step), _fractions(h_act), rng, _fractions(h_grad), _fractions(h_delta))
