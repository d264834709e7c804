"""Deterministic toy data sets (TensorFlow-Playground style), all 2-D inputs.

``make_dataset(name, n, noise, n_classes, test_fraction, seed)`` returns a :class:`Dataset` with
standardised inputs (train mean/std) and targets as float arrays: one-hot rows for classification,
one column for regression. Same arguments, same arrays, on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str  # "classify" | "regress"
    x_train: np.ndarray  # (n_train, 2) float64, standardised
    t_train: np.ndarray  # (n_train, n_out) float64: one-hot or value
    x_test: np.ndarray  # (n_test, 2)
    t_test: np.ndarray  # (n_test, n_out)
    labels_train: np.ndarray  # (n_train,) int class (classify) or the value (regress), for plots

    @property
    def n_out(self) -> int:
        return self.t_train.shape[1]


def _spiral(rng, n, noise, k):
    y = np.arange(n) % k
    r = rng.uniform(0.05, 1.0, n)
    theta = y * 2 * np.pi / k + r * 1.75 * np.pi + rng.normal(0, noise, n) * 1.5
    x = np.c_[r * np.cos(theta), r * np.sin(theta)]
    return x, y


def _circles(rng, n, noise, k):
    y = np.arange(n) % 2
    r = np.where(y == 0, rng.uniform(0.0, 0.45, n), rng.uniform(0.65, 1.0, n))
    a = rng.uniform(0, 2 * np.pi, n)
    x = np.c_[r * np.cos(a), r * np.sin(a)] + rng.normal(0, noise * 0.5, (n, 2))
    return x, y


def _xor(rng, n, noise, k):
    x = rng.uniform(-1, 1, (n, 2))
    x += np.sign(x) * 0.05  # a small margin around the axes
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    return x + rng.normal(0, noise * 0.5, (n, 2)), y


def _gaussian(rng, n, noise, k):
    y = np.arange(n) % k
    ang = 2 * np.pi * np.arange(k) / k
    centres = np.c_[np.cos(ang), np.sin(ang)]
    return centres[y] + rng.normal(0, 0.25 + noise, (n, 2)), y


def _moons(rng, n, noise, k):
    y = np.arange(n) % 2
    a = rng.uniform(0, np.pi, n)
    x = np.where(y[:, None] == 0, np.c_[np.cos(a), np.sin(a)], np.c_[1 - np.cos(a), 0.5 - np.sin(a)])
    return x + rng.normal(0, noise, (n, 2)), y


def _regression(rng, n, noise, k):
    x = rng.uniform(-1, 1, (n, 2))
    v = np.sin(3 * x[:, 0]) * np.cos(2 * x[:, 1]) + 0.5 * x[:, 0]
    return x, v + rng.normal(0, noise, n)


@dataclass(frozen=True)
class DataSpec:
    fn: Callable
    task: str
    help: str


DATASETS: dict[str, DataSpec] = {
    "spiral": DataSpec(_spiral, "classify", "interleaved spiral arms (n_classes)"),
    "circles": DataSpec(_circles, "classify", "a disc inside a ring"),
    "xor": DataSpec(_xor, "classify", "the four XOR quadrants"),
    "gaussian": DataSpec(_gaussian, "classify", "n_classes Gaussian blobs"),
    "moons": DataSpec(_moons, "classify", "two interleaved half-moons"),
    "regression": DataSpec(_regression, "regress", "y = sin(3x) cos(2y) + x/2 + noise"),
}


def n_outputs(name: str, n_classes: int) -> int:
    """Output units of a data set: its classes (spiral and gaussian take ``n_classes``, the others
    2), or 1 for regression."""
    if DATASETS[name].task != "classify":
        return 1
    return n_classes if name in ("spiral", "gaussian") else 2


def make_dataset(name: str, n: int, noise: float, n_classes: int, test_fraction: float, seed: int) -> Dataset:
    spec = DATASETS[name]
    rng = np.random.default_rng([seed, 0xDA7A])  # its own stream: data never depends on the model
    x, y = spec.fn(rng, n, noise, n_classes)
    perm = rng.permutation(n)
    x, y = x[perm], y[perm]
    n_test = max(1, int(round(n * test_fraction)))
    n_train = n - n_test
    mu, sd = x[:n_train].mean(0), x[:n_train].std(0) + 1e-12
    x = (x - mu) / sd
    if spec.task == "classify":
        t = np.eye(n_outputs(name, n_classes))[y]
        labels = y.astype(np.int64)
    else:
        ym, ys = y[:n_train].mean(), y[:n_train].std() + 1e-12
        y = (y - ym) / ys
        t = y[:, None]
        labels = y
    return Dataset(name, spec.task, x[:n_train].copy(), t[:n_train].copy(), x[n_train:].copy(),
                   t[n_train:].copy(), labels[:n_train].copy())
