"""SVG snapshot tests of the dashboard. Every state is rendered from a seeded, fixed number of
steps run synchronously (no free-running trainer) with wall-clock figures hidden, so the
baselines in tests/__snapshots__/ are stable run to run. Update with --snapshot-update."""

from __future__ import annotations

from gradtui.config import Config
from gradtui.presets import load_preset
from gradtui.ui.sources import make_app


def preset(name: str) -> Config:
    return load_preset(name)


async def _settle(pilot) -> None:
    await pilot.pause()
    await pilot.pause()


def test_main_deep_sigmoid(snap_compare):
    assert snap_compare(make_app(preset("deep-sigmoid"), steps=300), terminal_size=(80, 24), run_before=_settle)


def test_main_deep_sigmoid_large(snap_compare):
    assert snap_compare(make_app(preset("deep-sigmoid"), steps=300), terminal_size=(120, 40), run_before=_settle)


def test_main_relu_he(snap_compare):
    assert snap_compare(make_app(preset("relu-he"), steps=300), terminal_size=(80, 24), run_before=_settle)


def test_help_screen(snap_compare):
    assert snap_compare(make_app(preset("relu-he"), steps=10), press=["question_mark"], terminal_size=(80, 24),
                        run_before=_settle)


def test_diverged(snap_compare):
    app = make_app(preset("exploding"), steps=200)
    assert app.snap.status == "diverged"
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle)


def test_small_terminal_message(snap_compare):
    assert snap_compare(make_app(preset("relu-he"), steps=10), terminal_size=(50, 12), run_before=_settle)


def test_no_color(snap_compare, monkeypatch):
    """NO_COLOR=1 (Textual's monochrome filter reads every segment's style): the tags still tell
    the regimes apart."""
    monkeypatch.setenv("NO_COLOR", "1")  # read when the App is created
    assert snap_compare(make_app(preset("deep-sigmoid"), steps=300), terminal_size=(80, 24), run_before=_settle)


def test_dead_regime(snap_compare):
    """relu-he on the regression set: dead units (DEAD, not vanish)."""
    app = make_app(load_preset("relu-he", ["dataset=regression"]), steps=300)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle)


def test_saturated_regime(snap_compare):
    """exploding-tanh after 300 steps: its input-side layers sit in tanh's flat tails."""
    assert snap_compare(make_app(preset("exploding-tanh"), steps=300), terminal_size=(80, 24), run_before=_settle)


# ------------------------------------------------------------------ issue 16 on screen (theory, diagnosis)
def _press_then_settle(*keys: str):
    async def run(pilot) -> None:
        await _settle(pilot)
        for k in keys:
            await pilot.press(k)
            await pilot.pause()
        await pilot.app.workers.wait_for_complete()  # the phase diagram's grid (a thread worker)
        await _settle(pilot)
    return run


def test_theory_markers_off(snap_compare):
    """t: the depth panel without the theory's markers (the main screenshots show them on)."""
    assert snap_compare(make_app(preset("deep-sigmoid"), steps=300), terminal_size=(80, 24),
                        run_before=_press_then_settle("t"))


def test_phase_diagram(snap_compare):
    assert snap_compare(make_app(preset("deep-sigmoid"), steps=300), terminal_size=(80, 24),
                        run_before=_press_then_settle("P"))


def test_phase_diagram_large(snap_compare):
    assert snap_compare(make_app(preset("relu-he"), steps=300), terminal_size=(120, 40),
                        run_before=_press_then_settle("P"))


def test_diagnosis_screen(snap_compare):
    assert snap_compare(make_app(preset("deep-sigmoid"), steps=300), terminal_size=(80, 24),
                        run_before=_press_then_settle("D"))


def test_diagnosis_screen_large(snap_compare):
    assert snap_compare(make_app(preset("exploding"), steps=200), terminal_size=(120, 40),
                        run_before=_press_then_settle("D"))


def _ab_app():
    """A/B: deep-sigmoid against the same net with batch norm, 300 fixed steps each."""
    from gradtui.ui.sources import StaticSource

    a = preset("deep-sigmoid")
    return make_app([StaticSource.fixed(a, 300, "A"), StaticSource.fixed(a.replace(batchnorm=True), 300, "B")])


def test_ab_stacked(snap_compare):
    """Two runs stacked at 80x24 (gradients, no plots), the difference view below."""
    assert snap_compare(_ab_app(), terminal_size=(80, 24), run_before=_settle)


def test_ab_side_by_side(snap_compare):
    """Two runs side by side at 120x40 with their plots, the difference view below."""
    assert snap_compare(_ab_app(), terminal_size=(120, 40), run_before=_settle)


# ---------------------------------------------------------------- the makemore views (issue 18)
def _v(n: int) -> list[str]:
    return ["v"] * n


def _mode(name: str) -> int:
    from gradtui.ui.views import DEPTH_MODES

    return [m.name for m in DEPTH_MODES].index(name)


def test_activation_histograms(snap_compare):
    app = make_app(preset("deep-sigmoid"), steps=300)
    assert snap_compare(app, press=_v(_mode("act histogram")), terminal_size=(80, 24), run_before=_settle)


def test_activation_histograms_large(snap_compare):
    app = make_app(preset("exploding-tanh"), steps=300)  # saturated: mass at -1 and +1
    assert snap_compare(app, press=_v(_mode("act histogram")), terminal_size=(120, 40), run_before=_settle)


def test_grad_histograms(snap_compare):
    app = make_app(preset("deep-sigmoid"), steps=300)
    assert snap_compare(app, press=_v(_mode("dL/dW histogram")), terminal_size=(80, 24), run_before=_settle)


def test_grad_histograms_large(snap_compare):
    app = make_app(preset("deep-sigmoid"), steps=300)
    assert snap_compare(app, press=_v(_mode("dL/dz histogram")), terminal_size=(120, 40), run_before=_settle)


def test_update_ratio_over_time(snap_compare):
    app = make_app(preset("deep-sigmoid"), steps=300)
    assert snap_compare(app, press=_v(_mode("ratio over time")), terminal_size=(80, 24), run_before=_settle)


def test_update_ratio_over_time_large(snap_compare):
    app = make_app(preset("relu-he"), steps=300)
    assert snap_compare(app, press=_v(_mode("ratio over time")), terminal_size=(120, 40), run_before=_settle)


def _with_events():
    """relu-he, 300 steps, lr x2 at step 100 and tanh at step 200 (two numbered event marks)."""
    from gradtui import drive
    from gradtui.commands import SetFields
    from gradtui.trainer import Trainer
    from gradtui.ui.sources import StaticSource

    tr = Trainer(preset("relu-he"))
    drive.run(tr, 300, schedule=[(100, SetFields.of(lr=0.1)), (200, SetFields.of(activation="tanh"))])
    return make_app(StaticSource([tr.snapshot(boundary=tr.boundary(), hist=tr.histograms())]))


async def _settle_plot(pilot) -> None:
    await _settle(pilot)
    from gradtui.ui.widgets.run_panel import RunPanel

    for panel in pilot.app.query(RunPanel):
        panel.redraw()
    await pilot.pause()


def test_loss_plot_with_events(snap_compare):
    assert snap_compare(_with_events(), terminal_size=(80, 24), run_before=_settle_plot)


def test_loss_plot_with_events_large(snap_compare):
    assert snap_compare(_with_events(), terminal_size=(120, 40), run_before=_settle_plot)


def test_regression_prediction(snap_compare):
    app = make_app(load_preset("relu-he", ["dataset=regression", "init=xavier_normal"]), steps=300)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle)
