"""The dashboard's explanations (issue 16 on screen): the theory's markers in the depth panel, the
phase-diagram screen, the diagnosis line and screen, the lessons panel and the help text. Pure
renderers on constructed snapshots; pilot tests against fake sources (no trainer thread)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from rich.console import Console

from gradtui import theory
from gradtui.commands import LoadPreset, SetFields
from gradtui.config import Config
from gradtui.diagnose import Finding
from gradtui.explain import Explainer
from gradtui.lessons import load_lesson, resolve
from gradtui.numfmt import num
from gradtui.remedies import Remedy
from gradtui.stats import LAYER_COL, Snapshot
from gradtui.trainer import Trainer
from gradtui.ui import views as R
from gradtui.ui.lesson_panel import LessonPanel
from gradtui.ui.messages import SnapshotMessage
from gradtui.ui.screens import phase
from gradtui.ui.screens.diagnosis import DiagnosisScreen
from gradtui.ui.screens.help import explanations
from gradtui.ui.sources import StaticSource, make_app
from gradtui.ui.views import DEPTH_MODES
from gradtui.ui.widgets import DepthProfile
from gradtui.ui.widgets.depth_profile import MARK, rows
from gradtui.ui.widgets.diagnosis import DiagnosisLine
from gradtui.ui.widgets.lines import plain
from ui_fakes import EchoSource

SMALL = Config(name="tiny", depth=3, width=8, n_samples=200, batch_size=16, activation="sigmoid",
               init="xavier_normal", lr=0.1)
GRAD = DEPTH_MODES[0]


def annotated(cfg: Config = SMALL, steps: int = 3) -> Snapshot:
    tr = Trainer(cfg)
    tr.run_steps(steps)
    return Explainer().annotate(tr, tr.snapshot())


def fake_prediction(pred_log10, modelled=True) -> theory.Prediction:
    names = [f"h{i + 1:02d}" for i in range(len(pred_log10))] + ["out"]
    layers = [theory.LayerPrediction(n, v, v, 1.0, 0.5) for n, v in zip(names, [*pred_log10, math.nan])]
    return theory.Prediction(0.25, 0.5, "ordered", 0.7, 0.7, 3.0, 1.0, 0.0, modelled, "", tuple(layers))


@pytest.fixture(scope="module")
def base() -> Snapshot:
    tr = Trainer(SMALL)
    tr.run_steps(5)
    return tr.snapshot()


def with_grads(snap: Snapshot, grads, pred) -> Snapshot:
    layers = np.array(snap.layers)
    layers[-1, :, LAYER_COL["grad_norm"]] = grads
    return dataclasses.replace(snap, layers=layers, prediction=pred)


def col_of(x: float, bar_w: int, lo=R.LOG_LO, hi=R.LOG_HI) -> int:
    return int(round(min(1, max(0, (x - lo) / (hi - lo))) * bar_w))


# ------------------------------------------------------------------ markers (pure rows)
def test_markers_sit_at_the_prediction_anchored_at_the_last_hidden_layer(base):
    # h03 (the last hidden layer) measures 1e-2: the prediction for h01 is 1e-2 * 10**-4 = 1e-6
    snap = with_grads(base, [1e-8, 1e-3, 1e-2, 1e-1], fake_prediction([-4.0, -2.0, 0.0]))
    width = 40
    lines = plain(rows(snap, width, 4, GRAD))
    label_w = len("h01 ")
    bar_w = width - label_w - 8 - 1
    for i, pred_log in enumerate([-6.0, -4.0, -2.0]):
        col = min(col_of(pred_log, bar_w), bar_w - 1)
        assert lines[i][label_w + col] == MARK, (i, lines[i])
        assert lines[i].count(MARK) == 1
    assert MARK not in lines[3]  # the output layer: no prediction


def test_a_bar_that_matches_the_prediction_ends_on_its_marker(base):
    snap = with_grads(base, [1e-6, 1e-4, 1e-2, 1e-1], fake_prediction([-4.0, -2.0, 0.0]))
    line = plain(rows(snap, 40, 4, GRAD))[0]
    n = col_of(-6.0, 40 - 4 - 9)
    assert line[4:4 + n + 1] == "█" * n + MARK


def test_no_markers_when_off_not_modelled_or_another_statistic(base):
    snap = with_grads(base, [1e-8, 1e-3, 1e-2, 1e-1], fake_prediction([-4.0, -2.0, 0.0]))
    assert MARK not in "".join(plain(rows(snap, 40, 4, GRAD, theory=False)))
    assert MARK not in "".join(plain(rows(snap, 40, 4, DEPTH_MODES[1])))
    off = dataclasses.replace(snap, prediction=fake_prediction([math.nan] * 3, modelled=False))
    assert MARK not in "".join(plain(rows(off, 40, 4, GRAD)))
    dead_anchor = with_grads(base, [1e-8, 1e-3, 0.0, 1e-1], fake_prediction([-4.0, -2.0, 0.0]))
    assert MARK not in "".join(plain(rows(dead_anchor, 40, 4, GRAD)))  # no finite anchor: no guess


def test_markers_far_outside_the_scale_are_clamped_to_the_panel(base):
    snap = with_grads(base, [1e-8, 1e-3, 1e-2, 1e-1], fake_prediction([-300.0, 50.0, 0.0]))
    lines = plain(rows(snap, 30, 4, GRAD))
    assert lines[0][4] == MARK and lines[1][4 + 30 - 4 - 9 - 1] == MARK
    assert all(len(x) <= 30 for x in lines)


# ------------------------------------------------------------------ the phase diagram (pure)
def test_phase_plane_puts_the_critical_line_at_relu_sigma_w2_2_and_the_point_on_the_net():
    w = phase.Where("relu", 0.7, 0.0, 20, 0.35, "ordered")
    p = phase.compute(w, 60, 8)
    lines = [t.plain for t in phase.plane_lines(w, p)]
    bottom = lines[7][phase.Y_LABEL_W:]  # sigma_b^2 = 0
    line_col = bottom.index(phase.LINE)
    assert abs(p.xs[line_col] - 2.0) / 2.0 < 0.15
    assert bottom.index(phase.POINT) == int(np.argmin(np.abs(np.log(p.xs) - math.log(0.7))))
    text = "\n".join(lines)
    assert "gradients vanish" in text and ("explode" in text)


def test_depth_scale_chart_marks_the_depth_and_the_net():
    w = phase.Where("tanh", 1.0, 0.0, 30, 1.0, "critical")
    p = phase.compute(w, 40, 8)
    chart = [t.plain for t in phase.xi_lines(w, p, 6)]
    assert any("depth 30" in x for x in chart)
    assert "▲" in chart[-1]


# ------------------------------------------------------------------ pilot tests
async def test_t_toggles_the_markers_and_the_title_shows_chi1():
    snap = annotated()
    assert snap.prediction is not None and snap.prediction.modelled
    app = make_app(StaticSource([snap]))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        prof = app.query_one(DepthProfile)
        w, h = prof.size
        assert MARK in "".join(plain(prof.rows(prof.snap, w, h)))
        assert f"χ₁ {snap.prediction.phase}" not in prof.border_title
        assert "χ₁" in prof.border_title and snap.prediction.phase in prof.border_title
        await pilot.press("t")
        await pilot.pause()
        assert MARK not in "".join(plain(prof.rows(prof.snap, w, h)))
        assert MARK not in prof.border_title and "χ₁" in prof.border_title


async def test_residual_nets_say_not_modelled_and_draw_no_markers():
    snap = annotated(SMALL.replace(residual=True))
    assert not snap.prediction.modelled
    app = make_app(StaticSource([snap]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        prof = app.query_one(DepthProfile)
        w, h = prof.size
        assert MARK not in "".join(plain(prof.rows(prof.snap, w, h)))
        assert "not modelled" in prof.border_title


async def test_the_phase_diagram_follows_a_new_activation():
    src = EchoSource(annotated())
    app = make_app(src)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("P")
        await app.workers.wait_for_complete()
        await pilot.pause()
        diagram = app.screen.query_one(phase.PhaseDiagram)
        assert diagram.where.act == "sigmoid" and diagram.plane is not None
        app.post_message(SnapshotMessage("run", annotated(SMALL.replace(activation="tanh"))))
        await pilot.pause()
        app.screen.check()  # (the screen's timer does this twice a second)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert diagram.where.act == "tanh" and "tanh" in diagram.render().plain
        assert diagram.plane is phase.compute(diagram.where, *reversed(diagram.layout_rows()[::2]))
        await pilot.press("a")  # the keys that move the point work on this screen too
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, phase.PhaseScreen)
        assert [type(c).__name__ for c in src.commands] == ["SetFields", "Reinit"]


async def test_P_opens_the_phase_diagram_with_the_point_and_labels():
    app = make_app(StaticSource([annotated()]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("P")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, phase.PhaseScreen)
        text = app.screen.query_one(phase.PhaseDiagram).render().plain
        assert phase.POINT in text and "depth 3" in text and "vanish" in text and "sigmoid" in text
        crit = app.snap.prediction.critical_sigma_w ** 2
        assert f"χ₁ = 1 at σ_w² ≈ {num(crit)}" in text and "gradients shrink e-fold" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, phase.PhaseScreen)


def _with_findings(snap: Snapshot) -> Snapshot:
    f1 = Finding("vanishing", "Vanishing gradients in h01-h02", "gradient norm 1e-12; h01/out = 3e-9; more",
                 "each layer multiplies by 0.2", (Remedy("a", "a x2 (activation sigmoid -> relu)", "slope 1"),),
                 "clipping does nothing for small gradients")
    f2 = Finding("update_ratio_low", "Steps too small", "ratio 1e-6", "lr small", (Remedy("+", "+ x4", "bigger"),))
    return dataclasses.replace(snap, findings=(f1, f2))


async def test_the_diagnosis_line_shows_the_top_finding_and_D_shows_all():
    app = make_app(StaticSource([_with_findings(annotated())]))
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        line = app.query_one(DiagnosisLine).text
        assert "Vanishing gradients in h01-h02" in line and "h01/out = 3e-9" in line and "; more" not in line
        assert "try a x2 (activation sigmoid -> relu)" in line and "Steps too small" not in line
        assert "(1 more, why)" in line
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, DiagnosisScreen)
        from gradtui.ui.screens.diagnosis import findings_text

        console = Console(width=150, record=True)
        console.print(findings_text(app.snap))
        full = console.export_text()
        for s in ("Steps too small", "each layer multiplies by 0.2", "+ x4", "clipping does nothing"):
            assert s in full
        await pilot.press("a", "r")  # a remedy's keys work on this screen
        await pilot.pause()
        assert isinstance(app.screen, DiagnosisScreen)
        assert [type(c).__name__ for c in app.source.commands] == ["SetFields", "Reset"]


async def test_lesson_flow_loads_the_preset_asks_for_the_key_and_explains_with_numbers():
    lesson = load_lesson(resolve("1"))
    snap = annotated()
    src = EchoSource(snap)
    app = make_app(src)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press("L")
        await pilot.pause()
        await pilot.press("enter")  # the first lesson
        await pilot.pause()
        assert isinstance(src.commands[0], LoadPreset) and src.commands[0].config == lesson.config
        panel = app.query_one(LessonPanel)

        def advance(n: int) -> None:  # the trainer ran n more steps with every command taken
            s = app.snap
            app.post_message(SnapshotMessage("run", dataclasses.replace(
                s, config=src.intent, commands_taken=src.submitted, total_steps=s.total_steps + n, step=s.step + n)))

        assert panel.run.state == "running"
        advance(lesson.start_steps)
        await pilot.pause()
        assert panel.run.state == "waiting" and "press a" in panel.run.todo
        assert "{" not in panel.run.text and panel.run.text
        n_before = len(src.commands)
        await pilot.press("a")
        await pilot.pause()
        assert src.commands[n_before:] == [SetFields.of(activation="tanh")]
        assert panel.run.state == "running"
        advance(lesson.steps[0].run - 1)
        await pilot.pause()
        assert panel.run.state == "running"  # not yet: one step short
        advance(1)
        await pilot.pause()
        assert panel.run.state == "done"
        assert "went from" in panel.run.text and "{" not in panel.run.text


async def test_a_step_without_keys_is_applied_from_the_lesson_picker_and_learn_opens_the_dashboard():
    lesson = load_lesson(resolve("12"))  # L2, then L1: no dashboard key sets them
    src = EchoSource(annotated())
    app = make_app(src)
    app.initial_lesson = lesson.name  # as ``gradtui learn 12`` in a terminal
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert src.commands == [LoadPreset(lesson.config)]
        panel = app.query_one(LessonPanel)
        s = app.snap
        app.post_message(SnapshotMessage("run", dataclasses.replace(
            s, config=src.intent, commands_taken=src.submitted, total_steps=s.total_steps + lesson.start_steps)))
        await pilot.pause()
        assert panel.run.state == "waiting" and panel.run.keyless(app.intent) == {"l2": 0.01}
        assert "apply" in panel.run.todo
        await pilot.press("L")
        await pilot.pause()
        await pilot.press("enter")  # the first option: apply this step's settings
        await pilot.pause()
        assert src.commands[-1] == SetFields.of(l2=0.01)
        assert panel.run.state == "running"


def test_learn_n_in_a_terminal_opens_the_dashboard_on_the_lesson(monkeypatch):
    import gradtui.learn as learn
    import gradtui.ui.terminal as terminal

    calls = []
    monkeypatch.setattr(learn, "_in_terminal", lambda: True)
    monkeypatch.setattr(terminal, "run_app", lambda cfg, **kw: calls.append((cfg, kw)) or 0)
    assert learn.main(["3"]) == 0
    lesson = load_lesson(resolve("3"))
    assert calls == [(lesson.config, {"lesson": lesson.name})]


def test_a_phase_counts_only_its_own_rows(base):
    from gradtui.ui.lesson_run import phase_rows

    steps = np.array([298, 299, 300, 0, 1, 2, 3])  # a reset in the window
    n = len(steps)
    snap = dataclasses.replace(base, steps=steps, glob=np.zeros((n,) + base.glob.shape[1:]),
                               layers=np.zeros((n,) + base.layers.shape[1:]))
    assert list(phase_rows(snap, 0).steps) == [0, 1, 2, 3]
    assert list(phase_rows(snap, 2).steps) == [2, 3]
    plain_run = dataclasses.replace(snap, steps=np.arange(10, 17))
    assert list(phase_rows(plain_run, 14).steps) == [14, 15, 16]
    assert phase_rows(plain_run, 0) is plain_run


def test_help_explains_the_formula_every_panel_and_every_regime():
    console = Console(width=90, record=True)
    console.print(explanations())
    text = console.export_text()
    assert "δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ φ'(z_l)" in text
    for tag in R.REGIME_TAG.values():
        assert tag in text
    assert "Theory markers" in text
