"""Pilot tests of the A/B dashboard: two runs start (--vs), a key acts on the focused run only,
tab moves the focus, x swaps, F closes, f forks a live run at its step (the fork's state is the
original's), the difference view and the shared gradient scale."""

from __future__ import annotations

import numpy as np

from gradtui.commands import SetFields, Step
from gradtui.config import Config
from gradtui.stats import LAYER_COL
from gradtui.ui.app import GradApp
from gradtui.ui.compare import RunDiff, differences, ratios, rows
from gradtui.ui.sources import LiveSource, make_app
from gradtui.ui.widgets import RunPanel
from gradtui.ui.widgets.lines import plain
from pilot_helpers import press, until
from ui_fakes import EchoSource, snapshot_of

SMALL = Config(name="tiny", depth=3, width=8, n_samples=200, batch_size=16, activation="sigmoid",
               init="xavier_normal", lr=0.1)


def echo_pair(b_cfg: Config = SMALL.replace(batchnorm=True)) -> tuple[GradApp, EchoSource, EchoSource]:
    a, b = EchoSource(snapshot_of(SMALL), "A"), EchoSource(snapshot_of(b_cfg), "B")
    return make_app([a, b]), a, b


def focused(app: GradApp) -> list[str]:
    return [p.run_id for p in app.query(RunPanel) if p.has_class("-focused")]


def order(app: GradApp) -> list[str]:
    return [p.run_id for p in app.query_one("#runs").query_children(RunPanel)]


async def test_vs_start_two_panels_titled_a_and_b_with_the_difference_view():
    app, a, b = echo_pair()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pa, pb = app.panel("A"), app.panel("B")
        assert pa.region.y < pb.region.y and pa.region.x == pb.region.x  # stacked below 120 columns
        assert str(pa.border_title).startswith("run A: tiny (batchnorm=false)  ◀ keys here (tab)")
        assert str(pb.border_title) == "run B: tiny (batchnorm=true)"
        assert focused(app) == ["A"] and app.query_one("#ab").display
        await pilot.resize_terminal(140, 40)
        await pilot.pause()
        assert pa.region.x < pb.region.x and pa.region.y == pb.region.y  # side by side
        lines = plain(app.query_one(RunDiff).rows(None, 60, 4))
        assert len(lines) == 4 and lines[0].startswith("h01")


async def test_one_run_has_no_titles_and_no_difference_view():
    app = make_app(EchoSource(snapshot_of(SMALL), "A"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert not app.query_one("#ab").display and focused(app) == []
        assert not app.panel("A").border_title
        await pilot.press("tab")  # tab, x and F with one run: a note, nothing else
        await pilot.press("x", "F")
        assert app.focus_i == 0 and len(app.sources) == 1


async def test_a_key_changes_only_the_focused_run_and_tab_moves_the_focus():
    app, a, b = echo_pair()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("plus")
        assert a.commands == [SetFields.of(lr=0.2)] and b.commands == []
        await pilot.press("tab")
        assert focused(app) == ["B"] and app.source is b
        assert "◀ keys here" in str(app.panel("B").border_title) and "◀" not in str(app.panel("A").border_title)
        await pilot.press("minus", "n")
        assert b.commands == [SetFields.of(lr=0.05), Step(1)] and len(a.commands) == 1
        await pilot.press("tab")
        assert focused(app) == ["A"]


async def test_swap_exchanges_places_and_names_and_the_keys_stay_with_their_run():
    app, a, b = echo_pair()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("tab", "x")
        await pilot.pause()
        assert order(app) == ["B", "A"] and app.sources == [b, a]
        assert app.panel("B").region.x < app.panel("A").region.x
        assert str(app.panel("B").border_title).startswith("run A: tiny (batchnorm=true)")
        assert focused(app) == ["B"] and app.source is b  # still the same run
        diff = app.query_one(RunDiff)
        assert diff.pair == (b.snap, a.snap)  # B/A now means the other way round
        await pilot.press("plus")
        assert len(b.commands) == 1 and a.commands == []


async def test_close_removes_run_b_and_the_keys_go_back_to_a():
    app, a, b = echo_pair()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("tab", "F")
        await pilot.pause()
        assert app.sources == [a] and order(app) == ["A"] and "B" not in app.by_id
        assert not app.query_one("#ab").display and focused(app) == [] and app.focus_i == 0
        await pilot.press("plus")
        assert len(a.commands) == 1 and b.commands == []


async def test_fork_clones_the_live_run_at_its_step_and_the_next_change_goes_to_the_fork():
    src = LiveSource(SMALL, run_id="A", max_steps=150)  # stops (paused) at step 150: a fixed state
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.step == 150 and app.snap.status == "paused",
                    what="run A capped at step 150")
        await press(pilot, "f")
        await until(pilot, lambda: len(app.sources) == 2 and app.sources[1].snap is not None
                    and app.sources[1].snap.status == "paused", what="the fork running")
        fork = app.sources[1]
        assert app.source is fork and focused(app) == [fork.run_id]
        from gradtui.ui.widgets.ab_loss import ABLossPlot

        hists = [h for h, _ in app.query_one(ABLossPlot)._runs]  # both curves from the origin's first step
        assert hists[1] is not hists[0]
        assert hists[1].arrays()[0][0] == hists[0].arrays()[0][0] == src.snap.steps[0]
        from gradtui.ui.widgets import LossPlot

        own = app.panel(fork.run_id).query_one(LossPlot).history  # the fork's own long view: the same
        assert own is hists[1] and own is not app.panel("A").query_one(LossPlot).history
        ta, tb = src.trainer, fork.trainer  # both paused: their threads leave the arrays alone
        assert tb is not ta and tb.step_count == ta.step_count == 150
        assert ta.mlp.theta.tobytes() == tb.mlp.theta.tobytes()
        for x, y in zip(ta.ring.last(150), tb.ring.last(150)):
            assert np.array_equal(x, y, equal_nan=True)
        await press(pilot, "plus", "n")  # the next change and a step: the fork only
        await until(pilot, lambda: fork.snap.step == 151 and fork.snap.config.lr == 0.2, what="the fork stepped")
        assert src.snap.step == 150 and src.snap.config.lr == 0.1 and src.intent.lr == 0.1
        assert ta.mlp.theta.tobytes() != tb.mlp.theta.tobytes()
        await press(pilot, "f")  # two runs already: no third
        await pilot.pause(0.2)
        assert len(app.sources) == 2
        await press(pilot, "F")
        await until(pilot, lambda: fork.done.is_set(), what="the fork's thread stopped")
        assert app.sources == [src]


async def test_a_static_run_cannot_be_forked():
    app = make_app(EchoSource(snapshot_of(SMALL), "A"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        assert len(app.sources) == 1


# ------------------------------------------------------------------ pure views
def test_the_difference_view_is_log10_of_b_over_a_per_layer():
    a, b = snapshot_of(SMALL, 5), snapshot_of(SMALL.replace(batchnorm=True), 5)
    labels, r = ratios(a, b, 10)
    ga, gb = (s.latest_finite_layers("grad_norm") for s in (a, b))
    assert np.allclose(r, np.log10(gb) - np.log10(ga))
    lines = plain(rows(a, b, 50, 10))
    assert [line.split()[0] for line in lines] == [x.strip() for x in labels]
    for line, x in zip(lines, r):
        assert line.endswith(f"{x:+6.2f}")
        bar_left, bar_right = line.split("│")
        if abs(x) > 0.1:  # (smaller: less than half a cell)
            assert ("█" in bar_right, "█" in bar_left) == (x > 0, x < 0)
    same = plain(rows(a, a, 50, 10))
    assert all(line.endswith("+0.00") and "█" not in line for line in same)
    deeper = snapshot_of(SMALL.replace(depth=5), 2)
    assert "different depths" in plain(rows(a, deeper, 50, 10))[0]
    assert ratios(a, deeper, 10) is None


def test_both_panels_draw_gradients_on_one_scale():
    """The same gradient norm gives the same bar in A and B (the fixed range of views.py), whatever
    the other layers of each run hold."""
    a, b = snapshot_of(SMALL, 4), snapshot_of(SMALL.replace(activation="relu", init="he_normal"), 4)
    col = LAYER_COL["grad_norm"]
    la, lb = a.layers.copy(), b.layers.copy()
    la[:, 0, col] = lb[:, 0, col] = 3e-4
    lb[:, 1:, col] = 1e3  # B's other layers far larger
    import dataclasses

    a2, b2 = dataclasses.replace(a, layers=la), dataclasses.replace(b, layers=lb)
    from gradtui.ui.widgets.grad_rows import rows as grad_rows

    first_a, first_b = plain(grad_rows(a2, 60, 10))[0], plain(grad_rows(b2, 60, 10))[0]
    assert first_a.split()[1] == first_b.split()[1]  # the same sparkline


def test_differences_name_the_fields_b_changes():
    assert differences(SMALL, SMALL) == ""
    assert set(differences(SMALL, SMALL.replace(batchnorm=True, lr=0.5)).split(", ")) == {"lr=0.5", "batchnorm=true"}
    many = SMALL.replace(lr=0.5, depth=4, width=9, batchnorm=True)
    assert differences(SMALL, many, limit=2).endswith(", …")


async def test_a_fork_that_would_not_fit_in_memory_is_refused(monkeypatch):
    import gradtui.memory as M

    def refuse(cfg, fresh_process=True, available=None):
        raise M.MemoryLimitError("this configuration needs about 9 GiB")

    monkeypatch.setattr(M, "check_memory", refuse)
    src = LiveSource(SMALL, run_id="A", max_steps=5)
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.step == 5, what="run A at step 5")
        await press(pilot, "f")
        await until(pilot, lambda: any("9 GiB" in n.message for n in app._notifications), what="the refusal")
        await pilot.pause(0.3)
        assert len(app.sources) == 1 and src.trainer.total_steps == 5


async def test_tab_on_a_screen_above_the_runs_moves_that_screens_focus():
    app, a, b = echo_pair()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        moved = []
        app.screen.focus_next = lambda *a, **k: moved.append(True)
        await pilot.press("tab")
        assert moved and app.focus_i == 0 and focused(app) == ["A"]
        await pilot.press("escape", "tab")
        assert app.focus_i == 1


# ---------------------------------------------------------------- one loss plot for both runs
def test_the_chance_level_is_drawn_only_when_both_runs_learn_the_same_classes():
    from gradtui.ui.widgets.ab_loss import shared_chance

    a = snapshot_of(SMALL)
    assert shared_chance([a, snapshot_of(SMALL.replace(batchnorm=True))]) == (np.log(3), 1 / 3)  # spiral: 3
    assert shared_chance([a, snapshot_of(SMALL.replace(dataset="xor"))]) is None
    assert shared_chance([snapshot_of(SMALL.replace(dataset="regression"))] * 2) is None  # regression


async def test_tall_a_b_shows_both_losses_on_one_plot_instead_of_one_plot_a_run():
    from gradtui.ui.widgets import LossPlot
    from gradtui.ui.widgets.ab_loss import ABLossPlot

    app, a, b = echo_pair()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        plot = app.query_one(ABLossPlot)
        assert plot.size.area and all(not p.size.area for p in app.query(LossPlot))
        history = {r: app.panel(r).query_one(LossPlot).history for r in ("A", "B")}  # the runs' own
        assert [h for h, _ in plot._runs] == [history["A"], history["B"]] and plot._has_data
        assert "]A " in str(plot.border_title) and "]B " in str(plot.border_title)  # the legend
        await pilot.press("x")  # a swap renames the curves: the first place is A
        await pilot.pause()
        assert [h for h, _ in plot._runs] == [history["B"], history["A"]]
        await pilot.press("F")  # one run again: its own loss plot is back, drawn
        await pilot.pause()
        own = app.panel("B").query_one(LossPlot)
        assert not app.query_one("#ab").display and own.size.area and own._has_data and not own._stale


async def test_short_a_b_keeps_the_difference_view_and_no_plot():
    from gradtui.ui.widgets.ab_loss import ABLossPlot

    app, a, b = echo_pair()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.query_one(RunDiff).size.width >= 78 and not app.query_one(ABLossPlot).size.area


def test_each_runs_changes_are_marked_by_side_in_step_order():
    from gradtui.stats import Event
    from gradtui.ui.widgets.ab_loss import MARKS_PER_RUN, run_marks

    import dataclasses

    a = dataclasses.replace(snapshot_of(SMALL), events=(Event(50, "lr=0.2"),))
    b = dataclasses.replace(a, events=tuple(Event(s, f"e{s}") for s in (10, 30, 60, 70, 80, 90, 500)))
    marks = run_marks([("A", a), ("B", b)], 0, 100)  # B: six changes in the window, one after it
    assert MARKS_PER_RUN == 4 and [m[0] for m in marks] == [
        ("A1", 50, "lr=0.2"), ("B3", 60, "e60"), ("B4", 70, "e70"), ("B5", 80, "e80"), ("B6", 90, "e90")]
    assert [side for _, side in marks] == ["A", "B", "B", "B", "B"]
