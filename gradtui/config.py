"""The run configuration: one frozen dataclass, every field documented and constrained in one place.

Presets (TOML), ``--set key=value`` overrides, the help text and validation all read
:data:`FIELDS`; :mod:`gradtui.presets` does the parsing and error messages.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from gradtui.activations import ACTIVATIONS
from gradtui.data import DATASETS
from gradtui.initializers import INITIALIZERS
from gradtui.optimizers import CLIPPING, OPTIMIZERS, SCHEDULES

DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class Config:
    # --- identity
    name: str = "custom"
    description: str = ""
    seed: int = 0
    # --- data
    dataset: str = "spiral"
    n_samples: int = 1000  # total points, split into train and test
    test_fraction: float = 0.2
    noise: float = 0.1
    n_classes: int = 3  # spiral and gaussian only; circles/xor/moons have 2, regression 1 output
    batch_size: int = 64
    # --- model
    depth: int = 4  # hidden layers (ignored when `hidden` is given)
    width: int = 32
    hidden: tuple[int, ...] = ()  # explicit hidden widths, input side first
    activation: str = "relu"
    init: str = "he_normal"
    init_std: float = 0.01  # for init = normal / uniform
    init_gain: float = 1.0  # multiplies the fan-based schemes and orthogonal
    bias_std: float = 0.0  # biases ~ N(0, bias_std^2) at (re-)initialisation; 0: zero biases
    residual: bool = False  # h_{l+1} = f(h_l W + b) + h_l between equal-width hidden layers
    batchnorm: bool = False
    dtype: str = "float64"
    # --- optimisation
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    rho: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0  # adamw's decoupled decay
    l1: float = 0.0  # loss += l1 * sum|W|
    l2: float = 0.0  # loss += l2/2 * sum W^2
    clip: str = "none"
    clip_value: float = 1.0
    schedule: str = "constant"
    schedule_steps: int = 1000  # T of the schedule
    lr_gamma: float = 0.5  # decay factor of step / exponential schedules
    eval_every: int = 50  # test accuracy every k steps
    # --- the dashboard's pace (headless runs and replays ignore both)
    start_paused: bool = False  # start at step 0, paused (n steps one at a time)
    pace: float = 0.0  # speed limit in steps/s; 0: unthrottled

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(self.hidden) if self.hidden else (self.width,) * self.depth

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class FieldSpec:
    """What a field accepts. ``choices`` for names; ``lo``/``hi`` bounds (``lo_open`` / ``hi_open``:
    that bound excluded)."""

    help: str
    choices: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False


FIELDS: dict[str, FieldSpec] = {
    "name": FieldSpec("preset name (the file stem by default)"),
    "description": FieldSpec("one-line description"),
    "seed": FieldSpec("random seed for data, init and batches", lo=0, hi=2**63 - 1),
    "dataset": FieldSpec("toy data set", choices=tuple(DATASETS)),
    "n_samples": FieldSpec("number of points (train + test)", lo=8, hi=1_000_000),
    "test_fraction": FieldSpec("share of points held out for testing", lo=0.0, hi=0.9, lo_open=True),
    "noise": FieldSpec("noise level of the data set", lo=0.0, hi=10.0),
    "n_classes": FieldSpec("classes for " + " / ".join(k for k, d in DATASETS.items()
                                                       if d.task == "classify" and d.classes is None), lo=2, hi=16),
    "batch_size": FieldSpec("minibatch size", lo=1, hi=65536),
    "depth": FieldSpec("number of hidden layers", lo=1, hi=500),
    "width": FieldSpec("units per hidden layer", lo=1, hi=8192),
    "hidden": FieldSpec("explicit hidden widths, e.g. [64, 64, 32]"),
    "activation": FieldSpec("hidden-layer activation", choices=tuple(ACTIVATIONS)),
    "init": FieldSpec("weight initialiser", choices=tuple(INITIALIZERS)),
    "init_std": FieldSpec("std of the normal / uniform initialisers", lo=0.0, hi=100.0, lo_open=True),
    "init_gain": FieldSpec("gain of the fan-based initialisers", lo=0.0, hi=100.0, lo_open=True),
    "bias_std": FieldSpec("std of the initial biases, N(0, bias_std^2) (0: zero biases)", lo=0.0, hi=100.0),
    "residual": FieldSpec("skip connections between equal-width hidden layers"),
    "batchnorm": FieldSpec("batch normalisation before each hidden activation"),
    "dtype": FieldSpec("floating-point precision", choices=DTYPES),
    "optimizer": FieldSpec("update rule", choices=tuple(OPTIMIZERS)),
    "lr": FieldSpec("base learning rate", lo=0.0, hi=1e6, lo_open=True),
    "momentum": FieldSpec("momentum / nesterov coefficient", lo=0.0, hi=1.0),
    # 1 is excluded where the maths divides by 1 - beta^t (Adam's bias correction: 0/0) or where
    # the running average would never move off its zero start (RMSprop: every step g/eps);
    # momentum 1 is a legitimate (undamped) heavy ball.
    "beta1": FieldSpec("Adam first-moment decay", lo=0.0, hi=1.0, hi_open=True),
    "beta2": FieldSpec("Adam second-moment decay", lo=0.0, hi=1.0, hi_open=True),
    "rho": FieldSpec("RMSprop decay", lo=0.0, hi=1.0, hi_open=True),
    "eps": FieldSpec("denominator epsilon of the adaptive optimisers", lo=0.0, hi=1.0, lo_open=True),
    "weight_decay": FieldSpec("decoupled weight decay (adamw)", lo=0.0, hi=1e3),
    "l1": FieldSpec("L1 penalty on weights", lo=0.0, hi=1e3),
    "l2": FieldSpec("L2 penalty on weights", lo=0.0, hi=1e3),
    "clip": FieldSpec("gradient clipping mode", choices=tuple(CLIPPING)),
    "clip_value": FieldSpec("clipping threshold c", lo=0.0, hi=1e12, lo_open=True),
    "schedule": FieldSpec("learning-rate schedule", choices=tuple(SCHEDULES)),
    "schedule_steps": FieldSpec("T of the schedule, in steps", lo=1, hi=1e12),
    "lr_gamma": FieldSpec("decay factor of step / exponential schedules", lo=0.0, hi=1.0, lo_open=True),
    "eval_every": FieldSpec("evaluate the test set every k steps", lo=1, hi=1e9),
    "start_paused": FieldSpec("dashboard: start at step 0, paused (n steps one at a time)"),
    "pace": FieldSpec("dashboard: speed limit in steps/s ([ / ] halve / double it); 0: unthrottled",
                      lo=0.0, hi=1e6),
}

assert set(FIELDS) == {f.name for f in dataclasses.fields(Config)}, "FIELDS must document every Config field"


# --------------------------------------------------------------------------- text validators
# Shared by presets, ``--set`` and session files: nothing a file contains may reach the terminal
# as a control sequence (ESC starts CSI/OSC sequences: window titles, OSC 52 clipboard writes).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # C0 (tab and newline included), DEL, C1


def control_char(text: str) -> str | None:
    """The first control character in ``text`` as ``U+001B``, or None when it has none."""
    m = _CONTROL.search(text)
    return None if m is None else f"U+{ord(m.group()):04X}"


def printable(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``): safe to print."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def shorten(text: str, limit: int = 60) -> str:
    """At most ``limit`` characters of ``text`` for an error message (an 8,000-digit integer or a
    huge list must not flood the one error line)."""
    return text if len(text) <= limit else text[: limit - 3] + f"... ({len(text)} characters)"
