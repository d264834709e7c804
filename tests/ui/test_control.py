"""Pilot tests of direct control (issue 17, sections 2-4): the speed limit and --paused, undo after
a divergence, every picker (apply and cancel: one command or none), depth > / <, the command
palette's entries, and a recorded session replayed in the dashboard. Keys -> commands run against
fake sources; what needs the trainer (pace, paused start, undo, rebuild, replay) against a live one."""

from __future__ import annotations

import numpy as np
import pytest

from gradtui import drive
from gradtui.commands import Pace, Pause, Reinit, SetFields, Undo
from gradtui.config import Config
from gradtui.presets import load_preset
from gradtui.setters import CHOICES, NUMBERS, SETTINGS
from gradtui.trainer import Trainer
from gradtui.ui.sources import LiveSource, make_app
from gradtui.ui.widgets import StatusBar
from pilot_helpers import press, until
from ui_fakes import EchoSource, snapshot_of

SMALL = Config(name="tiny", depth=3, width=8, n_samples=200, batch_size=16, activation="sigmoid",
               init="xavier_normal", lr=0.1)


def bar(app) -> str:
    return app.panel("run").query_one(StatusBar).text


def echo_app(cfg: Config = SMALL):
    src = EchoSource(snapshot_of(cfg))
    return make_app(src), src


# ------------------------------------------------------------------ the pace
async def test_pace_keys_halve_and_double_the_limit_and_the_status_shows_it():
    app, src = echo_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("right_square_bracket")  # max stays max
        await pilot.press("left_square_bracket", "left_square_bracket")
        await pilot.pause()
        assert src.commands == [Pace(None), Pace(512.0), Pace(256.0)]
        assert "pace ≤256/s" in bar(app)
        for _ in range(12):  # never below 1 step/s
            await pilot.press("left_square_bracket")
        await pilot.pause()
        assert src.commands[-1] == Pace(1.0) and src.commands[-2] == Pace(1.0)
        for _ in range(13):  # past 4096/s: unthrottled
            await pilot.press("right_square_bracket")
        await pilot.pause()
        assert src.commands[-2] == Pace(4096.0) and src.commands[-1] == Pace(None)
        assert "pace" not in bar(app)
        assert not any(c.numeric for c in src.commands)  # a replay ignores them


def test_a_throttled_runner_runs_one_step_chunks_and_still_publishes():
    tr = Trainer(SMALL)
    tr.pace = 5.0  # at 10 Hz: one step a chunk, a step every two snapshots
    sizes, snaps = [], []
    orig = tr.run_steps

    def run_steps(n):
        sizes.append(n)
        return orig(n)

    tr.run_steps = run_steps
    runner = drive.Runner(tr, snaps.append, hz=10.0, max_steps=6)
    runner.run(should_stop=lambda: tr.total_steps >= 6 and len(snaps) > 8)
    ran = [n for n in sizes if n]
    assert tr.total_steps == 6 and ran == [1] * 6
    # the beat goes on while it waits between steps: every step was shown before the next one ran
    assert {s.step for s in snaps if s.status == "running"} >= {1, 2, 3, 4, 5}


async def test_paused_start_takes_single_steps_and_a_preset_pace_is_followed():
    app, src = make_app(LiveSource(SMALL, paused=True)), None
    src = app.source
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.status == "paused", what="paused start")
        assert app.snap.step == 0 and src.trainer.step_count == 0
        await press(pilot, "n", "n")
        await until(pilot, lambda: app.snap.step == 2, 30, "two single steps")
        await press(pilot, "q")
    cfg = SMALL.replace(start_paused=True, pace=8.0)
    src = LiveSource(cfg)
    assert src.trainer.paused and src.trainer.pace == 8.0 and src.pace == 8.0


def test_the_presets_that_act_early_start_paused_or_slow():
    assert load_preset("exploding").start_paused
    assert 0 < load_preset("exploding-tanh").pace <= 100
    assert "paused" in load_preset("exploding").description
    assert "steps/s" in load_preset("exploding-tanh").description


async def test_loading_a_preset_from_the_picker_follows_its_start_and_pace():
    app, src = echo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.load_preset("exploding-tanh")
        app.load_preset("exploding")
        await pilot.pause()
        kinds = [c.kind for c in src.commands]
        assert kinds == ["preset", "pace", "preset", "pause", "pace"]
        assert src.commands[1] == Pace(load_preset("exploding-tanh").pace) and src.commands[-1] == Pace(None)


# ------------------------------------------------------------------ undo
async def test_undo_after_a_divergence_goes_back_to_the_last_finite_step_paused():
    app = make_app(LiveSource(load_preset("exploding").replace(start_paused=False, n_samples=400)))
    src = app.source
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.status == "diverged", what="divergence")
        bad = app.snap.step
        await press(pilot, "u")
        await until(pilot, lambda: app.snap.status == "paused" and app.snap.step == bad - 1, 30, "undone")
        assert "undone" in app.snap.message and np.isfinite(src.trainer.mlp.theta).all()
        await press(pilot, "n")  # the same step diverges again: nothing was changed
        await until(pilot, lambda: app.snap.status == "diverged" and app.snap.step == bad, 30, "again")
        await press(pilot, "q")


async def test_undo_key_sends_pause_then_undo():
    app, src = echo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("u")
        await pilot.pause()
        assert src.commands == [Pause(), Undo()]


# ------------------------------------------------------------------ pickers
async def test_settings_menu_lists_every_setting_with_its_value_and_opens_its_picker():
    from gradtui.ui.screens import ChoicePicker, SettingsMenu

    app, src = echo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        assert isinstance(app.screen, SettingsMenu)
        ol = app.screen.query_one("OptionList")
        assert [ol.get_option_at_index(i).id for i in range(ol.option_count)] == list(SETTINGS)
        assert "sigmoid" in str(ol.get_option_at_index(0).prompt)
        await pilot.press("enter")  # the first: activation
        assert isinstance(app.screen, ChoicePicker) and app.screen.field == "activation"
        await pilot.press("escape")
        await pilot.pause()
        assert src.commands == [] and not isinstance(app.screen, (ChoicePicker, SettingsMenu))


@pytest.mark.parametrize("field", list(CHOICES))
async def test_every_choice_picker_highlights_the_current_value_and_sends_one_command(field):
    app, src = echo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.pick(field)
        await pilot.pause()
        ol = app.screen.query_one("OptionList")
        choices = list(CHOICES[field])
        cur = choices.index(getattr(SMALL, field))
        assert ol.highlighted == cur
        await pilot.press("escape")  # cancel: nothing sent
        await pilot.pause()
        assert src.commands == []
        app.pick(field)
        await pilot.pause()
        # the last choice, however many choices lie between (one command, none on the way)
        await pilot.press("end", "enter")
        await pilot.pause()
        want = choices[-1]
        assert src.commands == [Reinit(want) if field == "init" else SetFields.of(**{field: want})]
        assert getattr(app.intent, field) == want


@pytest.mark.parametrize("field, text, value", [
    ("lr", "0.5", 0.5), ("clip_value", "2.5", 2.5), ("init_std", "0.02", 0.02), ("init_gain", "1.5", 1.5),
    ("l1", "0.001", 0.001), ("l2", "1e-4", 1e-4), ("momentum", "0.5", 0.5), ("beta1", "0.8", 0.8),
    ("beta2", "0.99", 0.99), ("depth", "7", 7), ("width", "12", 12)])
async def test_every_number_input_sends_one_checked_command(field, text, value):
    from gradtui.ui.screens import NumberInput

    assert field in NUMBERS
    app, src = echo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.pick(field)
        await pilot.pause()
        assert isinstance(app.screen, NumberInput)
        await pilot.press("escape")
        await pilot.pause()
        assert src.commands == []
        app.pick(field)
        await pilot.pause()
        app.screen.query_one("Input").value = text
        await pilot.press("enter")
        await pilot.pause()
        assert src.commands == [SetFields.of(**{field: value})]


@pytest.mark.parametrize("field, text, fragment", [
    ("lr", "fast", "expected a number"), ("lr", "-1", "must be in"), ("lr", "inf", "finite"),
    ("momentum", "1.5", "must be in"), ("beta2", "1", "must be in"), ("depth", "2.5", "expected an integer"),
    ("depth", "0", "must be in"), ("width", "", "expected an integer")])
async def test_a_bad_number_shows_an_error_in_place_and_sends_nothing(field, text, fragment):
    from gradtui.ui.screens import NumberInput

    app, src = echo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.pick(field)
        await pilot.pause()
        app.screen.query_one("Input").value = text
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, NumberInput) and src.commands == []
        assert fragment in str(app.screen.query_one("#error").render())


# ------------------------------------------------------------------ depth
async def test_depth_keys_send_one_command_each():
    app, src = echo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("greater_than_sign", "greater_than_sign", "less_than_sign")
        await pilot.pause()
        assert src.commands == [SetFields.of(depth=4), SetFields.of(depth=5), SetFields.of(depth=4)]


async def test_depth_change_rebuilds_at_step_0_on_the_same_data_and_is_marked():
    app = make_app(LiveSource(SMALL))
    src = app.source
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.step > 20, what="running")
        x = src.trainer.data.x_train.copy()
        await press(pilot, "space")
        await until(pilot, lambda: app.snap.status == "paused", 30, "paused")
        await press(pilot, "greater_than_sign")
        await until(pilot, lambda: app.snap.config.depth == 4 and app.snap.step == 0, 30, "rebuilt")
        assert app.snap.n_layers == SMALL.depth + 2
        assert any("depth=4" in e.text and "rebuilt" in e.text for e in app.snap.events)
        assert np.array_equal(src.trainer.data.x_train, x)
        await press(pilot, "q")


# ------------------------------------------------------------------ the palette
async def test_the_palette_lists_every_direct_action_with_its_current_value():
    app, src = echo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for field in SETTINGS:
            assert any(t.startswith(f"Set {field} (") for t in titles), field
        assert "Set activation (sigmoid)" in titles and "Set depth (3)" in titles
        assert "Set beta2 (0.999)" in titles  # every digit: the number input starts from it
        assert "Speed limit (max): slower" in titles
        assert any(t.startswith("undo a divergence") for t in titles)
        assert any(t.startswith("next activation function (sigmoid)") for t in titles)


# ------------------------------------------------------------------ replay in the dashboard
async def test_a_recorded_session_plays_in_the_dashboard_with_its_events_and_pace(tmp_path):
    from gradtui.session import Recorder, load_session, replay
    from gradtui.ui.replay import ReplaySource

    path = tmp_path / "s.jsonl"
    live = Trainer(SMALL.replace(start_paused=True))
    rec = Recorder(path, live)
    live.run_steps(30)
    live.apply(Pace(2048.0))
    live.apply(SetFields.of(activation="tanh"))
    live.run_steps(30)
    live.apply(SetFields.of(depth=4))
    live.run_steps(20)
    rec.close()
    session = load_session(path)
    want = replay(session, Trainer(session.config))  # the headless replay

    src = ReplaySource(session)
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.total_steps == 80
                    and app.snap.status == "paused", 60, "the replay's end")
        texts = [e.text for e in app.snap.events]
        assert any("activation=tanh" in t for t in texts) and any("depth=4" in t for t in texts)
        assert app.snap.pace == 2048.0 and "pace ≤2,048/s" in bar(app)
        assert np.array_equal(src.trainer.mlp.theta, want.mlp.theta)  # what --headless --replay computes
        taken = src.submitted
        await press(pilot, "a", "r", "u", "greater_than_sign")  # refused: a replay is read-only
        await pilot.pause(0.1)
        assert src.submitted == taken and src.trainer.cfg == want.cfg
        await press(pilot, "right_square_bracket")  # the pace is not
        await until(pilot, lambda: app.snap.pace == 4096.0, 30, "faster")
        await press(pilot, "q")


async def test_a_number_input_starts_from_the_current_value_with_every_digit():
    app, src = echo_app(SMALL.replace(optimizer="adam", beta2=0.999, lr=0.0123456))
    async with app.run_test(size=(120, 40)) as pilot:
        for field, value in (("beta2", 0.999), ("lr", 0.0123456)):
            app.pick(field)
            await pilot.pause()
            assert app.screen.query_one("Input").value == repr(value)
            await pilot.press("enter")  # as it stands: accepted (0.999 is no 1)
            await pilot.pause()
        assert src.commands == [SetFields.of(beta2=0.999), SetFields.of(lr=0.0123456)]


@pytest.mark.parametrize("argv, want", [(["--paused", "--preset", "relu-he"], {"paused": True}),
                                        (["--replay", "SESSION"], {"session": True})])
def test_the_cli_starts_the_dashboard_paused_or_replaying(tmp_path, monkeypatch, argv, want):
    import gradtui.ui.terminal as terminal
    from gradtui.cli import main
    from gradtui.session import Recorder

    path = tmp_path / "s.jsonl"
    tr = Trainer(SMALL)
    rec = Recorder(path, tr)
    tr.run_steps(3)
    rec.close()
    seen = {}

    def fake_run_app(cfg, mouse=True, **kw):
        seen.update(cfg=cfg, **kw)
        return 0

    monkeypatch.setattr(terminal, "run_app", fake_run_app)
    assert main([str(path) if a == "SESSION" else a for a in argv]) == 0
    if "paused" in want:
        assert seen["paused"] is True and "session" not in seen
    else:
        assert seen["session"].end == 3 and seen["cfg"] == SMALL and "paused" not in seen
