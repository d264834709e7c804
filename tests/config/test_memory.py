"""The memory estimate against what a trainer really allocates, and the one-line refusal."""

import tracemalloc

import pytest

from gradtui.config import Config
from gradtui.memory import RUNTIME_BYTES, MemoryLimitError, available_bytes, check_memory, estimate
from gradtui.trainer import Trainer

MID = [  # mid-size runs: tens to hundreds of MB
    Config(width=256, depth=6, batch_size=512, n_samples=20000),
    Config(width=64, depth=50, batch_size=128, n_samples=5000, dtype="float32"),
    Config(width=1024, depth=3, batch_size=1024, n_samples=4000, batchnorm=True, optimizer="adam"),
]


@pytest.mark.parametrize("cfg", MID, ids=["wide-f64", "deep-f32", "wider-bn-adam"])
def test_estimate_is_within_1_5x_of_what_a_run_allocates(cfg, quiet):
    """NumPy reports every array to tracemalloc: its peak over building the trainer, training, the
    summary's full copy of the ring and a few dashboard snapshots is what the estimate predicts.
    (Kernels are loaded first: loading them allocates once per process, not per run.)"""
    Trainer(cfg.replace(width=4, depth=1, hidden=(), batch_size=2, n_samples=16)).warm_up()
    tracemalloc.start()
    try:
        tr = Trainer(cfg)
        tr.run_steps(1)  # the allocation peak is there after one step
        tr.ring.count = tr.ring.capacity  # copies as large as after a long run
        copies = [tr.ring.last(tr.ring.capacity)] + [tr.snapshot(1024) for _ in range(4)]
        tr.boundary()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del tr, copies
    est = sum(estimate(cfg).values())
    assert peak / 1.5 <= est <= peak * 1.5, (est, peak)


def test_refusal_says_what_it_needs_and_what_there_is():
    cfg = Config(width=2048, depth=8, batch_size=4096, n_samples=10000)
    with pytest.raises(MemoryLimitError) as ei:
        check_memory(cfg, available=3 * 10**9)
    msg = str(ei.value)
    assert "\n" not in msg
    assert "needs about 4.5 GB" in msg and "3.0 GB is available" in msg
    assert "activations for batch 4096" in msg  # the largest part


def test_a_live_change_does_not_count_the_interpreter_again():
    cfg = Config(width=512, depth=4)
    need = check_memory(cfg, fresh_process=False, available=10**12)
    assert check_memory(cfg, available=10**12) == need + RUNTIME_BYTES


def test_unknown_availability_never_refuses(monkeypatch):
    import gradtui.memory as M

    monkeypatch.setattr(M, "available_bytes", lambda: None)
    assert check_memory(Config(width=8192, depth=500)) > 10**12


def test_available_memory_is_read():
    have = available_bytes()
    assert have is None or have > 0


def test_every_shipped_preset_fits_on_a_small_machine():
    from gradtui.presets import list_presets, load_preset

    for name in list_presets():
        assert check_memory(load_preset(name), available=1 << 30)
