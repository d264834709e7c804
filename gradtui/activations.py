"""Activation registry: the names users type, mapped to the kernel branch (a named id of
:mod:`gradtui.kernels`; this table is the one place a name maps to it).

The formulas live in :mod:`gradtui.kernels` (``activate``); this table is the single source for key
cycling, preset validation, help text and the parametrised tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradtui import kernels as K


@dataclass(frozen=True)
class Activation:
    id: int  # branch selector inside the kernels (plain data: switching never recompiles)
    formula: str
    max_slope: float  # max |f'(z)|; "saturated" means |f'| < SATURATED_SLOPE of this
    saturating: bool  # sigmoid/tanh: the saturated-fraction statistic applies
    help: str


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(K.A_SIGMOID, "1/(1+e^-z)", 0.25, True, "f' <= 0.25: each layer shrinks the signal ~4x"),
    "tanh": Activation(K.A_TANH, "tanh z", 1.0, True, "zero-centred, but saturates for |z| > 2"),
    "relu": Activation(K.A_RELU, "max(0, z)", 1.0, False, "slope 1 where active; units can die"),
    "leaky_relu": Activation(K.A_LEAKY, "max(0.01 z, z)", 1.0, False, "ReLU that keeps a 0.01 slope"),
    "elu": Activation(K.A_ELU, "z if z>0 else e^z - 1", 1.0, False, "smooth, negative outputs"),
    "selu": Activation(K.A_SELU, "1.0507 * elu_1.6733(z)", 1.7581, False, "self-normalising with LeCun init"),
    "gelu": Activation(K.A_GELU, "z/2 (1 + tanh(0.798 (z + 0.0447 z^3)))", 1.129, False, "smooth ReLU (tanh approx.)"),
    "linear": Activation(K.A_LINEAR, "z", 1.0, False, "no non-linearity: a deep linear net"),
}

SATURATED_SLOPE = 0.01  # a saturating unit counts as saturated where |f'| < 1% of its max slope
DEAD_SLOPE = 1e-30  # the others: slopes below this count toward a dead unit (f' = 0 on the whole batch)


def slope_threshold(a: Activation) -> float:
    """The |f'| below which the kernels count an entry as saturated (or, not saturating, as 0)."""
    return SATURATED_SLOPE * a.max_slope if a.saturating else DEAD_SLOPE


SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772
LEAKY_SLOPE = 0.01
