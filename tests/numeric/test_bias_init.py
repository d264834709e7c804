"""``bias_std``: biases ~ N(0, bias_std^2) at init and re-init; 0 leaves seeded runs bit-identical."""

import numpy as np
import pytest

from gradtui.config import Config
from gradtui.commands import SetFields
from gradtui.reference import init_theta, unpack
from gradtui.reference_compare import compare_with_trainer
from gradtui.trainer import Trainer

SMALL = Config(hidden=(16, 16, 8), batch_size=16, n_samples=200, eval_every=1000, seed=5,
               activation="tanh", init="xavier_normal")


def test_zero_bias_std_draws_nothing_and_matches_the_old_stream():
    tr = Trainer(SMALL)
    # the weights of a bias-free init come from the same stream as before the field existed
    old = init_theta(tr.mlp.sizes, SMALL, np.random.default_rng([SMALL.seed, 1]))
    np.testing.assert_array_equal(tr.mlp.theta, old)
    assert all(not layer.b.any() for layer in unpack(tr.mlp.theta, tr.mlp.sizes))
    # and the generator is where the weights alone leave it (no extra draws)
    rng = np.random.default_rng([SMALL.seed, 1])
    init_theta(tr.mlp.sizes, SMALL, rng)
    assert rng.bit_generator.state == tr.init_rng.bit_generator.state


@pytest.mark.parametrize("bias_std", [0.05, 1.0, 7.0])
def test_biases_follow_bias_std_and_the_reference_init(bias_std):
    cfg = SMALL.replace(hidden=(256, 256), bias_std=bias_std, batchnorm=True)
    tr = Trainer(cfg)
    np.testing.assert_array_equal(tr.mlp.theta, init_theta(tr.mlp.sizes, cfg, np.random.default_rng([cfg.seed, 1])))
    layers = unpack(tr.mlp.theta, tr.mlp.sizes)
    b = np.concatenate([layer.b for layer in layers[:-1]])
    assert abs(b.std() / bias_std - 1) < 0.1 and abs(b.mean()) < 0.2 * bias_std
    assert all((layer.gamma == 1).all() and (layer.beta == 0).all() for layer in layers[:-1])
    w0 = layers[0].W.copy()
    np.testing.assert_array_equal(w0, Trainer(cfg.replace(bias_std=0.0)).mlp.weight(0))  # W first, then b


def test_setting_bias_std_reinitialises_and_the_step_matches_the_reference():
    tr = Trainer(SMALL)
    tr.run_steps(3)
    tr.apply(SetFields.of(bias_std=0.5))
    b = unpack(tr.mlp.theta, tr.mlp.sizes)[0].b
    assert b.std() > 0.2
    problems = compare_with_trainer(tr, 5)  # the biased network trains as the reference says
    assert not problems, "\n".join(problems[:5])
