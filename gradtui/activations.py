"""Activation registry: the names users type, each with the kernel branch it selects and its
behaviour in NumPy.

The kernels compute the formulas in :mod:`gradtui.kernels` (``activate``); an entry's ``f`` and
``df`` are the same formulas in NumPy (for the reference network, the tests and a theory module).
This table is the single source for key cycling, preset validation, help text and the parametrised
tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gradtui import kernels as K

SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772
LEAKY_SLOPE = 0.01
GELU_C = 0.7978845608028654  # sqrt(2/pi)
GELU_K = 0.044715

Pair = tuple[np.ndarray, np.ndarray]


# NumPy (f(z), f'(z)), the kernels' formulas: evaluated in float64 and rounded once to z's dtype;
# every exponential is of a non-positive argument (no overflow, exact tails) and every difference
# that would cancel near 0 comes from expm1, so both keep their relative precision at every scale.
def _sigmoid(z: np.ndarray) -> Pair:
    e = np.exp(-np.abs(z))  # e^-|z|
    r = 1.0 / (1.0 + e)
    return np.where(z >= 0, r, e * r), (e * r) * r


def _tanh(z: np.ndarray) -> Pair:  # tanh|z| = -m / (1 + E), E = e^-2|z|, m = expm1(-2|z|) = E - 1
    e = np.exp(-2.0 * np.abs(z))
    w = 1.0 / (1.0 + e)
    t = -np.expm1(-2.0 * np.abs(z)) * w
    return np.where(z >= 0, t, -t), (4.0 * e) * w * w  # tanh' = 4E / (1 + E)^2


def _relu(z: np.ndarray) -> Pair:
    pos = z > 0
    return np.where(pos, z, 0.0), np.where(pos, 1.0, 0.0)


def _leaky_relu(z: np.ndarray) -> Pair:
    pos = z > 0
    return np.where(pos, z, LEAKY_SLOPE * z), np.where(pos, 1.0, LEAKY_SLOPE)


def _scaled_elu(lam: float, alpha: float) -> Callable[[np.ndarray], Pair]:
    def elu(z: np.ndarray) -> Pair:  # lam * (z if z > 0 else alpha * expm1(z))
        pos = z > 0
        neg = np.minimum(z, 0.0)  # the positive side's exponential is never used
        la = lam * alpha
        return np.where(pos, lam * z, la * np.expm1(neg)), np.where(pos, lam, la * np.exp(neg))

    return elu


def _gelu(z: np.ndarray) -> Pair:  # tanh approximation: z/2 (1 + tanh u), u = c (z + k z^3)
    e = np.exp(-2.0 * np.abs(GELU_C * (z + GELU_K * z * z * z)))  # z^3 may overflow: e = 0 either way
    w = 1.0 / (1.0 + e)
    big, small = 2.0 * w, 2.0 * e * w  # 1 + tanh|u|, 1 - tanh|u| (exact in the tail)
    op = np.where(z >= 0, big, small)  # 1 + tanh u
    om = np.where(z >= 0, small, big)  # 1 - tanh u
    zc = np.clip(z, -1e3, 1e3)  # beyond, op * om underflows to 0: keep z^2 finite
    return 0.5 * z * op, 0.5 * op + 0.5 * zc * (op * om) * GELU_C * (1.0 + 3.0 * GELU_K * zc * zc)


def _linear(z: np.ndarray) -> Pair:
    return z.copy(), np.ones_like(z)


@dataclass(frozen=True)
class Activation:
    id: int  # the kernel branch (a kernels.A_* id; plain data: switching never recompiles)
    formula: str
    max_slope: float  # max |f'(z)|; "saturated" means |f'| < SATURATED_SLOPE of this
    saturating: bool  # sigmoid/tanh: the saturated-fraction statistic applies
    help: str
    numpy: Callable[[np.ndarray], Pair]  # float64 z -> (f(z), f'(z)); use f_df / f / df
    bounds: tuple[float, float] | None = None  # the range of f when it is bounded (histogram axes)

    def f_df(self, z) -> Pair:
        """(f(z), f'(z)) elementwise, in z's float dtype (float64 for anything else)."""
        z = np.asarray(z)
        dt = z.dtype if z.dtype.kind == "f" else np.dtype(np.float64)
        with np.errstate(over="ignore"):  # an overflow (2|z|, z^3, a cast) only reaches the exact limit
            a, d = self.numpy(np.asarray(z, np.float64))
            return a.astype(dt, copy=False), d.astype(dt, copy=False)

    def f(self, z) -> np.ndarray:
        return self.f_df(z)[0]

    def df(self, z) -> np.ndarray:
        return self.f_df(z)[1]


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(K.A_SIGMOID, "1/(1+e^-z)", 0.25, True, "f' <= 0.25: each layer shrinks the signal ~4x", _sigmoid,
                          (0.0, 1.0)),
    "tanh": Activation(K.A_TANH, "tanh z", 1.0, True, "zero-centred, but saturates for |z| > 2", _tanh, (-1.0, 1.0)),
    "relu": Activation(K.A_RELU, "max(0, z)", 1.0, False, "slope 1 where active; units can die", _relu),
    "leaky_relu": Activation(K.A_LEAKY, "max(0.01 z, z)", 1.0, False, "ReLU that keeps a 0.01 slope", _leaky_relu),
    "elu": Activation(K.A_ELU, "z if z>0 else e^z - 1", 1.0, False, "smooth, negative outputs", _scaled_elu(1.0, 1.0)),
    "selu": Activation(K.A_SELU, "1.0507 * elu_1.6733(z)", 1.7581, False, "self-normalising with LeCun init",
                       _scaled_elu(SELU_LAMBDA, SELU_ALPHA)),
    "gelu": Activation(K.A_GELU, "z/2 (1 + tanh(0.798 (z + 0.0447 z^3)))", 1.129, False, "smooth ReLU (tanh approx.)",
                       _gelu),
    "linear": Activation(K.A_LINEAR, "z", 1.0, False, "no non-linearity: a deep linear net", _linear),
}

SATURATED_SLOPE = 0.01  # a saturating unit counts as saturated where |f'| < 1% of its max slope
DEAD_SLOPE = 1e-30  # the others: slopes below this count toward a dead unit (f' = 0 on the whole batch)


def slope_threshold(a: Activation) -> float:
    """The |f'| below which the kernels count an entry as saturated (or, not saturating, as 0)."""
    return SATURATED_SLOPE * a.max_slope if a.saturating else DEAD_SLOPE
