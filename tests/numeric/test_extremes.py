"""Numbers at the extremes: every activation and its slope against an independent 60-digit
reference (mpmath) from the smallest subnormal to the largest finite input, both signs, both
dtypes; float32 networks' statistics against a float64 recomputation from the same float32 arrays
at 1e-30 and 1e30 scales and down a 40-layer sigmoid net; divergence only for what is non-finite.

Stated bounds (worst case measured over the grid, rounded up): relative error of f and f', in
units in the last place of the dtype (a subnormal result counts in subnormal spacings):

- float64: sigmoid, tanh, ELU, SELU <= 4 ulp; ReLU, leaky ReLU, linear exact. GELU <= 4 + 2|u(z)|
  ulp, u = c (z + 0.044715 z^3): in its negative tail f ~ z e^(-2|u|), and rounding u to float64
  alone moves that exponent by ~|2u| 2^-53, i.e. ~|2u| ulp, in any float64 evaluation (measured
  <= 0.5 |2u|; 2|u| reaches ~745 before the result underflows). Its slope is a sum of two terms
  with a root at z = -0.7518 (GELU's minimum), where no evaluation keeps relative precision: there
  the bound is in ulp of the larger term.
- float32: <= 4 ulp (sigmoid runs in float32 arithmetic; the others are float64 rounded once).
"""

import math

import mpmath
import numpy as np
import pytest

from gradtui import kernels as K
from gradtui.activations import ACTIVATIONS, LEAKY_SLOPE, SELU_ALPHA, SELU_LAMBDA
from gradtui.config import Config
from gradtui.mlp import MLP, pack_config
from gradtui.trainer import Trainer

DEFAULT_ULP = 4.0


def _bound(name, dtype, z):
    if name == "gelu" and dtype == "float64":
        z = min(abs(z), 1e3)  # beyond, the tail is exactly 0 in float64 anyway
        return DEFAULT_ULP + 2 * 0.7978845608028654 * (z + 0.044715 * z ** 3)
    return DEFAULT_ULP
_C = None


def _ref(name, z):
    """(f(z), f'(z)) at 60 digits, in cancellation-free forms."""
    global _C
    mpmath.mp.dps = 60
    if _C is None:
        _C = mpmath.sqrt(2 / mpmath.pi)
    z = mpmath.mpf(z)
    if name == "sigmoid":
        e = mpmath.exp(-abs(z))
        return (1 / (1 + e) if z >= 0 else e / (1 + e)), e / (1 + e) ** 2
    if name == "tanh":
        return mpmath.tanh(z), 1 / mpmath.cosh(z) ** 2
    if name == "relu":
        return (z if z > 0 else 0), (1 if z > 0 else 0)
    if name == "leaky_relu":
        return (z if z > 0 else LEAKY_SLOPE * z), (1 if z > 0 else LEAKY_SLOPE)
    if name in ("elu", "selu"):
        lam, al = (1, 1) if name == "elu" else (mpmath.mpf(SELU_LAMBDA), mpmath.mpf(SELU_ALPHA))
        return (lam * z, lam) if z > 0 else (lam * al * mpmath.expm1(z), lam * al * mpmath.exp(z))
    if name == "gelu":
        k = mpmath.mpf("0.044715")
        u = _C * (z + k * z ** 3)
        op, om = 2 / (1 + mpmath.exp(-2 * u)), 2 / (1 + mpmath.exp(2 * u))  # 1 + tanh u, 1 - tanh u
        t2 = z / 2 * (op * om) * _C * (1 + 3 * k * z * z)
        return z / 2 * op, op / 2 + t2, max(op / 2, abs(t2))
    assert name == "linear"
    return z, 1


def _grid(dt, n=300):
    fi = np.finfo(dt)
    with np.errstate(over="ignore"):
        m = np.logspace(np.log10(float(fi.smallest_subnormal)), np.log10(float(fi.max)), n)
    m = np.concatenate([m[np.isfinite(m)], [fi.smallest_subnormal, fi.tiny, fi.max, 1e-8, 0.3, 3.0, 20.0]])
    m = np.unique(m.astype(dt))
    return np.concatenate([-m[::-1], [dt(0)], m])


def _ulps(ours, exact, dt):
    """|ours - exact| in units of the dtype's spacing at the rounded exact value (0 if equal)."""
    fmax = float(np.finfo(dt).max)
    if abs(exact) > fmax * (1 + 2 * float(np.finfo(dt).eps)):
        return 0.0 if np.isinf(ours) and (ours > 0) == (exact > 0) else math.inf
    rounded = dt(float(exact))
    if rounded == ours:
        return 0.0
    return abs(float(mpmath.mpf(float(ours)) - exact)) / float(np.spacing(abs(rounded)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_and_slope_match_mpmath_at_every_scale(name, dtype):
    dt = np.dtype(dtype).type
    z = _grid(dt)
    a, d = np.empty_like(z), np.empty_like(z)
    K.activate(z.copy(), a, d, ACTIVATIONS[name].id, np.empty((2, 512)))
    worst = []
    for zi, ai, di in zip(z, a, d):
        bound = _bound(name, dtype, float(zi))
        fa, fd, *scale = _ref(name, float(zi))
        for what, ours, exact in (("f", ai, fa), ("f'", di, fd)):
            u = _ulps(ours, exact, dt)
            if what == "f'" and scale and fd != 0:  # near the slope's root: ulp of the larger term
                u *= float(abs(fd) / scale[0])
            if u > bound:
                worst.append((what, float(zi), float(ours), float(exact), u))
    assert not worst, worst[:5]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_registry_numpy_f_and_slope_match_mpmath_at_every_scale(name, dtype):
    """The registry's NumPy f and f' (the reference's and a theory module's) keep the kernels'
    bounds, and stay within them of the kernels themselves."""
    dt = np.dtype(dtype).type
    z = _grid(dt)
    spec = ACTIVATIONS[name]
    a, d = spec.f(z), spec.df(z)
    assert a.dtype == d.dtype == z.dtype
    ka, kd = np.empty_like(z), np.empty_like(z)
    K.activate(z.copy(), ka, kd, spec.id, np.empty((2, 512)))
    worst = []
    for zi, ai, di, kai, kdi in zip(z, a, d, ka, kd):
        bound = _bound(name, dtype, float(zi))
        fa, fd, *scale = _ref(name, float(zi))
        for what, ours, exact, kern in (("f", ai, fa, kai), ("f'", di, fd, kdi)):
            s = float(abs(fd) / scale[0]) if what == "f'" and scale and fd != 0 else 1.0
            u = s * _ulps(ours, exact, dt)
            if u > bound or not (ours == kern or s * _ulps(ours, kern, dt) <= 2 * bound):
                worst.append((what, float(zi), float(ours), float(exact), float(kern), u))
    assert not worst, worst[:5]


@pytest.mark.parametrize("name", ["tanh", "elu", "selu", "gelu", "sigmoid"])
def test_small_inputs_keep_their_relative_precision(name):
    """The cancellation this file exists for: tanh(1e-15) was 11% high and tanh, ELU, SELU were
    exactly 0 below ~5e-17, so the output layers of a small-init tanh net got exactly 0 gradient."""
    z = np.array([1e-300, 1e-17, 1e-15, -1e-300, -1e-17, -1e-15])
    a, d = np.empty_like(z), np.empty_like(z)
    K.activate(z.copy(), a, d, ACTIVATIONS[name].id, np.empty((2, 512)))
    for zi, ai in zip(z, a):
        exact = _ref(name, zi)[0]
        assert ai == pytest.approx(float(exact), rel=1e-15, abs=0), (zi, ai, exact)


def test_tiny_init_tanh_net_has_no_exact_zero_gradient():
    """The learner's path from the issue: tanh with normal init at std 0.01 in a 20-layer net
    gives output-side weight gradients of ~1e-23, as large as the rest; never exactly 0."""
    cfg = Config(activation="tanh", init="normal", init_std=0.01, depth=20, width=32)
    tr = Trainer(cfg)
    tr.run_steps(1)
    g = tr.ring.layers[0, :, K.L_GRAD_NORM]
    assert np.all(g > 0), g
    assert np.all(np.isfinite(g))


# ---------------------------------------------------------------- float32 statistics in float64
def _stats_vs_float64(m, cfg, x, t, task="classify"):
    """Statistics the kernels report for one batch, and the same recomputed in float64 with NumPy
    from the float32 arrays the kernels left behind (gradient, dL/dz, activations)."""
    icfg, fcfg = pack_config(cfg, task)
    nb = x.shape[0]
    lstats = np.zeros((m.n_layers, K.N_LSTATS))
    xb, tb = np.ascontiguousarray(x, m.dtype), np.ascontiguousarray(t, m.dtype)
    loss, _ = K.loss_grad(xb, tb, m.net, icfg, fcfg, m.bufs, lstats)
    ref = np.full_like(lstats, np.nan)
    for l in range(m.n_layers):
        fi, fo, p, u, _ = (int(v) for v in m.geo[l])
        gw = m.grad[p: p + fi * fo].astype(np.float64)
        ref[l, K.L_GRAD_NORM] = np.sqrt(np.sum(gw * gw))
        ref[l, K.L_GRAD_MEAN_ABS] = np.mean(np.abs(gw))
        dz = m.work[K.W_D, nb * u: nb * (u + fo)].astype(np.float64)
        ref[l, K.L_DELTA_NORM] = np.sqrt(np.sum(dz * dz))
        act = m.work[K.W_A, nb * u: nb * (u + fo)].astype(np.float64)
        ref[l, K.L_ACT_MEAN] = np.mean(act)
        ref[l, K.L_ACT_STD] = np.std(act)
    return loss, lstats, ref


COLS = (K.L_GRAD_NORM, K.L_GRAD_MEAN_ABS, K.L_DELTA_NORM, K.L_ACT_MEAN, K.L_ACT_STD)


@pytest.mark.parametrize("scale", [1e-30, 1.0, 1e30])
def test_float32_statistics_match_float64_at_every_scale(scale):
    rng = np.random.default_rng(3)
    m = MLP((2, 16, 16, 3), 32, "float32")
    m.init_weights("xavier_normal", rng, 0.1, 1.0)
    x = rng.normal(size=(32, 2)) * scale
    t = np.eye(3)[rng.integers(0, 3, 32)]
    loss, got, ref = _stats_vs_float64(m, Config(activation="linear"), x, t)
    assert math.isfinite(loss)
    for c in COLS:
        np.testing.assert_allclose(got[:, c], ref[:, c], rtol=1e-6, atol=0, err_msg=f"column {c}")
    assert np.all(got[:, K.L_GRAD_NORM] > 0)


def test_float32_deep_sigmoid_reports_every_layers_gradient():
    """A 40-layer float32 sigmoid net: the first layers' gradients are ~1e-25, fine in float32,
    but their squares were summed in float32 and reported grad_norm = delta_norm = 0."""
    rng = np.random.default_rng(0)
    m = MLP((2,) + (32,) * 40 + (3,), 64, "float32")
    m.init_weights("xavier_normal", rng, 0.1, 1.0)
    x = rng.normal(size=(64, 2))
    t = np.eye(3)[rng.integers(0, 3, 64)]
    _, got, ref = _stats_vs_float64(m, Config(activation="sigmoid"), x, t)
    assert got[0, K.L_GRAD_NORM] < 1e-12 * got[-1, K.L_GRAD_NORM]  # it really is that deep
    for c in (K.L_GRAD_NORM, K.L_DELTA_NORM, K.L_GRAD_MEAN_ABS):
        assert np.all(got[:, c] > 0)
        np.testing.assert_allclose(got[:, c], ref[:, c], rtol=1e-6, atol=0)


def test_saturated_layer_std_does_not_cancel():
    """Mean 1 - 1e-7, spread 1e-9: sum(a^2)/n - mean^2 in float64 loses every digit of it."""
    m = MLP((2, 64, 3), 32, "float64")
    m.theta[:] = 0.0
    fi, fo, p, _, pend = (int(v) for v in m.geo[0])
    b = m.theta[p + fi * fo: p + fi * fo + fo]
    b[:] = 16.0  # sigmoid(16) = 1 - 1.1e-7
    w = m.theta[p: p + fi * fo].reshape(fi, fo)
    w[:] = np.random.default_rng(0).normal(0, 1e-2, w.shape)
    x = np.random.default_rng(1).normal(size=(32, 2))
    t = np.eye(3)[np.zeros(32, int)]
    _, got, ref = _stats_vs_float64(m, Config(activation="sigmoid"), x, t)
    assert ref[0, K.L_ACT_STD] < 1e-8
    np.testing.assert_allclose(got[0, K.L_ACT_STD], ref[0, K.L_ACT_STD], rtol=1e-6)


def test_float32_relu_with_large_finite_gradients_is_not_diverged(quiet):
    """std 0.5, width 128, depth 34 in float32: loss and gradient are finite (|g| ~ 1e20-1e30),
    their squares are not; the run was flagged diverged at step 0 and its update skipped."""
    cfg = Config(activation="relu", init="normal", init_std=0.5, width=128, depth=34, dtype="float32")
    tr = Trainer(cfg)
    tr.run_steps(1)
    glob = tr.ring.glob[0]
    assert glob[K.S_STATUS] == K.STATUS_OK
    assert math.isfinite(glob[K.S_LOSS]) and math.isfinite(glob[K.S_GRAD_NORM])
    assert glob[K.S_GRAD_NORM] > 1e19  # beyond float32's sqrt(max): the squares overflow there
    assert not tr.diverged


def test_diverged_only_when_something_is_not_finite(quiet):
    cfg = Config(activation="relu", init="normal", init_std=3.0, width=64, depth=12, dtype="float32")
    tr = Trainer(cfg)
    tr.run_steps(50)
    glob = tr.ring.glob[: tr.ring.count]
    for row in glob:
        if row[K.S_STATUS] == K.STATUS_DIVERGED:
            assert not (math.isfinite(row[K.S_LOSS]) and math.isfinite(row[K.S_GRAD_NORM]))


def test_kernel_activation_ids_match_the_registry():
    ids = (K.A_SIGMOID, K.A_TANH, K.A_RELU, K.A_LEAKY, K.A_ELU, K.A_SELU, K.A_GELU, K.A_LINEAR)
    assert tuple(a.id for a in ACTIVATIONS.values()) == ids
    assert K._LEAKY == LEAKY_SLOPE


def test_unknown_activation_id_is_nan_not_linear():
    z = np.array([0.5, -0.5])
    a, d = np.empty_like(z), np.empty_like(z)
    K.activate(z, a, d, 99, np.empty((2, 512)))
    assert np.all(np.isnan(a)) and np.all(np.isnan(d))


def test_float64_gradient_norm_past_1e154_is_finite_not_diverged(quiet):
    """The squares of a float64 gradient of norm ~1e160 overflow; the norm itself does not."""
    cfg = Config(activation="relu", init="normal", init_std=8.0, width=128, depth=90, batch_size=16)
    tr = Trainer(cfg)
    tr.run_steps(1)
    glob = tr.ring.glob[0]
    assert 1e154 < glob[K.S_GRAD_NORM] < math.inf
    layers = tr.ring.layers[0]
    assert np.all(np.isfinite(layers[:, K.L_GRAD_NORM])) and np.all(np.isfinite(layers[:, K.L_DELTA_NORM]))
    assert math.isfinite(glob[K.S_LOSS])
    assert glob[K.S_STATUS] == K.STATUS_OK


def test_per_layer_clipping_of_a_huge_float64_gradient_scales_not_zeroes():
    g = np.full(4, 1e160)
    geo = np.array([[2, 2, 0, 0, 4]], np.int64)
    clipped, _, _ = K.clip_grads(g, geo, K.CLIP_LAYER_NORM, 1.0, math.inf)
    assert clipped
    np.testing.assert_allclose(g, 0.5, rtol=1e-12)
