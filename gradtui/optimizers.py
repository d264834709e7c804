"""Optimiser, gradient-clipping and learning-rate-schedule registries.

The update rules run inside :mod:`gradtui.kernels` (each entry names its kernel branch id); the
schedules are plain NumPy here, evaluated for a whole chunk of steps at once.

Update rules (g already clipped, t counts optimiser steps from 1):

=========  ==================================================================
sgd        p -= lr g
momentum   v = mu v + g;  p -= lr v                       (PyTorch form)
nesterov   v = mu v + g;  p -= lr (g + mu v)
adagrad    s += g^2;  p -= lr g / (sqrt(s) + eps)
rmsprop    s = rho s + (1-rho) g^2;  p -= lr g / (sqrt(s) + eps)
adam       m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
           p -= lr m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps)
adamw      adam, plus decoupled decay p -= lr wd p on weight matrices
=========  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradtui import kernels as K


@dataclass(frozen=True)
class Choice:
    id: int
    help: str


OPTIMIZERS: dict[str, Choice] = {
    "sgd": Choice(K.OPT_SGD, "plain gradient descent"),
    "momentum": Choice(K.OPT_MOMENTUM, "heavy-ball momentum"),
    "nesterov": Choice(K.OPT_NESTEROV, "Nesterov momentum"),
    "adagrad": Choice(K.OPT_ADAGRAD, "per-weight rates from summed g^2"),
    "rmsprop": Choice(K.OPT_RMSPROP, "per-weight rates from a running g^2"),
    "adam": Choice(K.OPT_ADAM, "momentum + RMSprop + bias correction"),
    "adamw": Choice(K.OPT_ADAMW, "Adam with decoupled weight decay"),
}

CLIPPING: dict[str, Choice] = {
    "none": Choice(K.CLIP_NONE, "no clipping"),
    "value": Choice(K.CLIP_VALUE, "g <- clip(g, -c, c)"),
    "layer_norm": Choice(K.CLIP_LAYER_NORM, "each layer: g <- g min(1, c/|g_layer|)"),
    "global_norm": Choice(K.CLIP_GLOBAL_NORM, "all layers: g <- g min(1, c/|g|)"),
}


def _constant(lr0, t, T, gamma):
    return np.full(t.shape, lr0)


def _step(lr0, t, T, gamma):
    return lr0 * gamma ** np.floor(t / T)


def _exponential(lr0, t, T, gamma):
    return lr0 * gamma ** (t / T)


def _linear(lr0, t, T, gamma):
    return lr0 * np.clip(1.0 - t / T, 0.0, 1.0)


def _cosine(lr0, t, T, gamma):
    return lr0 * 0.5 * (1.0 + np.cos(np.pi * np.minimum(t, T) / T))


@dataclass(frozen=True)
class Schedule:
    fn: object
    formula: str


SCHEDULES: dict[str, Schedule] = {
    "constant": Schedule(_constant, "lr0"),
    "step": Schedule(_step, "lr0 * gamma^floor(t/T)"),
    "exponential": Schedule(_exponential, "lr0 * gamma^(t/T)"),
    "linear": Schedule(_linear, "lr0 * max(0, 1 - t/T)"),
    "cosine": Schedule(_cosine, "lr0 * (1 + cos(pi min(t,T)/T)) / 2"),
}


def schedule_lrs(name: str, lr0: float, t0: int, n: int, T: int, gamma: float) -> np.ndarray:
    """Learning rates for steps ``t0 .. t0+n-1`` (float64, shape ``(n,)``)."""
    t = np.arange(t0, t0 + n, dtype=np.float64)
    return np.asarray(SCHEDULES[name].fn(float(lr0), t, float(T), float(gamma)), dtype=np.float64)
