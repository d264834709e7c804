"""Finite-difference checks of the analytic gradients: every activation, whole MLPs (plain,
residual, batch norm, penalties), classification and regression; a corrupted gradient must fail."""

import numpy as np
import pytest

from gradtui import kernels as K
from gradtui.activations import ACTIVATIONS
from gradtui.config import Config
from gradtui.mlp import MLP, pack_config

TOL = 1e-6


def rel_err(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def make_case(cfg, sizes, nb, task, seed=0):
    rng = np.random.default_rng(seed)
    m = MLP(sizes, nb)
    m.init_weights("xavier_normal", rng, 0.1, 1.0)
    m.theta += rng.normal(0, 0.05, m.theta.shape)  # non-trivial biases and batch-norm gamma/beta
    icfg, fcfg = pack_config(cfg, task)
    x = rng.normal(size=(nb, sizes[0]))
    if task == "classify":
        t = np.eye(sizes[-1])[rng.integers(0, sizes[-1], nb)]
    else:
        t = rng.normal(size=(nb, sizes[-1]))
    return m, icfg, fcfg, x, t


def numeric_grad(m, icfg, fcfg, x, t, h=1e-6):
    num = np.zeros_like(m.theta)
    for k in range(m.theta.size):
        old = m.theta[k]
        m.theta[k] = old + h
        lp, _ = m.loss_grad(x, t, icfg, fcfg)
        m.theta[k] = old - h
        lm, _ = m.loss_grad(x, t, icfg, fcfg)
        m.theta[k] = old
        num[k] = (lp - lm) / (2 * h)
    return num


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_derivative_matches_finite_difference(name):
    z = np.linspace(-4, 4, 161) + 0.013  # avoid the kinks exactly at 0
    a = np.empty_like(z)
    d = np.empty_like(z)
    scratch = np.empty((2, z.size))
    K.activate(z, a, d, ACTIVATIONS[name].id, scratch)
    h = 1e-6
    ap, am, dd = np.empty_like(z), np.empty_like(z), np.empty_like(z)
    K.activate(z + h, ap, dd, ACTIVATIONS[name].id, scratch)
    K.activate(z - h, am, dd, ACTIVATIONS[name].id, scratch)
    assert rel_err((ap - am) / (2 * h), d) < TOL
    assert np.all(np.abs(d) <= ACTIVATIONS[name].max_slope + 1e-9)


VARIANTS = {
    "plain": {},
    "residual": {"residual": True},
    "batchnorm": {"batchnorm": True},
    "residual+bn+l1+l2": {"residual": True, "batchnorm": True, "l1": 0.01, "l2": 0.1},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_mlp_gradient_matches_finite_difference(name, variant):
    cfg = Config(activation=name, **VARIANTS[variant])
    m, icfg, fcfg, x, t = make_case(cfg, (2, 5, 5, 5, 3), 7, "classify")
    _, g = m.loss_grad(x, t, icfg, fcfg)
    assert rel_err(numeric_grad(m, icfg, fcfg, x, t), g) < TOL


@pytest.mark.parametrize("variant", ["plain", "residual+bn+l1+l2"])
def test_regression_gradient_matches_finite_difference(variant):
    cfg = Config(activation="tanh", **VARIANTS[variant])
    m, icfg, fcfg, x, t = make_case(cfg, (2, 4, 4, 1), 6, "regress")
    _, g = m.loss_grad(x, t, icfg, fcfg)
    assert rel_err(numeric_grad(m, icfg, fcfg, x, t), g) < TOL


def test_corrupted_gradient_fails_the_check():
    cfg = Config(activation="sigmoid", residual=True, batchnorm=True)
    m, icfg, fcfg, x, t = make_case(cfg, (2, 5, 5, 5, 3), 7, "classify")
    _, g = m.loss_grad(x, t, icfg, fcfg)
    num = numeric_grad(m, icfg, fcfg, x, t)
    bad = g.copy()
    bad[m.geo[1, K.G_POFF] + 3] *= 1.001  # one weight of a hidden layer, off by 0.1%
    assert rel_err(num, g) < TOL
    assert rel_err(num, bad) > TOL


def test_float32_gradient_is_close_to_float64():
    cfg = Config(activation="gelu", batchnorm=True)
    m, icfg, fcfg, x, t = make_case(cfg, (2, 6, 6, 3), 8, "classify")
    _, g64 = m.loss_grad(x, t, icfg, fcfg)
    m32 = MLP(m.sizes, 8, "float32")
    m32.theta[:] = m.theta
    _, g32 = m32.loss_grad(x, t, icfg, fcfg)
    assert rel_err(g64, g32.astype(np.float64)) < 1e-5


def test_fast_exp_is_within_one_ulp_of_numpy():
    x = -np.random.default_rng(0).uniform(0, 708, 200_001)
    x[:5] = [0.0, -1.0, -1e-300, -1e-12, -707.9]
    e, em = x.copy(), np.empty_like(x)
    K.exp_neg(e, em, True)
    ref = np.exp(x)
    assert np.max(np.abs(e - ref) / np.spacing(ref)) <= 1.0
    # expm1 without cancellation: relative to its own size, also where e^x - 1 would lose it all
    assert np.max(np.abs(em - np.expm1(x)) / np.spacing(np.abs(np.expm1(x)) + 1e-320)) <= 2.0


def test_fast_exp_underflows_gradually():
    x = -np.array([708.0, 709.0, 720.0, 740.0, 745.0, 745.2, 746.0, 800.0, 1e300, np.inf])
    e, em = x.copy(), np.empty_like(x)
    K.exp_neg(e, em, True)
    ref = np.exp(x)
    assert np.all(np.abs(e - ref) <= np.maximum(np.spacing(ref), 5e-324)), (e, ref)
    assert np.all(em == -1.0)
    e[:] = x
    K.exp_neg(e, em, False)  # the variant without expm1 gives the same exponentials
    assert np.all(np.abs(e - ref) <= np.maximum(np.spacing(ref), 5e-324))
    nan = np.array([np.nan, -1.0])
    K.exp_neg(nan, em, True)
    assert np.isnan(nan[0]) and np.isnan(em[0]) and nan[1] == np.exp(-1.0)


def test_sigmoid_is_exact_at_the_extremes():
    z = np.array([-1e6, -800.0, -740.0, -40.0, 0.0, 40.0, 800.0, 1e6])
    a, d, scratch = np.empty_like(z), np.empty_like(z), np.empty((2, z.size))
    K.activate(z, a, d, ACTIVATIONS["sigmoid"].id, scratch)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))
    with np.errstate(over="ignore"):
        ez = np.exp(-np.abs(z))  # scipy's expit flushes e^-740 (a subnormal) to 0
    np.testing.assert_allclose(a, np.where(z >= 0, 1 / (1 + ez), ez / (1 + ez)), rtol=1e-15, atol=5e-324)
    assert a[4] == 0.5 and a[-1] == 1.0 and a[0] == 0.0 and 0 < a[2] < 1e-320


def test_fast_exp_float32_is_within_one_ulp_of_exact():
    x = -np.random.default_rng(1).uniform(0, 87, 200_001).astype(np.float32)
    out, kb = np.empty_like(x), np.empty_like(x)
    K.exp_neg32(x, out, kb)
    exact = np.exp(x.astype(np.float64))
    assert np.max(np.abs(out - exact) / np.spacing(exact.astype(np.float32))) <= 1.0


def test_float32_sigmoid_matches_float64():
    z = np.random.default_rng(2).normal(0, 8, 10_000)
    a64, d64, a32, d32 = (np.empty_like(z), np.empty_like(z), np.empty(z.size, np.float32),
                          np.empty(z.size, np.float32))
    scratch = np.empty((2, z.size))
    K.activate(z, a64, d64, 0, scratch)
    K.activate(z.astype(np.float32), a32, d32, 0, scratch)
    np.testing.assert_allclose(a32, a64, rtol=2e-6, atol=1e-37)
    np.testing.assert_allclose(d32, d64, rtol=1e-5, atol=1e-37)


def test_kernel_constants_match_the_registry():
    """The kernels keep literal copies (numba's cache would not notice an edit in another file)."""
    from gradtui.activations import LEAKY_SLOPE, SELU_ALPHA, SELU_LAMBDA

    assert (K._SELU_L, K._SELU_A) == (SELU_LAMBDA, SELU_ALPHA)
    z = np.array([-2.0])
    a, d, scratch = np.empty(1), np.empty(1), np.empty((2, 1))
    K.activate(z, a, d, ACTIVATIONS["leaky_relu"].id, scratch)
    assert a[0] == LEAKY_SLOPE * -2.0 and d[0] == LEAKY_SLOPE
