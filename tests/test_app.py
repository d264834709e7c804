"""Pilot tests of the dashboard with a real trainer thread: keys reach the trainer in order, the
status bar follows, crashes are shown, small terminals get a message, and the app quits promptly."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gradtui.activations import ACTIVATIONS
from gradtui.app import GradApp, _cycle
from gradtui.config import Config
from gradtui.numfmt import num
from gradtui.optimizers import CLIPPING, OPTIMIZERS
from gradtui.stats import Snapshot
from gradtui.trainer import Trainer
from gradtui.widgets import GradRows, StatusBar
from gradtui.widgets import regime as R
from pilot_helpers import press, until

SMALL = Config(name="tiny", depth=3, width=8, n_samples=200, batch_size=16, activation="sigmoid",
               init="xavier_normal", lr=0.1)
ACTS = list(ACTIVATIONS)


def running(app: GradApp) -> bool:
    return app.snap is not None and app.snap.status == "running" and app.snap.step > 0


def bar(app: GradApp) -> str:
    return app.query_one(StatusBar).text


async def test_keys_change_trainer_config_and_status_bar():
    app = GradApp(SMALL)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="first running snapshot")
        assert "a:sigmoid" in bar(app)
        await press(pilot, "a")
        nxt = _cycle(ACTS, "sigmoid")
        await until(pilot, lambda: app.trainer.cfg.activation == nxt, 20, "activation applied")
        await until(pilot, lambda: f"a:{nxt}" in bar(app), 20, "status bar shows the new activation")
        await press(pilot, "A")
        await until(pilot, lambda: "a:sigmoid" in bar(app), 20, "activation back")
        await press(pilot, "c", "o", "R", "b")
        await until(pilot, lambda: app.trainer.cfg.clip == _cycle(CLIPPING, "none")
                    and app.trainer.cfg.optimizer == _cycle(OPTIMIZERS, "sgd")
                    and app.trainer.cfg.residual and app.trainer.cfg.batchnorm, 20, "c o R b")
        await until(pilot, lambda: "+res" in bar(app) and "+bn" in bar(app), 20, "status +res +bn")
        await press(pilot, "plus")
        await until(pilot, lambda: app.trainer.cfg.lr == pytest.approx(0.2), 20, "lr doubled")
        await until(pilot, lambda: "lr:0.2" in bar(app), 20, "status lr")
        await press(pilot, "i")
        await until(pilot, lambda: app.trainer.cfg.init != "xavier_normal", 20, "init cycled")
        await press(pilot, "q")


async def test_rapid_burst_applies_every_key_in_order():
    app = GradApp(SMALL)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="first running snapshot")
        keys = ["a"] * 7 + ["minus"] * 5 + ["c"] * 3 + ["A"] * 2 + ["plus"]
        await press(pilot, *keys)
        want_act = ACTS[(ACTS.index("sigmoid") + 7 - 2) % len(ACTS)]
        want_clip = list(CLIPPING)[3 % len(CLIPPING)]
        want_lr = 0.1 / 32 * 2

        def done() -> bool:
            c = app.trainer.cfg
            return c.activation == want_act and c.clip == want_clip and c.lr == pytest.approx(want_lr)

        await until(pilot, done, 3, "burst applied")
        await until(pilot, lambda: f"a:{want_act}" in bar(app) and f"lr:{num(want_lr)}" in bar(app), 2,
                    "status bar after burst")
        # every key was an event, in order (the queue keeps them; nothing was debounced away)
        texts = [e.text for e in app.trainer.events if e.text.startswith("activation=")]
        assert len(texts) == 9


async def test_pause_step_reset():
    app = GradApp(SMALL)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="running")
        await press(pilot, "space")
        await until(pilot, lambda: app.snap.status == "paused", 20, "paused")
        s0 = app.snap.step
        await pilot.pause(0.2)
        assert app.trainer.step_count == s0
        await press(pilot, "n", "n", "n")
        await until(pilot, lambda: app.snap.step == s0 + 3, 20, "three single steps")
        assert "PAUSED" in bar(app)
        await press(pilot, "r")
        await until(pilot, lambda: app.snap.step == 0, 20, "reset to step 0")
        await press(pilot, "space")
        await until(pilot, lambda: app.snap.status == "running" and app.snap.step > 0, 20, "resumed")


async def test_quit_is_prompt_and_stops_the_trainer():
    app = GradApp(SMALL)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="running")
        worker = next(w for w in app.workers if w.name == "trainer")
        t0 = time.monotonic()
        await press(pilot, "q")
    assert time.monotonic() - t0 < 20  # a hang, not a speed target (those live in gradtui bench)
    assert app.trainer_done.wait(20), "trainer thread still running 20 s after quit"
    assert worker.is_finished
    steps = app.trainer.step_count
    time.sleep(0.2)
    assert app.trainer.step_count == steps


class CrashingTrainer(Trainer):
    def run_chunk(self, *a, **kw):
        if self.step_count >= 5:
            raise FloatingPointError("kaboom in the kernel")
        return super().run_chunk(max_steps=5)


async def test_trainer_crash_is_shown_not_swallowed():
    app = GradApp(SMALL, trainer=CrashingTrainer(SMALL))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.error != "", what="error reported")
        await pilot.pause(0.05)
        assert "ERROR" in bar(app) and "kaboom" in bar(app)
        assert app.is_running
        await press(pilot, "q")


async def test_small_terminal_shows_a_message():
    app = GradApp(SMALL, drive=False)
    async with app.run_test(size=(50, 12)) as pilot:
        await pilot.pause()
        assert app.query_one("#too-small").display
        assert not app.query_one("#main").display
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert not app.query_one("#too-small").display
        assert app.query_one("#main").display


async def test_help_screen_and_palette_list_every_key():
    app = GradApp(SMALL, drive=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")  # the real key path (no busy trainer here)
        await pilot.pause()
        from gradtui.screens import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for b in app.BINDINGS:
            if b.action != "quit":
                assert (b.tooltip or b.description) in titles


async def test_preset_picker_loads_a_preset():
    app = GradApp(SMALL)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="running")
        await press(pilot, "p")
        await pilot.pause()
        from gradtui.screens import PresetPicker

        assert isinstance(app.screen, PresetPicker)
        app.screen.dismiss("relu-he")
        await until(pilot, lambda: app.trainer.cfg.name == "relu-he", 20, "preset applied")
        await until(pilot, lambda: "relu-he" in bar(app) and "a:relu" in bar(app), 20, "status shows preset")


async def test_a_preset_too_big_for_the_memory_is_refused_not_loaded(tmp_path, monkeypatch):
    import gradtui.memory as M

    monkeypatch.setattr(M, "available_bytes", lambda: 10 * 2**20)  # 10 MiB: nothing fits
    app = GradApp(SMALL)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="running")
        app.load_preset("relu-he")
        await pilot.pause(0.2)
        assert app.trainer.cfg.name == "tiny" and app.intent.name == "tiny"
        assert any("memory" in str(n.message) for n in app._notifications)


# ------------------------------------------------------------------ widget helpers (no app)
def test_regimes_and_nan_safety():
    s = R.spark_columns(np.array([np.nan, -np.inf, -100, R.LOG_LO, R.LOG_HI, 50]))[0]
    assert s[0] == "·" and s[1] == "·" and s[2] == "▁" and s[4] == "█" and s[5] == "█"
    assert R.groups(21, 13)[0] == (0, 2) and R.groups(21, 13)[-1] == (20, 21) and len(R.groups(21, 13)) == 13
    b = R.bucket_mean(np.array([[1.0], [np.nan], [3.0], [np.inf]]), 2)
    assert b[0, 0] == 1.0 and b[1, 0] == 3.0


async def test_grad_rows_survive_nan_and_share_one_scale():
    tr = Trainer(SMALL)
    tr.run_steps(20)
    snap = tr.snapshot()
    layers = np.array(snap.layers)
    col = list(snap.layer_names)
    from gradtui.stats import LAYER_COL

    layers[-1, 0, LAYER_COL["grad_norm"]] = np.nan
    layers[-1, 1, LAYER_COL["grad_norm"]] = 1e-9
    layers[-1, 2, LAYER_COL["grad_norm"]] = 1e-1
    bad = Snapshot.build(snap.config, col, snap.step, "diverged", np.array(snap.steps), np.array(snap.glob), layers)
    app = GradApp(SMALL, drive=False, snapshot=bad)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        rows = app.query_one(GradRows)
        lines = ["".join(s.text for s in rows.render_line(y)) for y in range(4)]
        # a layer gone non-finite keeps showing its last finite value, tagged NaN/inf
        last = snap.layers[-2, 0, LAYER_COL["grad_norm"]]
        assert "NaN/inf" in lines[0] and f"last {num(last)} NaN/inf" in lines[0] and " nan" not in lines[0]
        # the same scale for every row: 1e-9 draws a low bar, 1e-1 a high one
        assert lines[1].rstrip().split()[1][-1] in "▁▂" and lines[2].split()[1][-1] in "▆▇"
        assert "DIVERGED" in bar(app) and "c (clip), then r (restart)" in bar(app)


async def test_panel_and_log_toggles_and_dataset_cycle():
    from gradtui.widgets import DepthProfile, LossPlot

    app = GradApp(SMALL)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="running")
        titles = set()
        for _ in range(5):
            titles.add(app.query_one(DepthProfile).title)
            await press(pilot, "v")
            await pilot.pause(0.05)
        assert len(titles) == 5 and "update" in " ".join(titles)
        assert app.query_one(LossPlot).log_y
        await press(pilot, "l")
        assert not app.query_one(LossPlot).log_y
        await pilot.pause(0.6)  # at least one linear redraw
        await press(pilot, "d")
        await until(pilot, lambda: app.trainer.cfg.dataset != SMALL.dataset, 20, "dataset cycled")
        await until(pilot, lambda: f"d:{app.trainer.cfg.dataset}" in bar(app), 20, "status shows dataset")
        assert app.is_running


def test_save_screenshot_is_deterministic_and_hides_wallclock(tmp_path):
    from gradtui.app import save_screenshot

    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    save_screenshot(SMALL, 120, (80, 24), str(a))
    save_screenshot(SMALL, 120, (80, 24), str(b))
    svg = a.read_text()
    assert svg == b.read_text()
    assert "step&#160;120" in svg and "steps/s" not in svg


def test_save_screenshot_over_a_private_file_keeps_it_private(tmp_path):
    import os

    from gradtui.app import save_screenshot

    out = tmp_path / "shot.svg"
    out.write_text("old")
    out.chmod(0o600)
    save_screenshot(SMALL, 20, (80, 24), str(out))
    assert out.read_text().startswith("<svg") and (os.stat(out).st_mode & 0o777) == 0o600


class SlowCompile(Trainer):
    def warm_up(self) -> float:  # a cold numba compile cannot be interrupted
        time.sleep(30)
        return 30.0


async def test_quit_during_compile_is_prompt():
    app = GradApp(SMALL, trainer=SlowCompile(SMALL), fast_start=False)  # compile first, as before
    t0 = time.monotonic()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None, 20, "compiling snapshot")
        assert app.snap.status == "compiling" and "COMPILING" in bar(app)
        assert "no steps yet" in "".join(s.text for s in app.query_one(GradRows).render_line(0))
        await press(pilot, "q")
    assert app.trainer_done.wait(20)
    assert time.monotonic() - t0 < 20, "quit waited for the 30 s compile"


class ColdStart(Trainer):
    def kernels_cached(self) -> bool:  # as on an empty numba cache: train on NumPy, compile in a child
        return False


async def test_cold_start_trains_at_once_says_so_and_quits_promptly(monkeypatch):
    import sys

    from gradtui import warmup

    monkeypatch.setattr(warmup, "CHILD", [sys.executable, "-c", "import time; time.sleep(300)"])  # a long compile
    app = GradApp(SMALL, trainer=ColdStart(SMALL))
    t0 = time.monotonic()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.total_steps > 0, 60, "a numpy step")
        assert app.snap.backend == "numpy" and app.snap.status == "running"
        assert "NumPy (compiling " in bar(app) and "COMPILING" not in bar(app)
        await press(pilot, "q")
    assert app.trainer_done.wait(20)
    assert time.monotonic() - t0 < 60, "quit waited for the compile"


def test_readme_key_table_lists_every_binding():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme[readme.index("| key | action |"):]
    table = table[: table.index("\n\n")]
    for b in GradApp.BINDINGS:
        shown = b.key_display or b.key.split(",")[0]
        shown = {"spc": "space"}.get(shown, shown)
        assert f"`{shown}`" in table, f"README key table misses {shown} ({b.action})"


async def test_status_bar_never_wraps_a_long_message_over_the_config_line():
    import dataclasses

    tr = Trainer(SMALL)
    tr.run_steps(3)
    snap = dataclasses.replace(tr.snapshot(), message="reset: step 0, fresh data, weights and optimiser " * 3)
    app = GradApp(SMALL, trainer=tr, drive=False, snapshot=snap)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        sb = app.query_one(StatusBar)
        lines = ["".join(s.text for s in sb.render_line(y)) for y in range(2)]
        assert "step 3" in lines[0] and lines[0].rstrip().endswith("…")
        assert "tiny" in lines[1] and "a:sigmoid" in lines[1]


async def test_messages_after_the_widgets_are_gone_are_ignored():
    """A snapshot (or a crash report) still queued from the trainer thread while the app shuts down,
    after the main screen's widgets were removed: the handlers must not raise NoMatches."""
    from gradtui.app import SnapshotMessage, TrainerFailed

    tr = Trainer(SMALL)
    tr.run_steps(3)
    snap = tr.snapshot()
    app = GradApp(SMALL, trainer=tr, drive=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.query_one(StatusBar).remove()
        await app.query_one("#main").remove()
        app.post_message(SnapshotMessage(snap))
        app.post_message(TrainerFailed("late", "traceback"))
        await pilot.pause()
        assert app.snap is snap and app.error == "late"  # state kept; nothing left to draw it on
    # run_test re-raises an exception any handler raised


async def test_snapshots_while_help_is_open_and_during_quit():
    """Another screen on top, then quit, while the trainer keeps publishing fast."""
    from gradtui.screens import HelpScreen

    app = GradApp(SMALL, hz=200.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="running")
        app.push_screen(HelpScreen())
        s0 = app.snap.step
        await until(pilot, lambda: app.snap.step > s0, 20, "snapshots while help is open")
        assert "RUNNING" in bar(app)
        await press(pilot, "q")
    assert app.trainer_done.wait(5.0)
