"""The trainer without any UI: reproducibility, commands, divergence, and the physics it shows."""

import numpy as np
import pytest

from gradtui.config import Config
from gradtui.stats import GLOBAL_COL, LAYER_COL
from gradtui.commands import Pause, Reinit, Reset, Resume, SetFields, Step
from gradtui.trainer import Trainer

SMALL = Config(depth=3, width=16, batch_size=32, n_samples=400, eval_every=25)


def run(cfg, chunks):
    tr = Trainer(cfg)
    for n in chunks:
        assert tr.run_steps(n) == n
    return tr


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_seeded_runs_are_bit_for_bit_reproducible_whatever_the_chunking(dtype):
    cfg = SMALL.replace(dtype=dtype, optimizer="adam", lr=0.01, batchnorm=True, residual=True, seed=7)
    a = run(cfg, [300])
    b = run(cfg, [1, 99, 57, 143])
    np.testing.assert_array_equal(a.mlp.theta, b.mlp.theta)
    for x, y in zip(a.ring.last(300), b.ring.last(300)):
        np.testing.assert_array_equal(x, y)


def test_different_seeds_differ():
    a = run(SMALL.replace(seed=1), [50])
    b = run(SMALL.replace(seed=2), [50])
    assert not np.array_equal(a.mlp.theta, b.mlp.theta)


def test_batches_cover_each_epoch_once():
    tr = Trainer(SMALL)
    n_train = len(tr.x)
    per_epoch = n_train // SMALL.batch_size
    idx = tr._batches(per_epoch)
    assert len(np.unique(idx)) == idx.size  # no repeats within an epoch


def test_commands_apply_at_the_next_step_and_are_recorded():
    tr = Trainer(SMALL.replace(activation="sigmoid", depth=6))
    tr.run_steps(10)
    assert tr.ring.last(1)[2][0, 0, LAYER_COL["saturated"]] >= 0
    tr.submit(SetFields.of(**{"activation": "relu"}))
    assert tr.cfg.activation == "sigmoid"  # nothing happens before the driving thread runs
    tr.run_chunk(max_steps=1)
    assert tr.cfg.activation == "relu"
    ev = tr.events[-1]
    assert ev.step == 10 and "activation=relu" in ev.text
    steps, _, layers = tr.ring.last(1)
    assert steps[0] == 10
    assert np.all(layers[0, :-1, LAYER_COL["saturated"]] == 0)  # relu never saturates
    assert np.any(layers[0, :-1, LAYER_COL["dead"]] >= 0)


def test_command_order_is_kept_and_nothing_is_lost():
    tr = Trainer(SMALL)
    names = ["tanh", "elu", "gelu", "sigmoid", "selu"]
    for a in names:
        tr.submit(SetFields.of(**{"activation": a}))
    tr.run_chunk(max_steps=1)
    assert [e.text for e in tr.events][-5:] == [f"activation={a}" for a in names]
    assert tr.cfg.activation == "selu"


def test_optimizer_switch_resets_state_and_reinit_changes_weights():
    tr = Trainer(SMALL.replace(optimizer="momentum"))
    tr.run_steps(20)
    assert np.any(tr.mlp.m1 != 0)
    tr.apply(SetFields.of(**{"optimizer": "adam"}))
    assert np.all(tr.mlp.m1 == 0) and tr.opt_t == 0
    assert "optimiser state reset" in tr.events[-1].text
    before = tr.mlp.theta.copy()
    tr.apply(Reinit("orthogonal"))
    assert tr.cfg.init == "orthogonal" and not np.array_equal(before, tr.mlp.theta)


def test_pause_and_single_step():
    tr = Trainer(SMALL)
    tr.submit(Pause())
    assert tr.run_chunk() == 0
    tr.submit(Step(1))
    assert tr.run_chunk() == 1
    assert tr.run_chunk() == 0
    tr.submit(Resume())
    tr.run_steps(5)
    assert tr.run_chunk() >= 1


def test_divergence_is_a_state_not_an_exception():
    tr = Trainer(SMALL.replace(lr=1e6, init="normal", init_std=3.0, activation="relu"))
    with np.errstate(all="ignore"):
        for _ in range(50):
            tr.run_chunk(max_steps=50)
    assert tr.status == "diverged"
    steps, glob, _ = tr.ring.last(1)
    assert glob[0, GLOBAL_COL["status"]] == 1
    assert tr.run_chunk() == 0  # stays paused
    assert "diverged" in tr.message
    tr.submit(Reset())
    tr.submit(SetFields.of(**{"lr": 0.01}))
    tr.run_chunk(max_steps=10)
    assert tr.status == "running" and tr.step_count == 10


def test_clipping_keeps_the_same_run_alive():
    base = SMALL.replace(depth=8, width=64, init="normal", init_std=0.5, activation="relu", lr=0.05)
    wild = run(base, [])
    clipped = run(base.replace(clip="global_norm", clip_value=1.0), [])
    with np.errstate(all="ignore"):
        for tr in (wild, clipped):
            for _ in range(10):
                tr.run_steps(100)
    assert wild.status == "diverged"
    assert clipped.status == "running" and clipped.step_count == 1000
    assert clipped.ring.last(1000)[1][:, GLOBAL_COL["clipped"]].any()


def grad_profile(cfg):
    tr = run(cfg, [1])
    return tr.ring.last(1)[2][0, :, LAYER_COL["grad_norm"]]


def test_deep_sigmoid_vanishes_and_relu_he_does_not():
    sig = grad_profile(Config(depth=20, width=32, activation="sigmoid", init="xavier_normal"))
    relu = grad_profile(Config(depth=20, width=32, activation="relu", init="he_normal"))
    assert sig[0] < 1e-3 * sig[-1]
    assert np.all(np.diff(np.log10(sig[:-1])) > 0)  # monotonically fading towards the input
    assert 0.1 < relu[1] / relu[-1] < 10
    assert relu[0] > 1e-3 * relu[-1]


def test_regression_task_trains():
    tr = run(SMALL.replace(dataset="regression", activation="tanh", init="xavier_normal", lr=0.05), [2000])
    _, glob, _ = tr.ring.last(100)
    assert np.all(np.isnan(glob[:, GLOBAL_COL["train_acc"]]))
    assert np.mean(glob[:, GLOBAL_COL["loss"]]) < 0.3  # targets are standardised: 1.0 = predicting the mean


def test_test_accuracy_every_k_steps_and_snapshot_is_immutable():
    tr = run(SMALL, [100])
    snap = tr.snapshot(window=100)
    ta = snap.global_series("test_acc")
    assert np.flatnonzero(np.isfinite(ta)).tolist() == [24, 49, 74, 99]
    with pytest.raises(ValueError):
        snap.layers[0, 0, 0] = 1.0
    b = tr.boundary(cols=20, rows=10)
    assert b.values.shape == (10, 20) and set(np.unique(b.values)) <= set(range(3))


@pytest.mark.parametrize("opt,dtype", [("adam", "float64"), ("sgd", "float64"), ("sgd", "float32")])
def test_statistics_switch_changes_no_numerics(opt, dtype):
    from gradtui import kernels as K

    cfg = SMALL.replace(batchnorm=True, residual=True, optimizer=opt, lr=0.01, clip="global_norm",
                        clip_value=0.5, dtype=dtype)
    on, off = Trainer(cfg), Trainer(cfg)
    off.icfg[K.I_STATS] = 0
    on.run_steps(50)
    off.run_steps(50)
    np.testing.assert_array_equal(on.mlp.theta, off.mlp.theta)
    np.testing.assert_array_equal(on.ring.glob[:50], off.ring.glob[:50])  # loss, norm, clipping, ...
    assert on.ring.glob[:50, GLOBAL_COL["clipped"]].any()
    assert np.isfinite(on.ring.layers[:50]).all()
    assert np.isnan(off.ring.layers[:50, :, LAYER_COL["grad_norm"]]).all()


def test_runner_publishes_compiles_first_and_stops_promptly():
    import threading
    import time

    from gradtui.drive import Runner

    snaps = []
    tr = Trainer(SMALL)
    runner = Runner(tr, snaps.append, hz=20)
    th = threading.Thread(target=runner.run)
    th.start()
    def wait_for(cond, what, timeout=60.0):  # a hang bound, not a speed target
        deadline = time.time() + timeout
        while not cond():
            assert time.time() < deadline, f"timed out waiting for {what}"
            time.sleep(0.01)

    wait_for(lambda: any(s.status == "running" and s.step > 0 for s in snaps), "running")
    tr.submit(Pause())
    wait_for(lambda: snaps[-1].status == "paused", "paused")
    n_paused = len(snaps)
    paused_at = tr.step_count
    time.sleep(0.5)
    assert tr.step_count == paused_at  # paused means paused
    assert len(snaps) - n_paused <= 15  # 20 Hz at most while idle (10 in 0.5 s), no busy polling
    tr.submit(SetFields.of(**{"activation": "tanh"}))
    wait_for(lambda: snaps[-1].config.activation == "tanh", "the change published while paused")
    runner.stop()
    th.join(30)  # a hang, not a speed target
    assert not th.is_alive()
    assert snaps[0].status == "compiling"
    assert any(s.status == "running" and s.step > 0 for s in snaps)
    assert snaps[-1].boundary is not None


def test_snapshot_keeps_the_last_finite_values_after_divergence():
    tr = Trainer(SMALL.replace(lr=1e6, init="normal", init_std=3.0, activation="relu"))
    assert np.isnan(tr.snapshot().latest_finite_layers("grad_norm")).all()  # no step yet
    with np.errstate(all="ignore"):
        while not tr.diverged and tr.step_count < 500:
            tr.run_steps(5)
    snap = tr.snapshot()
    raw = snap.latest_layers("grad_norm")
    kept = snap.latest_finite_layers("grad_norm")
    assert snap.status == "diverged" and not np.isfinite(raw).all()
    assert np.isfinite(kept).all()
    series = snap.layer_series("grad_norm")
    for layer in range(snap.n_layers):  # each layer's own newest finite value
        col = series[:, layer]
        assert kept[layer] == col[np.isfinite(col)][-1]


def test_a_snapshot_holds_each_statistic_in_one_block_and_its_values_read_only():
    """The UI reads one statistic's history per view: it is one contiguous block of the snapshot
    (not every 9th number of the whole window), with the values the ring holds."""
    tr = Trainer(SMALL)
    tr.run_steps(40)
    snap = tr.snapshot()
    _, _, rows = tr.ring.last(40)
    for name, col in LAYER_COL.items():
        series = snap.layer_series(name)
        assert series.flags.c_contiguous and series.shape == (40, snap.n_layers)
        np.testing.assert_array_equal(series, rows[:, :, col])
        np.testing.assert_array_equal(series, tr.ring.layers[tr.ring._rows(40)][:, :, col])
    kept = snap.latest_finite_layers("grad_norm")
    assert kept is snap.latest_finite_layers("grad_norm") and not kept.flags.writeable  # once, shared
    with pytest.raises(ValueError):
        kept[0] = 0.0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("clip", ["none", "global_norm", "value", "layer_norm"])
def test_sgd_update_statistics_match_the_change_of_the_weights(dtype, clip):
    """Plain SGD's |W| and |dW|/|W| come from backward's sums (and the clipping factor) rather
    than from a pass over the update: they must still describe the step that was taken."""
    tr = Trainer(SMALL.replace(optimizer="sgd", lr=0.1, dtype=dtype, clip=clip, clip_value=0.05))
    tr.run_steps(5)
    before = [tr.mlp.weight(l).astype(np.float64) for l in range(tr.mlp.n_layers)]
    tr.run_steps(1)
    layers = tr.ring.last(1)[2][0]
    if clip != "none":
        assert tr.ring.last(1)[1][0, GLOBAL_COL["clipped"]] == 1
    rtol = 1e-9 if dtype == "float64" else 2e-2  # float32: W1 - W0 loses digits to rounding
    for l, w0 in enumerate(before):
        w1 = tr.mlp.weight(l).astype(np.float64)
        assert layers[l, LAYER_COL["weight_norm"]] == pytest.approx(np.linalg.norm(w0), rel=1e-6)
        ratio = np.linalg.norm(w1 - w0) / np.linalg.norm(w0)
        assert layers[l, LAYER_COL["update_ratio"]] == pytest.approx(ratio, rel=rtol)
