"""The registries carry behaviour: activation f / f' (NumPy), an initialiser's weight variance, a
data set's class count and the one train/test split rule."""

import numpy as np
import pytest

from gradtui.activations import ACTIVATIONS
from gradtui.config import Config
from gradtui.data import DATASETS, make_dataset, n_train
from gradtui.initializers import INITIALIZERS
from gradtui.presets import PresetError, check_config


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_max_slope_is_the_largest_slope_of_the_numpy_derivative(name):
    spec = ACTIVATIONS[name]
    z = np.linspace(-8, 8, 200_001)
    d = spec.df(z)
    assert np.max(np.abs(d)) <= spec.max_slope * (1 + 1e-4)
    assert np.max(np.abs(d)) >= spec.max_slope * (1 - 1e-3)  # attained: "saturated" is relative to it


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_numpy_derivative_is_the_slope_of_f(name):
    spec = ACTIVATIONS[name]
    z = np.concatenate([np.linspace(-6, -1e-3, 500), np.linspace(1e-3, 6, 500)])  # off the kinks
    h = 1e-6
    fd = (spec.f(z + h) - spec.f(z - h)) / (2 * h)
    np.testing.assert_allclose(spec.df(z), fd, rtol=1e-6, atol=1e-9)


def test_f_keeps_the_dtype_and_works_on_python_scalars():
    spec = ACTIVATIONS["sigmoid"]
    assert spec.f(np.zeros(3, np.float32)).dtype == np.float32
    assert spec.df(0) == 0.25 and spec.f(0) == 0.5


# fans chosen unequal both ways, so that fan_in, fan_out and their sum give different answers
@pytest.mark.parametrize("fans", [(600, 150), (150, 600)])
@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_initializer_variance_matches_large_draws(name, fans):
    fi, fo = fans
    std, gain = 0.3, 1.7
    spec = INITIALIZERS[name]
    w = spec.fn(np.random.default_rng(1), fi, fo, std, gain)
    want = spec.variance(fi, fo, std, gain)
    n = w.size
    assert np.mean(w * w) == pytest.approx(want, rel=6 * np.sqrt(2 / n))  # 6 standard errors
    assert abs(np.mean(w)) < 6 * np.sqrt(want / n)


def test_variances_differ_where_the_schemes_do():
    v = {k: s.variance(600, 150, 0.3, 1.0) for k, s in INITIALIZERS.items()}
    assert v["normal"] == v["uniform"] == pytest.approx(0.09)
    assert v["xavier_normal"] == v["xavier_uniform"] == pytest.approx(2 / 750)
    assert v["he_normal"] == v["he_uniform"] == pytest.approx(2 / 600)
    assert v["lecun_normal"] == pytest.approx(1 / 600)
    assert v["orthogonal"] == pytest.approx(1 / 600)
    assert INITIALIZERS["orthogonal"].variance(150, 600, 0.3, 2.0) == pytest.approx(4 / 600)


@pytest.mark.parametrize("name", list(DATASETS))
@pytest.mark.parametrize("k", [2, 5])
def test_dataset_entry_knows_its_classes_and_outputs(name, k):
    spec = DATASETS[name]
    d = make_dataset(name, 400, 0.1, k, 0.25, seed=4)
    assert d.task == spec.task and d.n_out == spec.n_out(k)
    if spec.task == "classify":
        assert set(np.unique(d.labels_train)) == set(range(spec.n_classes(k)))
        assert spec.n_classes(k) == (k if spec.classes is None else spec.classes)
    else:
        assert spec.n_classes(k) == 0 and d.n_out == 1


@pytest.mark.parametrize("n,fraction", [(8, 0.9), (8, 1e-9), (10, 0.05), (10, 0.15), (1000, 0.2), (999, 0.5)])
def test_one_split_rule_for_the_data_and_the_validation(n, fraction):
    nt = n_train(n, fraction)
    assert 1 <= n - nt and nt == n - max(1, round(n * fraction))  # at least one test point
    d = make_dataset("circles", n, 0.1, 2, fraction, seed=0)
    assert len(d.x_train) == nt and len(d.x_test) == n - nt
    cfg = Config(n_samples=n, test_fraction=fraction)
    check_config(cfg.replace(batch_size=nt), "t")  # fits exactly
    with pytest.raises(PresetError, match=f"{nt} training points"):
        check_config(cfg.replace(batch_size=nt + 1), "t")
