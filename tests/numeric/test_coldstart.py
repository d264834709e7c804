"""The first minute: training on the NumPy reference while the kernels compile, the switch to them
(every piece of state carried over, recorded, replayed bit for bit), a warm start with no compile
status, a child compile that fails, and a really cold cache in a fresh process."""

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from gradtui import drive
from gradtui import kernels as K
from gradtui.commands import Backend, SetFields
from gradtui.config import Config
from gradtui.session import Recorder, load_session, replay
from gradtui.trainer import Trainer
from gradtui.warmup import Compiler

CFG = Config(depth=4, width=12, batch_size=16, n_samples=300, eval_every=7, activation="tanh",
             init="xavier_normal", lr=0.05, seed=5)


def wait_for(cond, what, timeout=120.0):  # a hang bound, not a speed target
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def state(tr):
    m = tr.mlp
    return dict(theta=m.theta.copy(), m1=m.m1.copy(), m2=m.m2.copy(), bnrun=m.bnrun.copy(),
                ring_step=tr.ring.step.copy(), glob=tr.ring.glob.copy(), layers=tr.ring.layers.copy())


def same_bits(a, b):
    return all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


# ------------------------------------------------------------------------------ the switch
@pytest.mark.parametrize("cfg", [CFG.replace(batchnorm=True, optimizer="momentum"),
                                 CFG.replace(optimizer="adam", lr=0.01, l2=1e-3, residual=True),
                                 CFG.replace(dataset="regression", optimizer="rmsprop", lr=0.01)],
                         ids=["bn-momentum", "adam-resid", "regression"])
def test_switching_at_step_k_carries_every_piece_of_state(cfg):
    """NumPy for k steps then the kernels = the kernels all along, to 1e-10: theta, the optimiser
    moments and step count, the running batch-norm statistics, every ring row (test evaluations
    included), and the batch RNG (which batches come next)."""
    ref = Trainer(cfg)
    drive.run(ref, 60)
    tr = Trainer(cfg)
    drive.run(tr, 60, schedule=[(0, Backend("numpy")), (23, Backend("kernels"))])
    assert tr.backend == "kernels" and [e.text for e in tr.events] == [
        "training on the NumPy reference while the fast kernels compile", "fast kernels ready"]
    assert [e.step for e in tr.events] == [0, 23]
    assert (tr.step_count, tr.total_steps, tr.opt_t) == (ref.step_count, ref.total_steps, ref.opt_t)
    assert tr.batch_rng.bit_generator.state == ref.batch_rng.bit_generator.state
    assert tr._perm_pos == ref._perm_pos and np.array_equal(tr._perm, ref._perm)
    a, b = state(tr), state(ref)
    assert np.array_equal(a["ring_step"], b["ring_step"])
    for k in ("theta", "m1", "m2", "bnrun", "glob", "layers"):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-10, atol=1e-13, equal_nan=True, err_msg=k)
    glob = tr.ring.last(60)[1]
    assert np.isfinite(glob[6::7, 3]).all() and np.isnan(glob[0:6, 3]).all()  # test loss every 7 steps
    assert not same_bits(a, b)  # (the backends differ in the last bits: what a session must record)


def test_numpy_phase_calls_no_kernel(monkeypatch, quiet):
    """No njit function runs while the trainer is on NumPy (numba's compile lock would block):
    training, evaluation, the decision boundary, histograms, a snapshot, a rebuild, a divergence."""
    tr = Trainer(CFG.replace(eval_every=3))
    tr.apply(Backend("numpy"))

    def forbidden(*a, **k):
        raise AssertionError("a kernel was called during the NumPy phase")

    for name in ("train_chunk", "predict", "evaluate", "histograms", "loss_grad", "forward_train"):
        monkeypatch.setattr(K, name, forbidden)
    drive.run(tr, 40, chunk=9)
    assert tr.step_count == 40 and np.isfinite(tr.ring.last(40)[1][:, 3]).any()
    assert tr.boundary().values.shape == (24, 48) and tr.histograms() is None
    tr.apply(SetFields.of(depth=3, batchnorm=True, dataset="regression"))  # a rebuild keeps the backend
    drive.run(tr, 60)
    assert tr.backend == "numpy" and tr.step_count == 20 and tr.boundary() is not None
    tr.apply(SetFields.of(lr=1e9, init="normal", init_std=30.0, activation="relu"))
    drive.run(tr, 200)
    assert tr.diverged and tr.snapshot().status == "diverged"
    row = tr.ring.last(1)
    assert row[1][0, K.S_STATUS] == K.STATUS_DIVERGED and np.isnan(row[2][0, :, K.L_UPDATE_RATIO]).all()


def test_numpy_boundary_and_evaluation_agree_with_the_kernels():
    tr = Trainer(CFG.replace(batchnorm=True, residual=True, optimizer="momentum", eval_every=1))
    drive.run(tr, 30)
    kern = tr.boundary()
    tr.apply(Backend("numpy"))
    nump = tr.boundary()
    assert (nump.values != kern.values).mean() < 0.01  # class labels: ties at a boundary may flip
    drive.run(tr, 31)
    tl_np = tr.ring.last(1)[1][0, [K.S_TEST_LOSS, K.S_TEST_ACC]]
    tr.apply(Backend("kernels"))
    drive.run(tr, 32)
    tr2 = Trainer(tr.cfg)
    drive.run(tr2, 31)
    np.testing.assert_allclose(tl_np, tr2.ring.last(1)[1][0, [K.S_TEST_LOSS, K.S_TEST_ACC]], rtol=1e-9)


# ------------------------------------------------------------------------------ the runner
class FakeCompiler:
    """A background compile the test finishes when it likes."""

    def __init__(self, dtype, error=None):
        self.dtype = dtype
        self.ready = threading.Event()
        self.error, self.seconds, self.fallback, self.elapsed = error, 1.0, "", 1.0
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class Cold(Trainer):
    def kernels_cached(self) -> bool:  # as on an empty numba cache (the kernels are loaded anyway)
        return False


def run_runner(tr, compiler):
    got = []
    runner = drive.Runner(tr, got.append, hz=50, fast_start=True, compiler=lambda dt: compiler)
    th = threading.Thread(target=runner.run, daemon=True)
    th.start()
    return runner, th, got


def test_recorded_switch_replays_bit_for_bit(tmp_path):
    """The runner starts on NumPy, switches when the compile is done (at whatever step that is),
    and the session file makes a headless replay take the same path: same bits."""
    path = tmp_path / "s.jsonl"
    tr = Cold(CFG)
    rec = Recorder(path, tr)
    comp = FakeCompiler("float64")
    runner, th, got = run_runner(tr, comp)
    try:
        wait_for(lambda: tr.total_steps >= 150, "numpy steps")
        tr.submit(SetFields.of(lr=0.02))
        wait_for(lambda: tr.total_steps >= 300, "more numpy steps")
        comp.ready.set()
        wait_for(lambda: got and got[-1].backend == "kernels" and got[-1].total_steps > tr.events[-1].step + 500,
                 "kernel steps")
    finally:
        runner.stop()
        th.join(30)
    rec.close()
    assert not th.is_alive()
    switch = tr.events[-1].step
    assert tr.events[-1].text.startswith("fast kernels ready") and switch >= 300
    assert all(s.status != "compiling" for s in got)
    assert any(s.backend == "numpy" and s.total_steps > 0 and "compiling" in s.message for s in got)
    assert "fast kernels ready (compiled in 1 s)" in got[-1].message
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert {"at": 0, "kind": "backend", "value": "numpy"} in lines
    assert {"at": switch, "kind": "backend", "value": "kernels"} in lines
    live = state(tr)
    session = load_session(path)
    again = replay(session, Trainer(session.config))
    assert again.total_steps == tr.total_steps and same_bits(state(again), live)
    # without the recorded switch (an old gradtui's file) the bits differ: the command is what makes it exact
    plain = session.__class__(session.config, tuple(c for c in session.commands if c[1].kind != "backend"),
                              session.end)
    assert not same_bits(state(replay(plain, Trainer(session.config))), live)


def test_replay_export_is_identical_byte_for_byte(tmp_path):
    """Also on another BLAS thread count: the NumPy phase must not depend on how a threaded BLAS
    splits a sum (~20k parameters: OpenBLAS threads a dot product that long)."""
    path = tmp_path / "s.jsonl"
    tr = Trainer(CFG.replace(depth=10, width=48))
    rec = Recorder(path, tr)
    drive.run(tr, 400, schedule=[(0, Backend("numpy")), (57, SetFields.of(lr=0.1)), (211, Backend("kernels"))],
              chunk=13)
    rec.close()
    outs = []
    for k in range(2):
        out = tmp_path / f"r{k}.jsonl"
        p = subprocess.run([sys.executable, "-m", "gradtui", "--replay", str(path), "--headless", "--export",
                            str(out)], capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, OPENBLAS_NUM_THREADS=str(k + 1)))
        assert p.returncode == 0, p.stderr[-2000:]
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and b"fast kernels ready" in outs[0]
    rows = [json.loads(x) for x in outs[0].splitlines()]
    assert len(rows) == 400 and rows[-1]["loss"] == tr.ring.last(1)[1][0, K.S_LOSS]


def test_warm_start_loads_the_kernels_without_a_compiling_status():
    tr = Trainer(CFG)
    got = []
    runner = drive.Runner(tr, got.append, hz=50, fast_start=True,
                          compiler=lambda dt: pytest.fail("a warm start started a compile"))
    th = threading.Thread(target=runner.run, daemon=True)
    th.start()
    try:
        wait_for(lambda: got and got[-1].total_steps > 100, "steps")
    finally:
        runner.stop()
        th.join(30)
    assert all(s.status != "compiling" and s.backend == "kernels" for s in got)
    assert not tr.events and tr.compile_s is not None


def test_a_failed_compile_keeps_training_on_numpy_and_says_so():
    tr = Cold(CFG)
    comp = FakeCompiler("float64", error=RuntimeError("no locator available"))
    runner, th, got = run_runner(tr, comp)
    try:
        wait_for(lambda: tr.total_steps > 20, "numpy steps")
        comp.ready.set()
        wait_for(lambda: got and "failed" in got[-1].message, "the failure shown")
        n = tr.total_steps
        wait_for(lambda: tr.total_steps > n + 20, "training goes on")
    finally:
        runner.stop()
        th.join(30)
    assert tr.backend == "numpy" and "no locator available" in got[-1].message and not th.is_alive()


def test_a_dtype_change_meanwhile_compiles_that_dtype_before_switching():
    tr = Cold(CFG)
    made = []

    def make(dtype):
        made.append(FakeCompiler(dtype))
        return made[-1]

    got = []
    runner = drive.Runner(tr, got.append, hz=50, fast_start=True, compiler=make)
    th = threading.Thread(target=runner.run, daemon=True)
    th.start()
    try:
        wait_for(lambda: tr.total_steps > 10, "numpy steps")
        tr.submit(SetFields.of(dtype="float32"))
        wait_for(lambda: got and got[-1].config.dtype == "float32" and got[-1].total_steps > 20, "float32 steps")
        made[0].ready.set()
        wait_for(lambda: len(made) == 2, "a float32 compile")
        assert made[1].dtype == "float32" and tr.backend == "numpy"
        made[1].ready.set()
        wait_for(lambda: got[-1].backend == "kernels", "the switch")
    finally:
        runner.stop()
        th.join(30)
    assert [m.dtype for m in made] == ["float64", "float32"] and tr.backend == "kernels"


def test_stop_cancels_the_compile():
    tr = Cold(CFG)
    comp = FakeCompiler("float64")
    runner, th, got = run_runner(tr, comp)
    wait_for(lambda: tr.total_steps > 0, "numpy steps")
    runner.stop()
    th.join(30)
    assert not th.is_alive() and comp.cancelled


def test_child_compile_failure_falls_back_to_this_process():
    c = Compiler("float64", command=[sys.executable, "-c", "import sys; sys.exit('no space left')"])
    assert c.ready.wait(600)
    assert c.error is None and "no space left" in c.fallback and c.seconds is not None


def test_cancel_stops_the_child():
    c = Compiler("float64", command=[sys.executable, "-c", "import time; time.sleep(120)"])
    wait_for(lambda: c._proc is not None, "the child started")
    c.cancel()
    assert c._proc.poll() is not None and not c.ready.is_set()


# ------------------------------------------------------------------------------ a really cold start
COLD = r"""
import json, sys, threading, time
from gradtui import drive
from gradtui.config import Config
from gradtui.trainer import Trainer
tr = Trainer(Config(depth=3, width=8, n_samples=200, batch_size=16))
order = []
def publish(s):
    key = (s.backend, s.total_steps > 0)
    if not order or order[-1] != key:
        order.append(key)
runner = drive.Runner(tr, publish, fast_start=True)
th = threading.Thread(target=runner.run, daemon=True)
th.start()
deadline = time.monotonic() + 900  # a hang bound
while not (order and order[-1] == ("kernels", True)):
    assert time.monotonic() < deadline and th.is_alive()
    time.sleep(0.05)
runner.stop(); th.join(30)
print(json.dumps({"order": order, "events": [[e.step, e.text] for e in tr.events]}))
"""


def test_cold_cache_trains_before_the_compile_ends(tmp_path):
    """A fresh process with an empty NUMBA_CACHE_DIR: the first steps run (on NumPy) before the
    kernels are ready, then the run switches to them; the child compiled into the same cache."""
    cache = tmp_path / "cache"
    cache.mkdir()
    p = subprocess.run([sys.executable, "-c", COLD], env=dict(os.environ, NUMBA_CACHE_DIR=str(cache)),
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    order = [tuple(x) for x in out["order"]]
    assert order[:2] == [("numpy", False), ("numpy", True)] and order[-1] == ("kernels", True)
    (s0, t0), (s1, t1) = out["events"]
    assert s0 == 0 and t0.startswith("training on the NumPy") and s1 > 0 and t1 == "fast kernels ready"
    assert any(f.endswith(".nbi") for _, _, fs in os.walk(cache) for f in fs)
