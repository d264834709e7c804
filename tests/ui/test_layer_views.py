"""The depth panel's makemore views, pure: histogram strips from constructed Histograms
(saturation at the ends, a spike at zero, decades) and per-layer series over time."""

from __future__ import annotations

import numpy as np
import pytest

from gradtui.config import Config
from gradtui.histograms import BINS, Histograms
from gradtui.numfmt import num
from gradtui.stats import LAYER_COL, Snapshot
from gradtui.trainer import Trainer
from gradtui.ui.views import BARS, DEPTH_MODES
from gradtui.ui.widgets import depth_profile
from gradtui.ui.widgets.layer_views import NO_HIST, strip_levels
from gradtui.ui.widgets.lines import plain

CFG = Config(name="tiny", depth=3, width=8, n_samples=200, batch_size=16, activation="tanh", lr=0.1)
MODE = {m.name: m for m in DEPTH_MODES}


@pytest.fixture(scope="module")
def base() -> Snapshot:
    tr = Trainer(CFG)
    tr.run_steps(30)
    return tr.snapshot()


def with_hist(snap: Snapshot, act=None, grad=None, delta=None) -> Snapshot:
    n = snap.n_layers
    uniform_act = np.full((n, BINS), 1.0 / BINS)
    uniform_log = np.full((n, BINS + 2), 1.0 / (BINS + 2))
    rng = np.tile([-1.0, 1.0], (n, 1))
    h = Histograms(snap.step, uniform_act if act is None else act, rng,
                   uniform_log if grad is None else grad, uniform_log if delta is None else delta)
    return Snapshot.build(snap.config, snap.layer_names, snap.step, snap.status, np.array(snap.steps),
                          np.array(snap.glob), np.array(snap.layers), task=snap.task, hist=h)


def test_strip_levels_resample_and_keep_any_mass_visible():
    frac = np.zeros(32)
    frac[0], frac[31], frac[10] = 0.5, 0.499, 0.001
    lv = strip_levels(frac, 16)  # two bins a cell
    assert lv[0] == 8 and lv[15] == 8 and lv[5] == 1 and lv[1:5].sum() == 0
    assert list(strip_levels(np.array([0.0, 1.0]), 4)) == [0, 0, 8, 8]  # repeated over cells
    assert strip_levels(np.zeros(5), 3).tolist() == [0, 0, 0] and strip_levels(frac, 0).size == 0


def test_saturated_tanh_shows_mass_at_both_ends(base):
    act = np.zeros((base.n_layers, BINS))
    act[0, 0] = act[0, -1] = 0.5  # layer 0 saturated at -1 and +1
    act[1, BINS // 2] = 1.0  # layer 1 all near 0
    act[2] = 1.0 / BINS
    lines = plain(depth_profile.rows(with_hist(base, act=act), 60, 10, MODE["act histogram"]))
    assert len(lines) == base.n_layers + 1  # + the axis
    lw = len(base.layer_names[0]) + 1
    assert lines[0][lw] == "█" and lines[0][lw + 20] == " " and "ends 100.0%" in lines[0]
    assert "ends" not in lines[1] and lines[1][lw] == " " and "█" in lines[1]
    axis = lines[-1]
    assert axis.split() == ["-1", "0", "1"]
    rng = np.tile([-1.0, 1.0], (base.n_layers, 1))
    rng[-1] = (-3.5, 2.25)  # the output layer's logits have their own range: stated on its row
    own = Snapshot.build(base.config, base.layer_names, base.step, base.status, np.array(base.steps),
                         np.array(base.glob), np.array(base.layers),
                         hist=Histograms(base.step, act, rng, act[:, :1].repeat(BINS + 2, 1), act[:, :1].repeat(BINS + 2, 1)))
    assert plain(depth_profile.rows(own, 60, 10, MODE["act histogram"]))[-2].endswith("-3.5…2.2")


def test_dead_units_are_a_spike_in_the_zero_cell_and_decades_are_labelled(base):
    grad = np.zeros((base.n_layers, BINS + 2))
    grad[0, 0] = 1.0  # all zeros (dead)
    grad[1, 1 + 23] = 1.0  # all in decade 1e-7
    grad[2, -1] = 0.2
    grad[2, 1 + 30] = 0.8
    lines = plain(depth_profile.rows(with_hist(base, grad=grad), 60, 10, MODE["dL/dW histogram"]))
    label_w = len(base.layer_names[0]) + 1
    assert lines[0][label_w] == "█" and set(lines[0][label_w + 1:label_w + 40]) <= {" "} and "~0" in lines[0]
    assert lines[1][label_w] == "·" and "~1e-7" in lines[1]
    assert lines[2].endswith("~1e0") and lines[2][:-4].rstrip()[-1] == BARS[2]  # overflow: 0.2 of 0.8
    axis = lines[-1]
    assert axis.split() == ["0", "1e-20", "1e-10", "1"]
    strip_w = 60 - label_w - len(" ~1e-7")
    assert axis.index("1e-10") - label_w == 1 + 20 * (strip_w - 2) // BINS  # decade 20 of the inner cells


@pytest.mark.parametrize("name", ["act histogram", "dL/dW histogram", "dL/dz histogram"])
@pytest.mark.parametrize("width, height", [(1, 1), (8, 2), (200, 1), (30, 100)])
def test_histogram_rows_at_extreme_sizes(base, name, width, height):
    lines = depth_profile.rows(with_hist(base), width, height, MODE[name])
    rows = min(max(1, height - 1) if height >= 2 else 1, base.n_layers)
    assert len(lines) == rows + (height >= 2) and all(s.cell_length <= width for s in lines)


def test_histogram_view_before_any_histogram(base):
    lines = plain(depth_profile.rows(base, 60, 10, MODE["act histogram"]))
    assert base.hist is None and len(lines) == base.n_layers and all(NO_HIST in s for s in lines)


def test_update_ratio_over_time_on_a_log_axis_with_the_guide_in_the_middle(base):
    layers = np.array(base.layers)
    n = len(layers)
    col = LAYER_COL["update_ratio"]
    layers[:, 0, col] = 1.0  # the top of the scale
    layers[:, 1, col] = 1e-3  # the guide
    layers[:, 2, col] = np.logspace(-6, 0, n)  # rising through it
    snap = Snapshot.build(base.config, base.layer_names, base.step, base.status, np.array(base.steps),
                          np.array(base.glob), layers)
    lines = plain(depth_profile.rows(snap, 60, 10, MODE["ratio over time"]))
    assert len(lines) == base.n_layers
    spark = [s[4:].split()[0].lstrip("·") for s in lines]  # (the window is narrower: '·' = no data)
    assert len(spark[0]) == n and set(spark[0]) == {"█"} and len(set(spark[1])) == 1
    assert BARS.index(spark[1][0]) in (4, 5)  # the middle of eight levels
    assert lines[0].endswith(" 1") and lines[1].endswith(num(1e-3))
    assert spark[2][0] == "▁" and spark[2][-1] == "█"


def test_saturated_or_dead_over_time_picks_by_activation(base):
    layers = np.array(base.layers)
    layers[:, :, LAYER_COL["saturated"]] = 0.5
    layers[:, :, LAYER_COL["dead"]] = 0.0
    snap = Snapshot.build(base.config, base.layer_names, base.step, base.status, np.array(base.steps),
                          np.array(base.glob), layers)
    assert all("50.0%" in s for s in plain(depth_profile.rows(snap, 60, 10, MODE["sat/dead over time"])))
    relu = Snapshot.build(Config(activation="relu"), base.layer_names, base.step, base.status,
                          np.array(base.steps), np.array(base.glob), layers)
    assert all("0.0%" in s for s in plain(depth_profile.rows(relu, 60, 10, MODE["sat/dead over time"])))
