"""Pilot tests of the makemore views, the layout fitted to the net, the loss plot's pieces and
the cost of an idle dashboard (counted, never timed)."""

from __future__ import annotations

import numpy as np

from gradtui import kernels as K
from gradtui.config import Config
from gradtui.stats import Boundary, Snapshot
from gradtui.trainer import Trainer
from gradtui.ui.sources import LiveSource, StaticSource, make_app
from gradtui.ui.views import DEPTH_MODES
from gradtui.ui.widgets import DepthProfile, LossPlot
from gradtui.ui.widgets import boundary
from gradtui.ui.widgets.lines import LinesWidget, plain
from pilot_helpers import until

DEEP = Config(name="deep", depth=20, width=8, n_samples=200, batch_size=16, activation="tanh", lr=0.05)
SHALLOW = Config(name="shallow", depth=2, width=8, n_samples=200, batch_size=16, lr=0.05)


def fixed(cfg: Config, steps: int = 40) -> StaticSource:
    tr = Trainer(cfg)
    tr.run_steps(steps)
    return StaticSource([tr.snapshot(boundary=tr.boundary(), hist=tr.histograms())])


async def test_v_cycles_to_each_histogram_view_and_the_panel_draws_it():
    app = make_app(fixed(DEEP))
    async with app.run_test(size=(100, 30)) as pilot:
        prof = app.query_one(DepthProfile)
        for want in ("act histogram", "dL/dW histogram", "dL/dz histogram", "ratio over time"):
            while DEPTH_MODES[prof.mode].name != want:
                await pilot.press("v")
            await pilot.pause()
            assert prof.border_title.startswith(DEPTH_MODES[prof.mode].title)
            assert prof.has_class("-wide")  # the strips get the room
            lines = plain(prof._lines)
            assert lines and lines[0].startswith("h01")
        await pilot.press("v")  # sat/dead over time, then back to the bars
        await pilot.press("v")
        assert prof.mode == 0 and not prof.has_class("-wide")


async def test_at_80x24_the_loss_plot_gets_five_rows_and_a_deep_net_is_grouped():
    app = make_app(fixed(DEEP))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.query_one(LossPlot).size.height >= 5
        prof = app.query_one(DepthProfile)
        assert 4 <= prof.size.height < DEEP.depth + 1  # grouped


async def test_a_shallow_net_gives_its_rows_to_the_plots():
    sizes = {}
    for cfg in (SHALLOW, DEEP):
        app = make_app(fixed(cfg))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            sizes[cfg.name] = (app.query_one(DepthProfile).size.height, app.query_one(LossPlot).size.height)
    n_shallow = SHALLOW.depth + 1
    assert sizes["shallow"][0] == n_shallow + 1  # a row a layer and the histogram axis
    assert sizes["shallow"][1] > sizes["deep"][1] + 10
    assert sizes["deep"][0] >= DEEP.depth + 1  # at 120x40 every layer of the deep net has a row


async def test_titles_fit_at_80_columns_in_every_depth_mode():
    from rich.text import Text

    app = make_app(fixed(DEEP))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for _ in DEPTH_MODES:
            for w in app.query(".grads, .profile, .loss, .boundary"):
                title = Text.from_markup(w.border_title).plain
                assert len(title) <= w.size.width - 2, (title, w.size.width)
            await pilot.press("v")
            await pilot.pause()
        assert app.query_one(LossPlot).border_title.rstrip().endswith("l")


async def test_a_paused_dashboard_redraws_nothing():
    """Capped (paused): over about 15 of the runner's idle wake-ups no widget is rebuilt and the
    loss plot is not redrawn (counted, not timed)."""
    src = LiveSource(SHALLOW, max_steps=30)
    app = make_app(src)
    counts = {"rows": 0, "plot": 0}
    rows, redraw = LinesWidget.render_line, LossPlot.redraw

    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.status == "paused", what="the cap")
        await until(pilot, lambda: app.query_one(LossPlot)._due is None, what="the last plot redraw")
        await pilot.pause(0.2)  # the last snapshot's repaint

        def counting_rows(self, y):
            counts["rows"] += 1
            return rows(self, y)

        def counting_redraw(self, force=False):
            counts["plot"] += 1
            return redraw(self, force)

        LinesWidget.render_line, LossPlot.redraw = counting_rows, counting_redraw
        try:
            for _ in range(15):
                src.trainer.wake.set()
                await pilot.pause(0.1)
        finally:
            LinesWidget.render_line, LossPlot.redraw = rows, redraw
        assert counts == {"rows": 0, "plot": 0}
        app.exit()


def test_boundary_shows_test_points_as_marks_distinct_from_training_points():
    tr = Trainer(SHALLOW)
    tr.run_steps(5)
    bd = tr.boundary()
    assert bd.test_points is not None and len(bd.test_points) > 0 and len(bd.test_labels) == len(bd.test_points)
    one = Boundary(bd.extent, np.zeros_like(bd.values), bd.points[:0], bd.labels[:0],
                   np.array([[0.0, 0.0]]), np.array([1]))
    snap = Snapshot.build(tr.cfg, tr.layer_names, 5, "running", np.zeros(0, np.int64),
                          np.zeros((0, K.N_GSTATS)), np.zeros((0, 3, K.N_LSTATS)), boundary=one)
    text = "".join(plain(boundary.rows(snap, 40, 10)))
    assert text.count(boundary.TEST_MARK) == 1
    none = Boundary(bd.extent, np.zeros_like(bd.values), bd.points[:0], bd.labels[:0])
    snap2 = Snapshot.build(tr.cfg, tr.layer_names, 5, "running", np.zeros(0, np.int64),
                           np.zeros((0, K.N_GSTATS)), np.zeros((0, 3, K.N_LSTATS)), boundary=none)
    assert boundary.TEST_MARK not in "".join(plain(boundary.rows(snap2, 40, 10)))


def test_regression_prediction_has_a_scale_and_its_title_says_so():
    cfg = Config(depth=2, width=8, n_samples=200, batch_size=16, dataset="regression")
    tr = Trainer(cfg)
    tr.run_steps(5)
    snap = tr.snapshot(boundary=tr.boundary())
    lines = plain(boundary.rows(snap, 30, 8))
    assert len(lines) == 8 and "██" in lines[-1]
    lo, hi = lines[-1].split()[0], lines[-1].split()[-1]
    assert float(lo) < float(hi)  # the targets' range
    assert boundary.title("regress").startswith("prediction") and boundary.title("classify").startswith("boundary")
