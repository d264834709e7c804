"""Weight initialiser registry. Pure NumPy; biases are N(0, bias_std^2) (zero by default), drawn by
:meth:`gradtui.mlp.MLP.init_weights` after each layer's weights.

Each initialiser maps ``(rng, fan_in, fan_out, std, gain)`` to a float64 ``(fan_in, fan_out)``
matrix (the layer computes ``x @ W``). ``std`` is used by ``normal``/``uniform``; ``gain`` scales the
fan-based schemes and ``orthogonal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

InitFn = Callable[[np.random.Generator, int, int, float, float], np.ndarray]


@dataclass(frozen=True)
class Initializer:
    fn: InitFn
    variance: str
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


def _xavier(fi, fo):
    return 2.0 / (fi + fo)


def _he(fi, fo):
    return 2.0 / fi


def _lecun(fi, fo):
    return 1.0 / fi


INITIALIZERS: dict[str, Initializer] = {
    "normal": Initializer(_normal, "std^2 (init_std)", "N(0, init_std^2): small std vanishes, large explodes"),
    "uniform": Initializer(_uniform, "std^2 (init_std)", "U(-a, a) with the std init_std"),
    "xavier_normal": Initializer(_scaled_normal(_xavier), "2/(fan_in+fan_out)", "Glorot: for tanh/sigmoid"),
    "xavier_uniform": Initializer(_scaled_uniform(_xavier), "2/(fan_in+fan_out)", "Glorot, uniform"),
    "he_normal": Initializer(_scaled_normal(_he), "2/fan_in", "Kaiming: for the ReLU family"),
    "he_uniform": Initializer(_scaled_uniform(_he), "2/fan_in", "Kaiming, uniform"),
    "lecun_normal": Initializer(_scaled_normal(_lecun), "1/fan_in", "LeCun: for SELU"),
    "orthogonal": Initializer(_orthogonal, "gain^2 / fan", "orthogonal matrix (Saxe et al.)"),
}
