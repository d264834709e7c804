"""Slow steps (big networks): a chunk (one kernel call, which a stop request has to wait for) is
bounded by work as well as by time, so q / SIGTERM are honoured within about one step, and the
user is told at start when one step will take more than about a second."""

from __future__ import annotations

import time

import pytest

from gradtui import trainer as trainer_mod
from gradtui.config import Config
from gradtui.commands import LoadPreset, Pause, Reset, Step
from gradtui.trainer import Trainer
from gradtui.ui.sources import LiveSource, make_app
from gradtui.ui.widgets import StatusBar
from pilot_helpers import until

SMALL = Config(name="tiny", depth=3, width=8, n_samples=200, batch_size=16, activation="sigmoid",
               init="xavier_normal", lr=0.1)
# ~0.3-0.5 GFLOP per step: a few to a few tens of ms here, ~1000x a SMALL step
BIG = Config(name="big", depth=6, width=256, n_samples=400, batch_size=256, activation="tanh",
             init="xavier_normal", lr=0.01)


def timed(cfg: Config) -> Trainer:
    tr = Trainer(cfg)
    tr.warm_up()
    for _ in range(3):
        tr.run_chunk(seconds=0.02)
    return tr


def test_rebuild_into_a_big_net_does_not_reuse_the_small_nets_timing():
    tr = timed(SMALL)
    tr._sec_per_step = 1e-5  # a small net's timing (set, not measured: a busy machine moves it)
    assert tr.chunk_size(0.05) > 50  # many steps per kernel call
    tr.submit(LoadPreset(BIG))
    tr.apply_pending()
    assert tr.chunk_size(0.05) == 1  # not 0.05 s / (a SMALL step's time) of BIG steps
    tr.submit(Reset())  # the same network again: its timing stays
    tr.run_chunk(seconds=0.05)
    tr.submit(Reset())
    tr.apply_pending()
    assert tr._sec_per_step is not None


def test_a_chunk_is_bounded_by_work_even_with_a_wrong_timing():
    tr = Trainer(BIG.replace(width=1024, depth=4, batch_size=1024, n_samples=1400))  # ~20 GFLOP a step
    tr._sec_per_step = 1e-7  # a timing far too optimistic (e.g. taken before the machine got busy)
    assert tr.chunk_size(0.05) == 1
    small = Trainer(SMALL)
    small._sec_per_step = 1e-7
    assert small.chunk_size(0.05) == small.ring.capacity // 4  # the work bound only bites on big nets


def test_single_steps_while_paused_run_one_chunk_at_a_time():
    tr = Trainer(BIG)
    tr.submit(Pause())
    tr.submit(Step(4))
    ran = []
    for _ in range(6):
        tr._sec_per_step = 10.0  # as if each step took 10 s
        ran.append(tr.run_chunk(seconds=0.05))
    assert ran == [1, 1, 1, 1, 0, 0] and tr.step_count == 4  # not all four in one kernel call


def test_slow_step_note(monkeypatch):
    assert Trainer(SMALL).slow_step_note() == ""
    big = Trainer(BIG)
    assert big.step_flops == pytest.approx(6 * 256 * (2 * 256 + 5 * 256 * 256 + 256 * 3))
    monkeypatch.setattr(trainer_mod, "TYPICAL_FLOPS", big.step_flops / 3)  # ~3 s a step
    note = big.slow_step_note()
    assert "GFLOP per step, roughly 3 s each" in note and "between steps" in note
    monkeypatch.setattr(trainer_mod, "TYPICAL_FLOPS", big.step_flops / 0.9)  # 0.9 s: no note
    assert big.slow_step_note() == ""


def test_headless_says_when_steps_are_slow(monkeypatch, capsys):
    from gradtui.cli import main

    monkeypatch.setattr(trainer_mod, "TYPICAL_FLOPS", 1e4)  # pretend a slow machine
    assert main(["--preset", "relu-he", "--headless", "--steps", "3"]) == 0
    err = capsys.readouterr().err
    assert "big network:" in err and "between steps" in err
    monkeypatch.setattr(trainer_mod, "TYPICAL_FLOPS", 1e15)
    assert main(["--preset", "relu-he", "--headless", "--steps", "3"]) == 0
    assert "big network" not in capsys.readouterr().err


async def test_dashboard_status_says_when_steps_are_slow(monkeypatch):
    monkeypatch.setattr(trainer_mod, "TYPICAL_FLOPS", 1e4)
    app = make_app(SMALL)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.status == "running", what="running")
        assert "big network:" in app.query_one(StatusBar).text
        app.simulate_key("q")
        await pilot.pause(0)


async def test_quit_after_switching_to_a_big_net_is_prompt():
    """The small net's timing used to size the big net's first chunk: thousands of big steps
    (tens of seconds) in one kernel call, which quit had to wait for."""
    big = BIG.replace(depth=4, width=512, batch_size=512, n_samples=700)  # ~2.4 GFLOP a step
    tr = Trainer(big)
    tr.run_steps(1)
    step = time.perf_counter()
    tr.run_steps(2)
    step = (time.perf_counter() - step) / 2
    src = LiveSource(SMALL)
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.step > 100, what="small net running")
        app.submit(LoadPreset(big))
        await until(pilot, lambda: src.trainer.cfg.name == "big", 10, "big net applied")
        steps_at_quit = src.trainer.total_steps
        app.simulate_key("q")
        await pilot.pause(0)
    assert src.done.wait(120)
    # the new code stops after the chunk it is in (a few big steps); the old one ran 100-2048 big
    # steps in that chunk. Counted in steps, not seconds: a busy machine stretches seconds.
    ran = src.trainer.total_steps - steps_at_quit
    assert ran <= 8, f"{ran} big steps ran after q (one step {step:.3f} s)"
