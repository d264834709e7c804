"""The kernels' interface: a registry entry is the one place a name maps to a kernel branch, an
unknown id is an error (never some other branch), and the saturation rule comes from the
activation's entry, not from ids written into the kernels."""

import numpy as np
import pytest

from gradtui import kernels as K
from gradtui.activations import ACTIVATIONS, slope_threshold
from gradtui.config import Config
from gradtui.mlp import pack_config
from gradtui.optimizers import CLIPPING, OPTIMIZERS
from gradtui.trainer import Trainer

SMALL = Config(depth=2, width=4, n_samples=32, batch_size=8, eval_every=1)


@pytest.mark.parametrize("table, prefix, count", [(ACTIVATIONS, "A_", K.N_ACT), (OPTIMIZERS, "OPT_", K.N_OPT),
                                                  (CLIPPING, "CLIP_", K.N_CLIP)])
def test_every_kernel_branch_has_exactly_one_registry_name(table, prefix, count):
    ids = [e.id for e in table.values()]
    assert sorted(ids) == list(range(count))  # one name per branch, no branch without a name
    named = {v for k, v in vars(K).items() if k.startswith(prefix) and isinstance(v, int)}
    assert set(ids) == named


@pytest.mark.parametrize("slot, bad", [(K.I_ACT, K.N_ACT), (K.I_ACT, -1), (K.I_OPT, K.N_OPT),
                                       (K.I_CLIP, K.N_CLIP), (K.I_TASK, 7)])
def test_an_unknown_id_is_an_error_in_every_entry_point(slot, bad):
    tr = Trainer(SMALL)
    tr.icfg[slot] = bad
    before = tr.mlp.theta.copy()
    with pytest.raises(ValueError, match="unknown"):
        tr.run_steps(1)
    with pytest.raises(ValueError, match="unknown"):
        tr.mlp.predict(tr.xte, tr.icfg, tr.fcfg)
    with pytest.raises(ValueError, match="unknown"):
        tr.mlp.loss_grad(tr.x[:8], tr.t[:8], tr.icfg, tr.fcfg)
    np.testing.assert_array_equal(tr.mlp.theta, before)  # refused before anything was computed


def _layer_stats(icfg, fcfg, z):
    nb, fo = z.shape
    af, df = z.ravel().copy(), np.empty(z.size)
    lrow = np.zeros(K.N_LSTATS)
    K._act_layer(af, df, np.zeros(fo), z, icfg, fcfg, True, False, np.zeros(K.scratch_shape(nb, (2, fo))), lrow)
    return lrow, df.reshape(nb, fo)


def test_the_saturation_rule_is_read_from_the_registry_entry():
    z = np.random.default_rng(0).normal(0, 2, (64, 16))
    icfg, fcfg = pack_config(Config(activation="relu"), "classify")
    lrow, d = _layer_stats(icfg, fcfg, z)
    assert lrow[K.L_SATURATED] == 0.0  # ReLU does not saturate: 0, by its entry
    # the same branch with the flag and a threshold given as data counts the slopes below it
    icfg[K.I_SATURATING], fcfg[K.F_SLOPE_THR] = 1, 0.5
    lrow, d = _layer_stats(icfg, fcfg, z)
    assert lrow[K.L_SATURATED] == pytest.approx(np.mean(np.abs(d) < 0.5)) and 0.3 < lrow[K.L_SATURATED] < 0.7
    # and tanh's entry: 1% of its max slope
    icfg, fcfg = pack_config(Config(activation="tanh"), "classify")
    lrow, d = _layer_stats(icfg, fcfg, z)
    assert lrow[K.L_SATURATED] == pytest.approx(np.mean(np.abs(d) < 0.01 * ACTIVATIONS["tanh"].max_slope))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_pack_config_takes_the_threshold_and_flag_from_the_entry(name):
    icfg, fcfg = pack_config(Config(activation=name), "classify")
    entry = ACTIVATIONS[name]
    assert icfg[K.I_ACT] == entry.id and icfg[K.I_SATURATING] == int(entry.saturating)
    assert fcfg[K.F_SLOPE_THR] == slope_threshold(entry)
