"""The Numba trainer (float64) against the plain NumPy reference: loss, every statistic, theta."""

import itertools

import numpy as np
import pytest

from gradtui.activations import ACTIVATIONS
from gradtui.config import Config
from gradtui.mlp import pack_config
from gradtui.optimizers import CLIPPING, OPTIMIZERS
from gradtui.reference import ReferenceNet, activation
from gradtui.reference_compare import compare_with_trainer, peek_batches
from gradtui.stats import LAYER_COL
from gradtui.trainer import Trainer

# equal and unequal widths, so residual layers and plain ones both occur
BASE = Config(hidden=(8, 8, 6, 6), batch_size=16, n_samples=200, eval_every=1000, seed=3, lr=0.05,
              init="xavier_normal")


def agree(tr, *steps):
    problems = []
    for n in steps:
        problems += compare_with_trainer(tr, n)
    assert not problems, "\n".join(problems[:5])


@pytest.mark.parametrize("act,residual,batchnorm",
                         list(itertools.product(ACTIVATIONS, [False, True], [False, True])))
def test_network_variants_match_reference(act, residual, batchnorm):
    tr = Trainer(BASE.replace(activation=act, residual=residual, batchnorm=batchnorm))
    agree(tr, 1, 6)  # one step, then several more in one kernel call


@pytest.mark.parametrize("opt,clip", list(itertools.product(OPTIMIZERS, CLIPPING)))
def test_optimisers_and_clipping_match_reference(opt, clip):
    cfg = BASE.replace(activation="tanh", optimizer=opt, clip=clip, clip_value=0.05, lr=0.01,
                       l1=1e-3, l2=1e-2, weight_decay=0.1)
    tr = Trainer(cfg)
    agree(tr, 1, 6)
    clipped = tr.ring.last(7)[1][:, 6]
    assert (clipped == 1).all() if clip != "none" else (clipped == 0).all()


@pytest.mark.parametrize("act", ["relu", "sigmoid", "selu"])
def test_regression_with_penalties_matches_reference(act):
    cfg = BASE.replace(dataset="regression", activation=act, l1=1e-3, l2=1e-3, optimizer="adam", lr=0.01)
    agree(Trainer(cfg), 1, 6)
    # with batch norm the bias before it has a zero gradient up to rounding, which Adam's g/sqrt(v)
    # would blow up to O(lr): compare batch norm under momentum instead
    agree(Trainer(cfg.replace(batchnorm=True, optimizer="momentum")), 1, 6)


def test_schedule_and_deep_sigmoid_statistics_match_reference():
    cfg = BASE.replace(hidden=(), depth=12, width=16, activation="sigmoid", init="normal", init_std=1.5,
                       schedule="cosine", schedule_steps=20, optimizer="momentum")
    tr = Trainer(cfg)
    agree(tr, 1, 10)
    layers = tr.ring.last(1)[2][0]
    assert layers[:-1, LAYER_COL["saturated"]].max() > 0  # the statistic is exercised, not all zero
    assert layers[0, LAYER_COL["grad_norm"]] < layers[-2, LAYER_COL["grad_norm"]]


def test_dead_units_match_reference():
    cfg = BASE.replace(activation="relu", init="normal", init_std=2.0, hidden=(16, 16, 16))
    tr = Trainer(cfg)
    agree(tr, 3)
    assert tr.ring.last(1)[2][0, :-1, LAYER_COL["dead"]].max() > 0


def test_peek_batches_does_not_consume():
    tr = Trainer(BASE)
    a = peek_batches(tr, 30)
    b = peek_batches(tr, 30)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, tr._batches(30))


def test_corrupted_gradient_is_caught():
    """A 1e-4 error in the gradient (as a broken kernel would make) must fail the comparison."""
    tr = Trainer(BASE.replace(activation="tanh"))
    net = ReferenceNet.from_trainer(tr)

    def corrupt(g):
        g[5] += 1e-4

    net.grad_hook = corrupt
    assert compare_with_trainer(tr, 1, net=net)


def test_corrupted_activation_derivative_is_caught():
    tr = Trainer(BASE.replace(activation="gelu"))
    net = ReferenceNet.from_trainer(tr)
    net.f = lambda name, y: (activation(name, y)[0], activation(name, y)[1] * (1 + 1e-6))
    assert compare_with_trainer(tr, 2, net=net)


def test_float32_trainer_is_close_to_reference():
    tr = Trainer(BASE.replace(dtype="float32", activation="sigmoid", optimizer="adam", lr=0.01))
    problems = compare_with_trainer(tr, 10, rtol=1e-3, atol=1e-5)
    assert not problems, problems[:3]


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "elu"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_activation_statistics_over_many_row_blocks(act, dtype):
    """The layer sweep works in row blocks: columns dead in every block, dead in the first block
    only, and saturated columns must all come out as NumPy counts them."""
    from gradtui import kernels as K

    rng = np.random.default_rng(5)
    nb, fo = 700, 24  # 4096 // 24 = 170 rows per block: 5 blocks, the last one partial
    z = rng.normal(0, 3, (nb, fo)).astype(dtype)
    z[:, 0] = -800  # dead (ReLU, ELU) or saturated (sigmoid, tanh) on the whole batch
    z[:, 1] = np.abs(z[:, 1]) + 0.1
    z[:170, 2] = -800  # dead in the first block only: not a dead unit
    z[-3:, 3] = -800
    zero_b = np.zeros(fo, dtype)
    af = z.ravel().copy()
    df = np.empty_like(af)
    lstats = np.zeros((1, K.N_LSTATS))
    scratch = np.zeros(K.scratch_shape(nb, (2, fo)))
    icfg, fcfg = pack_config(Config(activation=act), "classify")
    K._act_layer(af, df, zero_b, af.reshape(nb, fo), icfg, fcfg, True, False, scratch, lstats[0])
    a, d = af.reshape(nb, fo).astype(np.float64), df.reshape(nb, fo).astype(np.float64)
    tol = 1e-12  # both dtypes: the statistics are summed in float64
    np.testing.assert_allclose(lstats[0, K.L_ACT_MEAN], a.mean(), rtol=tol)
    np.testing.assert_allclose(lstats[0, K.L_ACT_STD], a.std(), rtol=tol * 100)
    spec = ACTIVATIONS[act]
    sat = np.mean(np.abs(d) < 0.01 * spec.max_slope) if spec.saturating else 0.0
    assert lstats[0, K.L_SATURATED] == pytest.approx(sat, abs=1e-12)
    assert lstats[0, K.L_DEAD] == pytest.approx(np.mean(np.all(d == 0, axis=0)), abs=1e-12)
    if act == "relu":
        assert lstats[0, K.L_DEAD] == pytest.approx(1 / fo)  # column 0 only
