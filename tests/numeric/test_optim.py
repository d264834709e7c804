"""Optimisers, clipping and learning-rate schedules against hand-computed steps."""

import math

import numpy as np
import pytest

from gradtui import kernels as K
from gradtui.config import Config
from gradtui.mlp import MLP, pack_config
from gradtui.optimizers import CLIPPING, OPTIMIZERS, SCHEDULES, schedule_lrs

W0 = np.array([0.5, -1.0])  # one 2x1 layer: W = [[0.5], [-1.0]], b = [0.0]
G1 = np.array([0.2, -0.4, 0.1])  # gradient of step 1: W then b
G2 = np.array([-0.1, 0.3, 0.05])  # gradient of step 2


def hand(opt, lr=0.1, mu=0.9, b1=0.9, b2=0.999, rho=0.99, eps=1e-8, wd=0.0):
    """Two steps by the textbook formulas, one scalar at a time."""
    p = np.r_[W0, 0.0]
    m = np.zeros(3)
    v = np.zeros(3)
    for t, g in enumerate((G1, G2), start=1):
        for k in range(3):
            if opt == "sgd":
                p[k] -= lr * g[k]
            elif opt == "momentum":
                m[k] = mu * m[k] + g[k]
                p[k] -= lr * m[k]
            elif opt == "nesterov":
                m[k] = mu * m[k] + g[k]
                p[k] -= lr * (g[k] + mu * m[k])
            elif opt == "adagrad":
                v[k] += g[k] ** 2
                p[k] -= lr * g[k] / (math.sqrt(v[k]) + eps)
            elif opt == "rmsprop":
                v[k] = rho * v[k] + (1 - rho) * g[k] ** 2
                p[k] -= lr * g[k] / (math.sqrt(v[k]) + eps)
            else:
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
                mhat, vhat = m[k] / (1 - b1**t), v[k] / (1 - b2**t)
                decay = lr * wd * p[k] if (opt == "adamw" and k < 2) else 0.0
                p[k] -= lr * mhat / (math.sqrt(vhat) + eps) + decay
    return p


def kernel_steps(opt, wd=0.0):
    m = MLP((2, 1), batch=1)
    m.theta[:2] = W0
    _, fcfg = pack_config(Config(optimizer=opt, weight_decay=wd), "regress")
    lstats = np.zeros((1, K.N_LSTATS))
    for t, g in enumerate((G1, G2), start=1):
        m.grad[:] = g
        K.apply_update(m.net, OPTIMIZERS[opt].id, 0.1, t, fcfg, lstats, True, m.sums, False, 1.0)
    return m.theta.copy(), lstats


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_optimiser_two_steps_match_hand_computation(opt):
    theta, _ = kernel_steps(opt)
    np.testing.assert_allclose(theta, hand(opt), rtol=1e-12, atol=1e-15)


def test_adamw_decays_weights_but_not_biases():
    theta, _ = kernel_steps("adamw", wd=0.5)
    np.testing.assert_allclose(theta, hand("adamw", wd=0.5), rtol=1e-12)
    assert not np.allclose(theta, hand("adam"))


def test_update_ratio_and_weight_norm_statistics():
    m = MLP((2, 1), batch=1)
    m.theta[:2] = W0
    m.grad[:] = G1
    _, fcfg = pack_config(Config(), "regress")
    lstats = np.zeros((1, K.N_LSTATS))
    K.apply_update(m.net, K.OPT_SGD, 0.1, 1, fcfg, lstats, True, m.sums, False, 1.0)
    assert lstats[0, K.L_WEIGHT_NORM] == pytest.approx(math.hypot(0.5, 1.0))
    assert lstats[0, K.L_UPDATE_RATIO] == pytest.approx(0.1 * math.hypot(0.2, 0.4) / math.hypot(0.5, 1.0))


def two_layer_grad():
    m = MLP((2, 2, 1), batch=1)  # layer 0: W 2x2, b, gamma, beta (10); layer 1: W 2x1, b (3)
    g = np.arange(1, m.n_params + 1, dtype=np.float64) * np.where(np.arange(m.n_params) % 2, -1, 1)
    return m, g


@pytest.mark.parametrize("mode", list(CLIPPING))
def test_clipping_matches_hand_computation(mode):
    m, g = two_layer_grad()
    c = 3.0
    expected = g.copy()
    if mode == "value":
        expected = np.clip(g, -c, c)
    elif mode == "layer_norm":
        for l in range(2):
            s = slice(m.geo[l, K.G_POFF], m.geo[l, K.G_PEND])
            expected[s] = g[s] * min(1.0, c / np.linalg.norm(g[s]))
    elif mode == "global_norm":
        expected = g * min(1.0, c / np.linalg.norm(g))
    out = g.copy()
    clipped, uniform, scale = K.clip_grads(out, m.geo, CLIPPING[mode].id, c, np.linalg.norm(g))
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    assert clipped == (mode != "none")
    # the one factor every entry was scaled by, if there is one (apply_update's SGD statistics use it)
    assert uniform == (mode in ("none", "global_norm"))
    if mode == "global_norm":
        assert scale == pytest.approx(c / np.linalg.norm(g), rel=1e-14)
    elif mode == "none":
        assert scale == 1.0


def test_clipping_below_threshold_changes_nothing():
    m, g = two_layer_grad()
    for mode in CLIPPING.values():
        out = g.copy()
        clipped, uniform, scale = K.clip_grads(out, m.geo, mode.id, 1e9, np.linalg.norm(g))
        assert not clipped and uniform and scale == 1.0
        np.testing.assert_array_equal(out, g)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("constant", [0.1, 0.1, 0.1, 0.1, 0.1]),
        ("step", [0.1, 0.1, 0.05, 0.05, 0.025]),  # gamma 0.5 every T = 2 steps
        ("exponential", [0.1 * 0.5 ** (t / 2) for t in range(5)]),
        ("linear", [0.1, 0.075, 0.05, 0.025, 0.0]),  # alpha_0 (1 - t/T) with T = 4
        ("cosine", [0.1 * (1 + math.cos(math.pi * min(t, 4) / 4)) / 2 for t in range(5)]),
    ],
)
def test_schedules_match_hand_computation(name, expected):
    T = 4 if name in ("linear", "cosine") else 2
    np.testing.assert_allclose(schedule_lrs(name, 0.1, 0, 5, T, 0.5), expected, rtol=1e-12, atol=1e-15)


def test_schedules_continue_from_any_step():
    for name in SCHEDULES:
        whole = schedule_lrs(name, 0.1, 0, 10, 6, 0.5)
        parts = np.r_[schedule_lrs(name, 0.1, 0, 3, 6, 0.5), schedule_lrs(name, 0.1, 3, 7, 6, 0.5)]
        np.testing.assert_array_equal(whole, parts)
