"""gradtui.theory: quadrature accuracy, known critical points, the real fans, and the step-0 validation
against measured networks (every activation x initialiser, width 128, depth 20, 5 seeds)."""

import math

import numpy as np
import pytest
from scipy.integrate import quad

from gradtui.activations import ACTIVATIONS
from gradtui.config import Config
from gradtui.initializers import INITIALIZERS
from gradtui.reference import activation
from gradtui.theory import (NOT_MODELLED, critical_sigma_w2, fixed_point, gauss_moments, layer_sigma_w2, moments,
                            phase_grid, predict)
from gradtui.theory_cli import measure, slope

QS = [1e-6, 1e-2, 0.3, 1.0, 5.0, 25.0, 100.0, 400.0]


def _quad_moments(act, q):
    def f(z, k):
        a, d = activation(act, np.array([math.sqrt(q) * z]))
        v = (a if k == 0 else d)[0]
        return v * v * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    kw = dict(epsabs=0, epsrel=1e-13, limit=500)
    return [quad(f, -np.inf, 0, args=(k,), **kw)[0] + quad(f, 0, np.inf, args=(k,), **kw)[0] for k in (0, 1)]


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_gaussian_expectations_match_adaptive_quadrature(act):
    direct = np.array(gauss_moments(act, QS))  # (2, len(QS))
    table = np.array(moments(act, np.array(QS)))
    ref = np.array([_quad_moments(act, q) for q in QS]).T
    np.testing.assert_allclose(direct, ref, rtol=1e-10, atol=0)
    np.testing.assert_allclose(table, ref, rtol=1e-8, atol=0)


def test_closed_forms_far_outside_the_table():
    for q in (1e-40, 1e-30, 1e30, 1e60):
        e2, d2 = moments("relu", q)
        assert e2 == pytest.approx(q / 2, rel=1e-9) and d2 == pytest.approx(0.5, rel=1e-9)
        assert moments("linear", q)[0] == pytest.approx(q, rel=1e-9)
    assert moments("tanh", 1e-40)[0] == pytest.approx(1e-40, rel=1e-9)
    assert moments("sigmoid", 1e-40)[1] == pytest.approx(1 / 16, rel=1e-9)
    assert moments("tanh", 1e40)[1] < 1e-19  # saturated: E[f'^2] ~ 1/sqrt(q)


def test_known_critical_points():
    assert critical_sigma_w2("relu", 0.0) == pytest.approx(2.0, rel=1e-9)
    assert critical_sigma_w2("relu", 0.3) == pytest.approx(2.0, rel=1e-9)  # any bias: E[relu'^2] = 1/2
    assert critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, rel=1e-9)
    assert critical_sigma_w2("tanh", 0.05) > 1.5  # bias moves tanh's critical line to larger weights
    assert critical_sigma_w2("linear", 0.0) == pytest.approx(1.0, rel=1e-9)
    assert critical_sigma_w2("leaky_relu", 0.0) == pytest.approx(2 / (1 + 0.01 ** 2), rel=1e-9)
    assert fixed_point("relu", 2.0, 0.0)[1] == pytest.approx(1.0, abs=1e-12)
    q, chi = fixed_point("tanh", 1.0, 0.0)
    assert q == 0.0 and chi == pytest.approx(1.0, abs=1e-9)  # the tables' accuracy (1e-8 at worst)
    assert fixed_point("tanh", 0.5, 0.0) == (0.0, pytest.approx(0.5, abs=1e-9))
    q, chi = fixed_point("selu", 1.0, 0.0)  # self-normalising: q* = 1
    assert q == pytest.approx(1.0, rel=1e-9) and chi > 1
    assert fixed_point("relu", 3.0, 0.0)[0] == math.inf and fixed_point("relu", 1.0, 0.1)[0] == pytest.approx(0.2)
    assert fixed_point("relu", 2.0, 0.1)[0] == math.inf  # q grows by sigma_b^2 every layer


def test_phase_grid_and_phases():
    sw2, sb2 = np.array([0.5, 1.0, 2.0, 4.0]), np.array([0.0, 0.01, 0.1])
    chi = phase_grid("tanh", sw2[None, :], sb2[:, None])
    assert chi.shape == (3, 4)
    for i, b in enumerate(sb2):
        for j, w in enumerate(sw2):
            assert chi[i, j] == pytest.approx(fixed_point("tanh", w, b)[1], rel=1e-12)
    assert (np.diff(chi, axis=1) > 0).all()  # chi1 grows with the weight scale
    base = Config(depth=10, width=64)
    assert predict(base.replace(activation="relu", init="he_normal")).phase == "critical"
    assert predict(base.replace(activation="tanh", init="xavier_normal")).phase == "critical"
    p = predict(base.replace(activation="sigmoid", init="xavier_normal"))
    assert p.phase == "ordered" and 0 < p.depth_scale_grad < 1 and p.critical_sigma_w > 3
    p = predict(base.replace(activation="relu", init="normal", init_std=0.3))
    assert p.phase == "chaotic" and p.depth_scale_grad < 0 and p.chi1 == pytest.approx(64 * 0.09 / 2)
    assert predict(base.replace(activation="relu", init="he_normal")).depth_scale_grad == math.inf


@pytest.mark.parametrize("init", INITIALIZERS)
@pytest.mark.parametrize("fans", [(2, 128), (128, 128), (128, 3), (64, 256)])
def test_layer_sigma_w2_is_fan_in_times_the_initialisers_variance(init, fans):
    fi, fo = fans
    rng = np.random.default_rng(1)
    w = np.concatenate([INITIALIZERS[init].fn(rng, fi, fo, 0.07, 1.3).ravel() for _ in range(40)])
    assert fi * np.mean(w * w) == pytest.approx(layer_sigma_w2(init, fi, fo, 0.07, 1.3), rel=0.03)


def test_prediction_shape_first_layer_and_not_modelled():
    cfg = Config(activation="relu", init="xavier_normal", depth=6, width=64)
    p = predict(cfg)
    assert [lp.name for lp in p.layers] == ["h01", "h02", "h03", "h04", "h05", "h06", "out"]
    assert p.layers[-2].pred_delta_log10 == 0 and p.layers[-2].pred_grad_log10 == 0
    assert math.isnan(p.layers[-1].pred_delta_log10) and math.isnan(p.layers[-1].chi)
    # the first layer's sigma_w^2 is 4/(N+2), not 1: q_1 is tiny, and so is the weight gradient's input
    assert p.layers[0].q == pytest.approx(4 / 66, rel=0.1)
    # ReLU is homogeneous: dW_1 carries |x|^2 (2 coordinates, standardised) where dW_L carries |h_{L-1}|^2
    jump = 0.5 * math.log10(2 / (64 * p.layers[4].q / 2))
    assert p.layers[0].pred_grad_log10 - p.layers[0].pred_delta_log10 == pytest.approx(jump, abs=1e-6)
    assert p.modelled and p.sigma_w2 == pytest.approx(1.0)
    for flag in ("residual", "batchnorm"):
        q = predict(cfg.replace(**{flag: True}))
        assert not q.modelled and NOT_MODELLED in q.note
        assert all(math.isnan(lp.pred_delta_log10) for lp in q.layers)


# ------------------------------------------------------------------------ the validation
# normal std 1/16 (sigma_w^2 = 0.5 at width 128: ordered) and 0.18 (sigma_w^2 = 4.1: chaotic for ReLU)
VALIDATION_INITS = [("xavier_normal", 0.01), ("he_normal", 0.01), ("lecun_normal", 0.01), ("normal", 0.0625),
                    ("normal", 0.18)]
WIDE = Config(depth=20, width=128, eval_every=10 ** 6)


def _slopes(cfg):
    p = predict(cfg)
    meas_delta, _ = measure(cfg, 5)
    return slope([lp.pred_delta_log10 for lp in p.layers[:-1]]), slope(meas_delta[:-1])


@pytest.mark.parametrize("init,std", VALIDATION_INITS)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_predicted_delta_slope_matches_step0_measurement(act, init, std):
    pred, meas = _slopes(WIDE.replace(activation=act, init=init, init_std=std))
    assert math.isfinite(meas)
    assert abs(meas - pred) < 0.01, f"{act} {init}: predicted {pred:.4f}, measured {meas:.4f} decades/layer"


@pytest.mark.parametrize("act,init,extra", [
    ("tanh", "orthogonal", {}), ("relu", "he_uniform", {}), ("sigmoid", "xavier_uniform", {}),
    ("elu", "uniform", {"init_std": 0.12}), ("gelu", "orthogonal", {"init_gain": 1.6}),
    ("tanh", "xavier_normal", {"bias_std": 0.3}), ("relu", "he_normal", {"bias_std": 0.5}),
    ("selu", "lecun_normal", {"bias_std": 0.2}), ("relu", "he_normal", {"hidden": (128, 256, 64) * 7}),
])
def test_uniform_orthogonal_bias_and_uneven_widths_also_match(act, init, extra):
    pred, meas = _slopes(WIDE.replace(activation=act, init=init, **extra))
    assert abs(meas - pred) < 0.01, f"{act} {init} {extra}: predicted {pred:.4f}, measured {meas:.4f}"


def test_the_per_layer_ratios_match_too():
    """Not only the slope: each delta ratio of a transient (tanh at sigma_w = 1, q -> 0 like 1/l)."""
    cfg = WIDE.replace(activation="tanh", init="xavier_normal")
    p = predict(cfg)
    meas_delta, meas_grad = measure(cfg, 5)
    pred = np.array([lp.pred_delta_log10 for lp in p.layers[:-1]])
    np.testing.assert_allclose(meas_delta[:-1], pred, atol=0.05)
    assert pred[0] < -0.1  # the transient is visible: chi_l < 1 while q_l > 0


def test_correlation_depth_scale():
    from gradtui.theory import depth_scale_corr

    # ordered: c* = 1 and xi_c = xi_grad
    q, chi = fixed_point("tanh", 1.5, 0.05)
    assert chi < 1 and depth_scale_corr("tanh", 1.5, 0.05, q, chi) == pytest.approx(-1 / math.log(chi))
    # chaotic odd f without bias: c* = 0 and chi_c = sigma_w^2 E[f'(sqrt(q*) z)]^2 (independent inputs)
    q, chi = fixed_point("tanh", 2.0, 0.0)
    mean_slope = quad(lambda z: (1 - math.tanh(math.sqrt(q) * z) ** 2) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi),
                      -np.inf, np.inf, epsabs=0, epsrel=1e-12)[0]
    assert depth_scale_corr("tanh", 2.0, 0.0, q, chi) == pytest.approx(-1 / math.log(2.0 * mean_slope ** 2), rel=1e-6)
    # chaotic with bias: a positive, finite scale that shrinks deeper into chaos
    scales = [depth_scale_corr("tanh", w, 0.05, *fixed_point("tanh", w, 0.05)) for w in (2.0, 4.0, 8.0)]
    assert all(0 < a < math.inf for a in scales) and scales[0] > scales[1] > scales[2]
    q, chi = fixed_point("relu", 3.0, 0.0)  # q grows without bound: no exponential scale
    assert depth_scale_corr("relu", 3.0, 0.0, q, chi) == math.inf


@pytest.mark.parametrize("cfg", [
    Config(init="normal", init_std=100.0, depth=500, width=8192),  # q overflows float64 by layer ~40
    Config(activation="sigmoid", init="normal", init_std=1e-3, depth=500),  # 1e-1400 at the input
    Config(activation="tanh", bias_std=100.0, depth=50),
    Config(activation="gelu", init="orthogonal", init_gain=100.0, depth=1),
    Config(hidden=(1, 300, 1, 7), activation="selu", init="xavier_uniform"),
])
def test_extreme_configs_predict_quietly_in_log_space(cfg):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = predict(cfg)
    r = np.array([lp.pred_delta_log10 for lp in p.layers[:-1]])
    assert np.isfinite(r).all() and r[-1] == 0 and p.phase in ("ordered", "critical", "chaotic")
    assert len(p.layers) == len(cfg.hidden_sizes) + 1


def test_many_inputs_are_subsampled_evenly():
    from gradtui.theory import MAX_INPUTS

    rng = np.random.default_rng(0)
    x = rng.normal(size=(20 * MAX_INPUTS, 2)) * np.repeat([0.5, 2.0], 10 * MAX_INPUTS)[:, None]  # two scales
    cfg = Config(activation="tanh", init="xavier_normal", depth=12, width=64)
    full = np.array([lp.pred_delta_log10 for lp in predict(cfg, x[::10]).layers[:-1]])
    sub = np.array([lp.pred_delta_log10 for lp in predict(cfg, x).layers[:-1]])
    np.testing.assert_allclose(sub, full, atol=0.01)  # both scales are represented
