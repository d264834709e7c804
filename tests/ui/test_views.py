"""What the dashboard's panels say: one regime rule for every panel, dead and saturated layers,
one number format, readable group labels, and a dashboard that runs under NO_COLOR and 16 colours."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gradtui import regimes as G
from gradtui.config import Config
from gradtui.numfmt import num, pct
from gradtui.presets import load_preset
from gradtui.stats import LAYER_COL, Snapshot
from gradtui.trainer import Trainer
from gradtui.ui.sources import StaticSource, make_app
from gradtui.ui.widgets import DepthProfile, GradRows, depth_profile
from gradtui.ui.widgets.lines import plain
from gradtui.ui import views as R
from gradtui.ui.widgets.status_bar import status_text

TAG_TO_REGIME = {tag: reg for reg, tag in R.REGIME_TAG.items()}
SMALL = Config(name="tiny", depth=3, width=8, n_samples=200, batch_size=16, activation="sigmoid",
               init="xavier_normal", lr=0.1)


def snapshot_after(cfg: Config, steps: int) -> Snapshot:
    tr = Trainer(cfg)
    with np.errstate(all="ignore"):
        done = 0
        while done < steps:
            n = tr.run_steps(min(1000, steps - done))
            done += n
            if n == 0:
                break
    return tr.snapshot()


def with_layers(snap: Snapshot, **changes) -> Snapshot:
    """A copy of ``snap`` whose newest row has some per-layer statistics replaced:
    ``grad_norm={0: 1e-9}``, ``first_grad_norm={2: 1e-3}`` (the oldest row), ``dead={...}``."""
    layers = np.array(snap.layers)
    for key, values in changes.items():
        row, stat = (0, key[len("first_"):]) if key.startswith("first_") else (-1, key)
        for i, v in values.items():
            layers[row, i, LAYER_COL[stat]] = v
    return Snapshot.build(snap.config, snap.layer_names, snap.step, snap.status, np.array(snap.steps),
                          np.array(snap.glob), layers, task=snap.task)


def line_text(widget, y: int) -> str:
    return "".join(s.text for s in widget.render_line(y))


def line_colors(widget, y: int) -> set[str]:
    """Colours of the non-blank, non-label cells of a line (the bars / sparkline / value)."""
    segs = list(widget.render_line(y))[1:]
    return {s.style.color.name for s in segs if s.text.strip() and s.style and s.style.color}


async def render_panels(snap: Snapshot, size=(140, 60)) -> tuple[list[str], list[str], list[set], list[set]]:
    app = make_app(StaticSource([snap]))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        rows, prof = app.query_one(GradRows), app.query_one(DepthProfile)
        assert rows.size.height >= snap.n_layers, "one row per layer for this test"
        n = snap.n_layers
        return ([line_text(rows, y) for y in range(n)], [line_text(prof, y) for y in range(n)],
                [line_colors(rows, y) for y in range(n)], [line_colors(prof, y) for y in range(n)])


# ------------------------------------------------------------------ one rule, every panel
def _grown(snap):  # one layer grew 1000x over the window to 2.0: exploding by the growth rule only
    return with_layers(snap, grad_norm={1: 2.0}, first_grad_norm={1: 2e-3})


CASES = {
    "deep-sigmoid@300": lambda: snapshot_after(load_preset("deep-sigmoid"), 300),
    "relu-he@300": lambda: snapshot_after(load_preset("relu-he"), 300),
    "relu-he-regression@300": lambda: snapshot_after(load_preset("relu-he", ["dataset=regression"]), 300),
    "exploding@200 (diverged)": lambda: snapshot_after(load_preset("exploding"), 200),
    "tanh-saturating@300": lambda: snapshot_after(
        Config(depth=12, activation="tanh", init="xavier_normal", init_gain=2.8, lr=0.6), 300),
    "grew-1000x": lambda: _grown(snapshot_after(load_preset("relu-he"), 300)),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_rows_and_depth_panel_agree_on_every_layer(case):
    snap = CASES[case]()
    rows, prof, rows_col, prof_col = await render_panels(snap)
    for i, reg in enumerate(snap.regimes):
        tag = rows[i].split()[-1]
        assert TAG_TO_REGIME[tag] == reg, f"{case}: layer {snap.layer_names[i]} row says {tag}, rule says {reg}"
        assert rows_col[i] == {R.REGIME_COLOR[reg]}, (case, i, rows_col[i])
        assert prof_col[i] <= {R.REGIME_COLOR[reg]}, (case, i, prof_col[i])  # an empty bar has no colour
        assert rows[i].split()[0] == prof[i].split()[0] == snap.layer_names[i]


def test_grown_layer_is_exploding_in_the_one_rule():
    snap = CASES["grew-1000x"]()
    assert snap.regimes[1] == G.EXPLODING and G.classify(snap.latest_layers("grad_norm"))[1] != G.EXPLODING


# ------------------------------------------------------------------ the rule itself
def test_rule_and_precedence():
    c = G.classify
    assert c([1e-12, 1e-6, 1e-2, 1.0, np.nan, np.inf, -np.inf]) == \
        ("vanishing", "vanishing", "ok", "ok", "nan", "nan", "nan")
    assert c([1e-2, 1e3]) == ("vanishing", "exploding")  # relative to the largest layer
    assert c([2.0], first=[0.001]) == ("exploding",)  # grew 2000x
    assert c([0.5], first=[1e-6]) == ("ok",)  # grew, but stayed below 1
    assert c([2.0], first=[0.03]) == ("ok",)  # grew 67x only
    # precedence: nan > dead > exploding > saturated > vanishing > ok
    assert c([np.nan], saturated=[1.0], dead=[1.0]) == ("nan",)
    assert c([1e3], saturated=[1.0], dead=[0.5]) == ("dead",)
    assert c([1e3], saturated=[1.0], dead=[0.49]) == ("exploding",)
    assert c([1e-9], saturated=[0.5]) == ("saturated",)
    assert c([1e-9], saturated=[0.49]) == ("vanishing",)
    # an exact 0: dead when a layer died (nothing gets through), vanishing (underflow) otherwise
    assert c([0.0, 0.0, 1.0], dead=[0.0, 0.9, 0.0]) == ("dead", "dead", "ok")
    assert c([0.0, 1.0], dead=[0.0, 0.3]) == ("vanishing", "ok")
    assert c([]) == ()
    assert c([0.0, 0.0]) == ("vanishing", "vanishing")
    assert c([1.0], saturated=[np.nan], dead=[np.nan]) == ("ok",)
    assert set(G.PRECEDENCE) == set(G.RULES) == set(R.REGIME_COLOR) == set(R.REGIME_TAG)


def test_no_steps_yet_regimes_are_ok():
    snap = Trainer(SMALL).snapshot()
    assert snap.regimes == ("ok",) * snap.n_layers


def test_dead_relu_net_reads_dead_not_vanishing():
    """relu-he on the regression set: its units die, every gradient is exactly 0."""
    snap = CASES["relu-he-regression@300"]()
    dead = snap.latest_layers("dead")
    assert (snap.latest_layers("grad_norm") == 0).all() and dead.max() >= G.DEAD_FRAC
    assert snap.regimes == (G.DEAD,) * snap.n_layers


def test_saturating_tanh_net_reads_saturated():
    snap = CASES["tanh-saturating@300"]()
    sat = snap.latest_layers("saturated")
    assert sat.max() >= G.SATURATED_FRAC
    for s, r in zip(sat, snap.regimes):
        assert (r == G.SATURATED) == (s >= G.SATURATED_FRAC and r not in (G.DEAD, G.EXPLODING, G.NAN))
    assert G.SATURATED in snap.regimes


def test_healthy_presets_read_ok():
    for name in ("relu-he", "selu-lecun", "residual"):
        snap = snapshot_after(load_preset(name), 300)
        assert set(snap.regimes) == {G.OK}, (name, snap.regimes)


# ------------------------------------------------------------------ numbers
@pytest.mark.parametrize("x, text", [
    (9.765625e-05, "9.8e-05"), (1.5e-05, "1.5e-05"), (3.61e118, "3.6e+118"), (0.1, "0.1"), (0.05, "0.05"),
    (0.0125, "0.013"), (0.00625, "6.3e-03"), (250.0, "250"), (999.7, "1.0e+03"), (0.00999, "0.01"),
    (2.0, "2"), (-0.5, "-0.5"), (0.0, "0"), (float("nan"), "nan"), (float("inf"), "inf"),
    (-float("inf"), "-inf"), (5e-324, "4.9e-324"), (1.7976931348623157e308, "1.8e+308"), ("x", "?"),
])
def test_one_number_format(x, text):
    assert num(x) == text


def test_number_format_digits_and_pct():
    assert num(1.0986, 3) == "1.1" and num(1.0456, 3) == "1.05" and num(9.765625e-05, 3) == "9.77e-05"
    assert pct(0.125) == "12.5%" and pct(float("nan")) == "–"


def test_status_bar_uses_the_one_format():
    from gradtui.commands import SetFields

    tr = Trainer(SMALL)
    tr.apply(SetFields.of(**{"lr": 0.1 / 1024}))  # ten presses of -
    tr.run_steps(2)
    text = status_text(tr.snapshot()).plain
    assert "lr:9.8e-05" in text and "lr=9.8e-05" in text and "9.76563e-05" not in text
    assert re.search(r"loss \d\.\d\d?\b", text)


def test_status_bar_before_the_first_step_says_no_loss_not_nan():
    text = status_text(Trainer(SMALL).snapshot()).plain
    assert "loss –" in text and "nan" not in text


async def test_diverged_row_says_last_and_keeps_the_tag_apart():
    """3.61e+118 used to run into the tag: '3.61e+118NaN/inf'."""
    snap = snapshot_after(load_preset("relu-he"), 20)
    snap = with_layers(snap, grad_norm={0: np.nan})
    layers = np.array(snap.layers)
    layers[-2, 0, LAYER_COL["grad_norm"]] = 3.61e118  # the last finite value before the NaN
    snap = Snapshot.build(snap.config, snap.layer_names, snap.step, "diverged", np.array(snap.steps),
                          np.array(snap.glob), layers, task=snap.task)
    rows, prof, _, _ = await render_panels(snap, size=(80, 24))
    assert rows[0].rstrip().endswith("last 3.6e+118 NaN/inf")
    assert prof[0].rstrip().endswith("last 3.6e+118")
    for line in rows:
        assert re.search(r"\S (ok|vanish|saturated|EXPLODE|DEAD|NaN/inf)\s*$", line), line


def test_depth_panel_says_no_steps_yet_before_the_first_step():
    tr = Trainer(SMALL)
    lines = plain(depth_profile.rows(tr.snapshot(status="compiling"), 60, 30))
    assert len(lines) == tr.mlp.n_layers
    assert all("no steps yet" in s and "nan" not in s for s in lines), lines


# ------------------------------------------------------------------ grouping and labels
@pytest.mark.parametrize("n, rows", [(151, 30), (151, 2), (21, 13), (101, 50), (5, 4), (5, 5), (1, 3), (2, 1)])
def test_groups_keep_out_alone_and_cover_every_layer(n, rows):
    grp = R.groups(n, rows)
    assert len(grp) == min(n, rows)
    assert grp[0][0] == 0 and grp[-1][1] == n and all(a[1] == b[0] for a, b in zip(grp, grp[1:]))
    if len(grp) >= 2:
        assert grp[-1] == (n - 1, n)
    sizes = [b - a for a, b in grp[:-1]] if len(grp) >= 2 else []
    assert not sizes or max(sizes) - min(sizes) <= 1


async def test_150_layers_have_readable_labels_and_out_on_its_own_row():
    cfg = Config(depth=150, width=4, activation="tanh", init="xavier_normal", n_samples=200, batch_size=16)
    snap = snapshot_after(cfg, 3)
    app = make_app(StaticSource([snap]))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for widget in (app.query_one(GradRows), app.query_one(DepthProfile)):
            h = widget.size.height
            labels = [line_text(widget, y).split()[0] for y in range(h)]
            assert labels[-1] == "out"
            for lab in labels[:-1]:
                assert re.fullmatch(r"h\d{2,3}-\d{2,3}", lab), lab
            assert labels[0].startswith("h01-") and labels[-2].endswith("-150")


# ------------------------------------------------------------------ NO_COLOR and 16 colours
@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TEXTUAL_COLOR_SYSTEM": "standard"}])
async def test_dashboard_runs_under_no_color_and_16_colours(monkeypatch, env):
    """NO_COLOR made Textual's monochrome filter read the style of every segment; blank strips had
    none and the first paint crashed."""
    import textual.constants

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    if "TEXTUAL_COLOR_SYSTEM" in env:  # read once, when textual is imported
        monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", env["TEXTUAL_COLOR_SYSTEM"])
    app = make_app(SMALL.replace(depth=2), steps=30)  # a short net: blank lines below the rows
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for key in ("v", "v", "v", "v", "v", "question_mark", "escape"):
            app.simulate_key(key)
            await pilot.pause(0.1)
        svg = app.export_screenshot()
        assert "step" in svg and app.is_running
        await pilot.press("q")
    assert app.return_code in (0, None)


@pytest.mark.parametrize("name, sets", [("relu-he", ["dataset=regression"]), ("deep-sigmoid", []),
                                        ("exploding", [])])
def test_export_rows_get_the_same_regimes(tmp_path, name, sets):
    """A consumer of ``--export`` gets the dashboard's regimes with ``regimes.of_export_row``."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "run.jsonl"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    args = [sys.executable, "-m", "gradtui", "--preset", name, "--headless", "--steps", "300", "--export", str(out)]
    for s in sets:
        args += ["--set", s]
    subprocess.run(args, check=True, env=env, capture_output=True, cwd=tmp_path)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    snap = snapshot_after(load_preset(name, sets), 300)
    assert G.of_export_row(rows[-1], rows[0]) == snap.regimes
