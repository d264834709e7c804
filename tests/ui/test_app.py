"""Pilot tests of the dashboard. Keys -> commands, the status bar, screens and layout run against
fake sources (no thread to race); pause/step/reset, crashes, quitting and compiling run against a
real trainer thread, since that thread is their point."""

from __future__ import annotations

import time

import pytest

from gradtui.activations import ACTIVATIONS
from gradtui.commands import LoadPreset, Reinit, Reset, SetFields, Step, TogglePause
from gradtui.config import Config
from gradtui.data import DATASETS
from gradtui.initializers import INITIALIZERS
from gradtui.numfmt import num
from gradtui.optimizers import CLIPPING, OPTIMIZERS
from gradtui.trainer import Trainer
from gradtui.ui.app import GradApp
from gradtui.ui.messages import SnapshotMessage, TrainerFailed
from gradtui.ui.sources import LiveSource, StaticSource, make_app
from gradtui.ui.widgets import DepthProfile, GradRows, LossPlot, RunPanel, StatusBar
from gradtui.ui.widgets.lines import plain
from pilot_helpers import press, until
from ui_fakes import EchoSource, snapshot_of

SMALL = Config(name="tiny", depth=3, width=8, n_samples=200, batch_size=16, activation="sigmoid",
               init="xavier_normal", lr=0.1)
ACTS = list(ACTIVATIONS)


def _cycle(options, current, step=1):  # the next choice, written out independently of the key table
    opts = list(options)
    return opts[(opts.index(current) + step) % len(opts)]


def running(app: GradApp) -> bool:
    return app.snap is not None and app.snap.status == "running" and app.snap.step > 0


def bar(app: GradApp, run_id: str = "run") -> str:
    return app.panel(run_id).query_one(StatusBar).text


def echo_app(cfg: Config = SMALL) -> tuple[GradApp, EchoSource]:
    src = EchoSource(snapshot_of(cfg))
    return make_app(src), src


def live_app(cfg: Config = SMALL, **kw) -> tuple[GradApp, LiveSource]:
    src = LiveSource(cfg, **kw)
    return make_app(src), src


# ------------------------------------------------------------------ keys -> commands (no thread)
async def test_every_command_key_sends_its_command_and_the_status_bar_follows():
    app, src = echo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "a:sigmoid" in bar(app)
        await pilot.press("a", "A", "c", "o", "R", "b", "plus", "minus", "i", "d", "space", "n", "r")
        await pilot.pause()
        assert src.commands == [
            SetFields.of(activation=_cycle(ACTS, "sigmoid")), SetFields.of(activation="sigmoid"),
            SetFields.of(clip=_cycle(CLIPPING, "none")), SetFields.of(optimizer=_cycle(OPTIMIZERS, "sgd")),
            SetFields.of(residual=True), SetFields.of(batchnorm=True), SetFields.of(lr=0.2),
            SetFields.of(lr=0.1), Reinit(_cycle(INITIALIZERS, "xavier_normal")),
            SetFields.of(dataset=_cycle(DATASETS, SMALL.dataset)), TogglePause(), Step(1), Reset()]
        text = bar(app)
        assert f"c:{_cycle(CLIPPING, 'none')}" in text and "+res" in text and "+bn" in text
        assert f"d:{_cycle(DATASETS, SMALL.dataset)}" in text and "lr:0.1" in text


async def test_each_status_label_is_the_key_that_changes_it():
    """The status bar's ``k:value`` labels come from the key table: pressing k changes that value."""
    app, src = echo_app()
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        config_line = bar(app).splitlines()[1]
        labelled = [w.split(":", 1) for w in config_line.split() if ":" in w]
        keys = [k for k, _ in labelled if k != "lr"]
        assert keys == ["a", "i", "o", "c", "d"]
        for k, before in labelled:
            if k == "lr":
                continue
            await pilot.press(k)
            await pilot.pause()
            after = dict(w.split(":", 1) for w in bar(app).splitlines()[1].split() if ":" in w)[k]
            assert after != before, f"key {k} did not change the value labelled {k}:"


async def test_a_burst_sends_every_key_in_order():
    app, src = echo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        keys = ["a"] * 7 + ["minus"] * 5 + ["c"] * 3 + ["A"] * 2 + ["plus"]
        await press(pilot, *keys)
        await pilot.pause()
        assert len(src.commands) == len(keys)  # nothing debounced away, nothing doubled
        acts = [dict(c.changes)["activation"] for c in src.commands if "activation" in dict(c.changes)]
        assert acts == [ACTS[(ACTS.index("sigmoid") + i) % len(ACTS)] for i in (1, 2, 3, 4, 5, 6, 7, 6, 5)]
        want_act = ACTS[(ACTS.index("sigmoid") + 5) % len(ACTS)]
        assert app.intent.activation == want_act and app.intent.lr == pytest.approx(0.1 / 32 * 2)
        assert f"a:{want_act}" in bar(app) and f"lr:{num(0.1 / 32 * 2)}" in bar(app)


async def test_preset_picker_sends_the_preset():
    from gradtui.presets import load_preset
    from gradtui.ui.screens import PresetPicker

    app, src = echo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("p")
        assert isinstance(app.screen, PresetPicker)
        app.screen.dismiss("relu-he")
        await pilot.pause()
        assert src.commands == [LoadPreset(load_preset("relu-he"))]
        assert "relu-he" in bar(app) and "a:relu" in bar(app)


async def test_a_preset_too_big_for_the_memory_is_refused_not_sent(monkeypatch):
    import gradtui.memory as M

    monkeypatch.setattr(M, "available_bytes", lambda: 10 * 2**20)  # 10 MiB: nothing fits
    app, src = echo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.load_preset("relu-he")
        await pilot.pause()
        assert src.commands == [] and app.intent.name == "tiny"
        assert any("memory" in str(n.message) for n in app._notifications)


async def test_panel_and_log_toggles_send_no_command():
    app, src = echo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        from gradtui.ui.views import DEPTH_MODES

        titles = []
        for _ in DEPTH_MODES:
            titles.append(app.query_one(DepthProfile).title)
            await pilot.press("v")

        assert titles == [m.title for m in DEPTH_MODES] and app.query_one(DepthProfile).title == titles[0]
        assert app.query_one(DepthProfile).border_title == f"{titles[0]}  v"
        assert app.query_one(LossPlot).log_y
        await pilot.press("l")
        assert not app.query_one(LossPlot).log_y and "linear" in app.query_one(LossPlot).border_title
        app.query_one(LossPlot).redraw(force=True)  # a linear redraw
        assert src.commands == [] and app.is_running


# ------------------------------------------------------------------ several runs
async def test_two_sources_compose_two_panels_each_showing_its_own_run():
    a = StaticSource([snapshot_of(SMALL)], run_id="a")
    b = EchoSource(snapshot_of(SMALL.replace(name="other", activation="tanh", depth=5)), run_id="b")
    app = make_app([a, b])
    async with app.run_test(size=(200, 40)) as pilot:
        await pilot.pause()
        panels = list(app.query(RunPanel))
        assert [p.run_id for p in panels] == ["a", "b"]
        assert "tiny" in bar(app, "a") and "a:sigmoid" in bar(app, "a")
        assert "other" in bar(app, "b") and "a:tanh" in bar(app, "b")
        assert len(plain(panels[0].query_one(GradRows).rows(panels[0].snap, 60, 10))) == 4
        assert len(plain(panels[1].query_one(GradRows).rows(panels[1].snap, 60, 10))) == 6
        assert panels[0].region.x < panels[1].region.x  # side by side
        # a snapshot for run b changes run b only
        import dataclasses

        app.post_message(SnapshotMessage("b", dataclasses.replace(b.snaps[-1], step=12345)))
        await pilot.pause()
        assert "step 12,345" in bar(app, "b") and "step 12,345" not in bar(app, "a")
        assert b.snap.step == 12345 and a.snap.step == 3
        await pilot.press("a")  # keys act on the first run
        assert len(a.commands) == 1 and b.commands == []


def test_a_snapshot_replaces_only_a_pending_snapshot_of_its_own_run():
    snap = snapshot_of(SMALL, 1)
    a1, a2, b1 = SnapshotMessage("a", snap), SnapshotMessage("a", snap), SnapshotMessage("b", snap)
    assert a2.can_replace(a1) and not b1.can_replace(a1) and not a1.can_replace(TrainerFailed("a", "x", ""))


def test_make_app_refuses_no_sources_and_two_with_one_run_id():
    snap = snapshot_of(SMALL, 1)
    with pytest.raises(ValueError):
        make_app([])
    with pytest.raises(ValueError):
        make_app([StaticSource([snap], "x"), StaticSource([snap], "x")])
    with pytest.raises(ValueError):
        StaticSource([])


# ------------------------------------------------------------------ screens and layout
async def test_small_terminal_shows_a_message():
    app = make_app(StaticSource([snapshot_of(SMALL)]))
    async with app.run_test(size=(50, 12)) as pilot:
        await pilot.pause()
        assert app.query_one("#too-small").display
        assert not app.query_one(RunPanel).display
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert not app.query_one("#too-small").display
        assert app.query_one(RunPanel).display


async def test_help_screen_and_palette_list_every_key():
    from gradtui.ui.screens import HelpScreen

    app = make_app(StaticSource([snapshot_of(SMALL)]))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for b in app.BINDINGS:
            if b.action != "quit":  # (a setting's entry ends with its current value)
                assert any(t.startswith(b.tooltip or b.description) for t in titles)


def test_the_v_key_help_names_every_depth_mode():
    from gradtui.ui.keys import BINDINGS
    from gradtui.ui.views import DEPTH_MODES

    tip = next(b.tooltip for b in BINDINGS if b.action == "panel")
    assert tip == "depth panel: " + " / ".join(m.name for m in DEPTH_MODES)
    assert tip == ("depth panel: grad norm / update ratio / saturated / dead / act std / act histogram / "
                   "dL/dW histogram / dL/dz histogram / ratio over time / sat/dead over time")  # as the help shows


async def test_status_bar_never_wraps_a_long_message_over_the_config_line():
    import dataclasses

    snap = dataclasses.replace(snapshot_of(SMALL), message="reset: step 0, fresh data, weights and optimiser " * 3)
    app = make_app(StaticSource([snap]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        sb = app.query_one(StatusBar)
        lines = ["".join(s.text for s in sb.render_line(y)) for y in range(2)]
        assert "step 3" in lines[0] and lines[0].rstrip().endswith("…")
        assert "tiny" in lines[1] and "a:sigmoid" in lines[1]


async def test_messages_after_the_widgets_are_gone_are_ignored():
    """A snapshot (or a crash report) still queued from the trainer thread while the app shuts down,
    after the main screen's widgets were removed: the handlers must not raise NoMatches."""
    snap = snapshot_of(SMALL)
    src = StaticSource([snapshot_of(SMALL, 1)])
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.query_one(RunPanel).remove()
        app.post_message(SnapshotMessage("run", snap))
        app.post_message(TrainerFailed("run", "late", "traceback"))
        app.post_message(SnapshotMessage("no such run", snap))
        await pilot.pause()
        assert app.snap is snap and app.error == "late"  # state kept; nothing left to draw it on
    # run_test re-raises an exception any handler raised


def test_readme_key_table_lists_every_binding():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme[readme.index("| key | action |"):]
    table = table[: table.index("\n\n")]
    for b in GradApp.BINDINGS:
        shown = b.key_display or b.key.split(",")[0]
        shown = {"spc": "space"}.get(shown, shown)
        assert f"`{shown}`" in table, f"README key table misses {shown} ({b.action})"


# ------------------------------------------------------------------ screenshots
def test_save_screenshot_is_deterministic_and_hides_wallclock(tmp_path):
    from gradtui.ui.screenshot import save_screenshot

    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    save_screenshot(SMALL, 120, (80, 24), str(a))
    save_screenshot(SMALL, 120, (80, 24), str(b))
    svg = a.read_text()
    assert svg == b.read_text()
    assert "step&#160;120" in svg and "steps/s" not in svg


def test_save_screenshot_over_a_private_file_keeps_it_private(tmp_path):
    import os

    from gradtui.ui.screenshot import save_screenshot

    out = tmp_path / "shot.svg"
    out.write_text("old")
    out.chmod(0o600)
    save_screenshot(SMALL, 20, (80, 24), str(out))
    assert out.read_text().startswith("<svg") and (os.stat(out).st_mode & 0o777) == 0o600


# ------------------------------------------------------------------ a real trainer thread
async def test_keys_reach_a_live_trainer():
    app, src = live_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="first running snapshot")
        await press(pilot, "a", "c", "plus")
        nxt = _cycle(ACTS, "sigmoid")
        await until(pilot, lambda: app.snap.config.activation == nxt and app.snap.config.lr == 0.2
                    and app.snap.config.clip == _cycle(CLIPPING, "none"), 20, "commands applied")
        await until(pilot, lambda: f"a:{nxt}" in bar(app), 20, "status bar shows the new activation")
        await press(pilot, "q")
    assert src.trainer.cfg == app.snap.config


async def test_pause_step_reset():
    app, src = live_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="running")
        await press(pilot, "space")
        await until(pilot, lambda: app.snap.status == "paused", 20, "paused")
        s0 = app.snap.step
        await pilot.pause(0.2)
        assert src.trainer.step_count == s0
        await press(pilot, "n", "n", "n")
        await until(pilot, lambda: app.snap.step == s0 + 3, 20, "three single steps")
        assert "PAUSED" in bar(app)
        await press(pilot, "r")
        await until(pilot, lambda: app.snap.step == 0, 20, "reset to step 0")
        await press(pilot, "space")
        await until(pilot, lambda: app.snap.status == "running" and app.snap.step > 0, 20, "resumed")


async def test_quit_is_prompt_and_stops_the_trainer():
    app, src = live_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="running")
        worker = next(w for w in app.workers if w.name == "trainer")
        t0 = time.monotonic()
        await press(pilot, "q")
    assert time.monotonic() - t0 < 20  # a hang, not a speed target (those live in gradtui bench)
    assert src.done.wait(20), "trainer thread still running 20 s after quit"
    assert worker.is_finished
    steps = src.trainer.step_count
    time.sleep(0.2)
    assert src.trainer.step_count == steps


class CrashingTrainer(Trainer):
    def run_chunk(self, *a, **kw):
        if self.step_count >= 5:
            raise FloatingPointError("kaboom in the kernel")
        return super().run_chunk(max_steps=5)


async def test_trainer_crash_is_shown_not_swallowed():
    app = make_app(LiveSource(trainer=CrashingTrainer(SMALL)))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.error != "", what="error reported")
        await pilot.pause(0.05)
        assert "ERROR" in bar(app) and "kaboom" in bar(app)
        assert "kaboom" in app.source.error_tb and app.is_running
        await press(pilot, "q")


class SlowCompile(Trainer):
    def warm_up(self) -> float:  # a cold numba compile cannot be interrupted
        time.sleep(30)
        return 30.0


async def test_quit_during_compile_is_prompt():
    src = LiveSource(trainer=SlowCompile(SMALL), fast_start=False)  # compile first, as before
    app = make_app(src)
    t0 = time.monotonic()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None, 20, "compiling snapshot")
        assert app.snap.status == "compiling" and "COMPILING" in bar(app)
        assert "no steps yet" in "".join(s.text for s in app.query_one(GradRows).render_line(0))
        await press(pilot, "q")
    assert src.done.wait(20)
    assert time.monotonic() - t0 < 20, "quit waited for the 30 s compile"


class ColdStart(Trainer):
    def kernels_cached(self) -> bool:  # as on an empty numba cache: train on NumPy, compile in a child
        return False


async def test_cold_start_trains_at_once_says_so_and_quits_promptly(monkeypatch):
    import sys

    from gradtui import warmup

    monkeypatch.setattr(warmup, "CHILD", [sys.executable, "-c", "import time; time.sleep(300)"])  # a long compile
    src = LiveSource(trainer=ColdStart(SMALL))
    app = make_app(src)
    t0 = time.monotonic()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.total_steps > 0, 60, "a numpy step")
        assert app.snap.backend == "numpy" and app.snap.status == "running"
        assert "NumPy (compiling " in bar(app) and "COMPILING" not in bar(app)
        await press(pilot, "q")
    assert src.done.wait(20)
    assert time.monotonic() - t0 < 60, "quit waited for the compile"


async def test_snapshots_while_help_is_open_and_during_quit():
    """Another screen on top, then quit, while the trainer keeps publishing fast."""
    from gradtui.ui.screens import HelpScreen

    app, src = live_app(hz=200.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: running(app), what="running")
        app.push_screen(HelpScreen())
        s0 = app.snap.step
        await until(pilot, lambda: app.snap.step > s0, 20, "snapshots while help is open")
        assert "RUNNING" in bar(app)
        await press(pilot, "q")
    assert src.done.wait(5.0)


async def test_the_status_bar_redraws_in_a_new_themes_colours():
    """TextLines keep their strips per width and colours: a theme change (the command palette)
    must not leave the old colours on a paused run's status bar (reported in review)."""
    app = make_app(StaticSource([snapshot_of(SMALL)]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bar = app.query_one(StatusBar)
        before = [seg.style for seg in bar.render_line(1)]
        app.theme = "textual-light"
        await pilot.pause()
        after = [seg.style for seg in bar.render_line(1)]
        assert before != after and bar.text == bar.text
