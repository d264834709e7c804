"""Per-layer histograms against NumPy on the same buffers, at ordinary and extreme scales."""

import numpy as np
import pytest

from gradtui import histograms as H
from gradtui import kernels as K
from gradtui.config import Config
from gradtui.trainer import Trainer


def _numpy_log_hist(x):
    x = np.abs(x.astype(np.float64))
    x = x[~np.isnan(x)]
    out = np.zeros(H.BINS + 2)
    with np.errstate(divide="ignore"):
        b = np.floor(np.log10(x) - H.LOG_LO)
    out[0] = np.sum((x == 0) | (b < 0))
    out[-1] = np.sum(np.isinf(x) | (b >= H.BINS))
    ok = (x > 0) & np.isfinite(x) & (b >= 0) & (b < H.BINS)
    np.add.at(out, 1 + b[ok].astype(int), 1)
    return out / max(1, out.sum())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
def test_histograms_match_numpy_on_the_last_steps_buffers(act, dtype):
    cfg = Config(depth=6, width=16, n_samples=256, batch_size=32, activation=act, dtype=dtype)
    tr = Trainer(cfg)
    tr.run_steps(3)
    m = tr.mlp
    h = H.measure(m, tr.step_count - 1)
    nb = m.batch
    for l in range(m.n_layers):
        fi, fo, p, u, _ = (int(v) for v in m.geo[l])
        np.testing.assert_allclose(h.grad[l], _numpy_log_hist(m.grad[p: p + fi * fo]), atol=1e-12)
        np.testing.assert_allclose(h.delta[l], _numpy_log_hist(m.work[K.W_D, nb * u: nb * (u + fo)]), atol=1e-12)
        a = m.work[K.W_A, nb * u: nb * (u + fo)].astype(np.float64)
        lo, hi = h.act_range[l]
        assert (lo, hi) == (a.min(), a.max())
        ref, _ = np.histogram(a, bins=H.BINS, range=(lo, hi))
        np.testing.assert_allclose(h.act[l], ref / a.size, atol=1e-12)


def test_extremes_zeros_subnormals_huge_inf_and_nan_land_in_the_end_bins():
    x = np.array([0.0, 5e-324, 1e-31, 1e-30, 3e-7, 1.0, 9.99e1, 1e2, 1e300, np.inf, -np.inf, np.nan])
    out = np.zeros(H.BINS + 2)
    K._hist_log(x, out)
    assert out[0] == 3  # 0, the subnormal, 1e-31
    assert out[1] == 1  # 1e-30: the first decade's lower edge
    assert out[1 + 23] == 1 and out[1 + 30] == 1 and out[1 + 31] == 1  # 3e-7, 1, 99.9
    assert out[-1] == 4  # 1e2 (the last edge), 1e300, inf, -inf; NaN is not counted
    assert out.sum() == x.size - 1


def test_sampling_is_bounded_and_deterministic():
    x = np.arange(1, 10 * K.HIST_SAMPLE + 1, dtype=np.float64)
    a, b = np.zeros(H.BINS + 2), np.zeros(H.BINS + 2)
    K._hist_log(x, a)
    K._hist_log(x, b)
    assert a.sum() <= K.HIST_SAMPLE and np.array_equal(a, b)


def test_bounded_activation_uses_the_given_range_and_a_dead_relu_layer_is_a_spike_at_zero():
    tr = Trainer(Config(depth=3, width=8, n_samples=128, batch_size=16, activation="tanh"))
    tr.run_steps(1)
    h = H.measure(tr.mlp, 0, act_bounds=(-1.0, 1.0))
    assert np.all(h.act_range[:-1] == (-1.0, 1.0)) and np.allclose(h.act[:-1].sum(1), 1.0)
    tr = Trainer(Config(depth=3, width=8, n_samples=128, batch_size=16, activation="relu"))
    fi, fo, p = (int(v) for v in tr.mlp.geo[0, :3])
    tr.mlp.theta[p: p + fi * fo] = 0.0
    tr.mlp.theta[p + fi * fo: p + fi * fo + fo] = -1.0  # z = -1 for every input: h01 is dead
    tr.run_steps(1)
    h = H.measure(tr.mlp, 0)
    assert h.act_range[0, 0] == h.act_range[0, 1] == 0.0 and h.act[0].sum() == pytest.approx(1.0)
    assert h.grad[0, 0] == pytest.approx(1.0)  # no gradient reaches a dead layer's weights


def test_the_trainer_measures_with_its_activations_bounds_and_the_runner_publishes_them():
    import threading

    from gradtui.drive import Runner

    tr = Trainer(Config(depth=3, width=8, n_samples=128, batch_size=16, activation="sigmoid"))
    assert tr.histograms() is None  # no step yet
    tr.run_steps(2)
    h = tr.histograms()
    assert h.step == 1 and np.all(h.act_range[:-1] == (0.0, 1.0))
    snaps = []
    done = threading.Event()

    def publish(snap):
        snaps.append(snap)
        if snap.hist is not None and snap.step >= 50:
            runner.stop()
            done.set()

    runner = Runner(tr, publish, max_steps=10**9)
    t = threading.Thread(target=runner.run)
    t.start()
    assert done.wait(120)
    t.join(60)
    last = snaps[-1]
    assert last.hist is not None and last.hist.step < last.step
    assert last.hist.grad.shape == (len(last.layer_names), H.BINS + 2)
