"""Weight initialiser registry. Pure NumPy; biases are N(0, bias_std^2) (zero by default), drawn by
:meth:`gradtui.mlp.MLP.init_weights` after each layer's weights.

Each initialiser maps ``(rng, fan_in, fan_out, std, gain)`` to a float64 ``(fan_in, fan_out)``
matrix (the layer computes ``x @ W``). ``std`` is used by ``normal``/``uniform``; ``gain`` scales the
fan-based schemes and ``orthogonal``. Each entry also reports the variance of one weight,
``variance(fan_in, fan_out, std, gain)`` (``formula`` is the same as text, for help).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

InitFn = Callable[[np.random.Generator, int, int, float, float], np.ndarray]
VarFn = Callable[[int, int, float, float], float]


@dataclass(frozen=True)
class Initializer:
    fn: InitFn
    variance: VarFn  # (fan_in, fan_out, std, gain) -> Var(W_ij)
    formula: str  # the variance as text
    help: str


def _normal(rng, fi, fo, std, gain):
    return rng.normal(0.0, std, size=(fi, fo))


def _uniform(rng, fi, fo, std, gain):
    a = std * np.sqrt(3.0)  # U(-a, a) has this std
    return rng.uniform(-a, a, size=(fi, fo))


def _scaled_normal(var_fn):
    def init(rng, fi, fo, std, gain):
        return rng.normal(0.0, gain * np.sqrt(var_fn(fi, fo)), size=(fi, fo))

    return init


def _scaled_uniform(var_fn):
    def init(rng, fi, fo, std, gain):
        a = gain * np.sqrt(3.0 * var_fn(fi, fo))
        return rng.uniform(-a, a, size=(fi, fo))

    return init


def _orthogonal(rng, fi, fo, std, gain):
    a = rng.normal(size=(max(fi, fo), min(fi, fo)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))  # make the decomposition unique (uniform over the group)
    if fi < fo:
        q = q.T
    return gain * q[:fi, :fo]


def _std_variance(fi, fo, std, gain):
    return std * std


def _scaled_variance(var_fn) -> VarFn:
    return lambda fi, fo, std, gain: gain * gain * var_fn(fi, fo)


def _orthogonal_variance(fi, fo, std, gain):
    # orthonormal columns (fi >= fo) or rows: min(fi, fo) unit vectors over fi * fo entries
    return gain * gain / max(fi, fo)


def _xavier(fi, fo):
    return 2.0 / (fi + fo)


def _he(fi, fo):
    return 2.0 / fi


def _lecun(fi, fo):
    return 1.0 / fi


INITIALIZERS: dict[str, Initializer] = {
    "normal": Initializer(_normal, _std_variance, "std^2 (init_std)",
                          "N(0, init_std^2): small std vanishes, large explodes"),
    "uniform": Initializer(_uniform, _std_variance, "std^2 (init_std)", "U(-a, a) with the std init_std"),
    "xavier_normal": Initializer(_scaled_normal(_xavier), _scaled_variance(_xavier), "gain^2 2/(fan_in+fan_out)",
                                 "Glorot: for tanh/sigmoid"),
    "xavier_uniform": Initializer(_scaled_uniform(_xavier), _scaled_variance(_xavier), "gain^2 2/(fan_in+fan_out)",
                                  "Glorot, uniform"),
    "he_normal": Initializer(_scaled_normal(_he), _scaled_variance(_he), "gain^2 2/fan_in",
                             "Kaiming: for the ReLU family"),
    "he_uniform": Initializer(_scaled_uniform(_he), _scaled_variance(_he), "gain^2 2/fan_in", "Kaiming, uniform"),
    "lecun_normal": Initializer(_scaled_normal(_lecun), _scaled_variance(_lecun), "gain^2/fan_in", "LeCun: for SELU"),
    "orthogonal": Initializer(_orthogonal, _orthogonal_variance, "gain^2 / max(fan_in, fan_out)",
                              "orthogonal matrix (Saxe et al.)"),
}
