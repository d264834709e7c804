"""Activation registry: the names users type, mapped to the integer id the kernels branch on.

The formulas live in :mod:`gradtui.kernels` (``activate``); this table is the single source for key
cycling, preset validation, help text and the parametrised tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Activation:
    id: int  # branch selector inside the kernels (plain data: switching never recompiles)
    formula: str
    max_slope: float  # max |f'(z)|; "saturated" means |f'| < 1% of this
    saturating: bool  # sigmoid/tanh: the saturated-fraction statistic applies
    help: str


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(0, "1/(1+e^-z)", 0.25, True, "f' <= 0.25: each layer shrinks the signal ~4x"),
    "tanh": Activation(1, "tanh z", 1.0, True, "zero-centred, but saturates for |z| > 2"),
    "relu": Activation(2, "max(0, z)", 1.0, False, "slope 1 where active; units can die"),
    "leaky_relu": Activation(3, "max(0.01 z, z)", 1.0, False, "ReLU that keeps a 0.01 slope"),
    "elu": Activation(4, "z if z>0 else e^z - 1", 1.0, False, "smooth, negative outputs"),
    "selu": Activation(5, "1.0507 * elu_1.6733(z)", 1.7581, False, "self-normalising with LeCun init"),
    "gelu": Activation(6, "z/2 (1 + tanh(0.798 (z + 0.0447 z^3)))", 1.129, False, "smooth ReLU (tanh approx.)"),
    "linear": Activation(7, "z", 1.0, False, "no non-linearity: a deep linear net"),
}

SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772
LEAKY_SLOPE = 0.01
