"""The line-drawn widgets' pure renderers, called without an app: ``rows(snap, width, height)`` on
constructed snapshots (NaN/inf, no steps yet, many layers, tiny panels)."""

from __future__ import annotations

import numpy as np
import pytest

from gradtui.config import Config
from gradtui.numfmt import num
from gradtui.stats import LAYER_COL, Boundary, Snapshot
from gradtui.trainer import Trainer
from gradtui.ui import views as R
from gradtui.ui.views import DEPTH_MODES
from gradtui.ui.widgets import boundary, depth_profile, grad_rows
from gradtui.ui.widgets.lines import plain
from gradtui.ui.widgets.status_bar import status_text

SMALL = Config(name="tiny", depth=3, width=8, n_samples=200, batch_size=16, activation="sigmoid",
               init="xavier_normal", lr=0.1)


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    tr = Trainer(SMALL)
    tr.run_steps(20)
    return tr.snapshot(boundary=tr.boundary())


def with_newest(snap: Snapshot, stat: str, values: dict, status: str = "running") -> Snapshot:
    layers = np.array(snap.layers)
    for i, v in values.items():
        layers[-1, i, LAYER_COL[stat]] = v
    return Snapshot.build(snap.config, snap.layer_names, snap.step, status, np.array(snap.steps),
                          np.array(snap.glob), layers, task=snap.task, boundary=snap.boundary)


def test_view_helpers_are_nan_safe():
    s = R.spark_columns(np.array([np.nan, -np.inf, -100, R.LOG_LO, R.LOG_HI, 50]))[0]
    assert s[0] == "·" and s[1] == "·" and s[2] == "▁" and s[4] == "█" and s[5] == "█"
    assert R.groups(21, 13)[0] == (0, 2) and R.groups(21, 13)[-1] == (20, 21) and len(R.groups(21, 13)) == 13
    b = R.bucket_mean(np.array([[1.0], [np.nan], [3.0], [np.inf]]), 2)
    assert b[0, 0] == 1.0 and b[1, 0] == 3.0


def test_safe_log10_at_the_extremes():
    """One pass of np.log10 then non-finite -> NaN: positive finite values down to the smallest
    subnormal and up to the largest double keep their log; 0, -0, negatives, NaN and inf are NaN;
    float32 input is taken in float64; nothing warns."""
    import warnings

    x = np.array([5e-324, 1e-320, 1e-300, 1e-30, 1.0, 1e30, np.finfo(np.float64).max,
                  0.0, -0.0, -1e-300, -5.0, np.nan, np.inf, -np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = R.safe_log10(x)
        got32 = R.safe_log10(np.array([1e-45, 1e-30, 3.4e38, 0.0, np.inf], np.float32))
    np.testing.assert_allclose(got[:7], [np.log10(v) for v in x[:7]], rtol=1e-15)
    assert got[0] < -323 and got[6] > 308 and np.isnan(got[7:]).all()
    assert got32.dtype == np.float64 and got32[0] < -44 and got32[2] > 38 and np.isnan(got32[3:]).all()
    assert R.safe_log10(100.0) == 2.0 and np.isnan(R.safe_log10(0.0))


def test_bucket_means_match_a_direct_nan_mean_at_every_width():
    """bucket_mean (np.add.reduceat over the bucket starts) against a slice-by-slice mean of the
    finite values, with NaN, inf, huge and tiny entries, for widths from 1 to n - 1."""
    rng = np.random.default_rng(3)
    a = rng.lognormal(0, 30, (97, 3))  # 1e-13 .. 1e13 and beyond
    a[rng.random(a.shape) < 0.2] = np.nan
    a[5, 0], a[6, 1], a[7, 2], a[8, 0] = np.inf, -np.inf, 1e300, 5e-324
    a[40:60, 2] = np.nan  # a bucket with no finite value at all
    for width in (1, 2, 7, 31, 48, 96):
        edges = np.linspace(0, len(a), width + 1).astype(int)
        want = np.full((width, 3), np.nan)
        for i in range(width):
            for k in range(3):
                col = a[edges[i]:edges[i + 1], k]
                col = col[np.isfinite(col)]
                if len(col):
                    want[i, k] = col.mean()
        np.testing.assert_allclose(R.bucket_mean(a, width), want, rtol=1e-12, equal_nan=True)


def test_grad_rows_survive_nan_and_share_one_scale(snap):
    bad = with_newest(snap, "grad_norm", {0: np.nan, 1: 1e-9, 2: 1e-1}, status="diverged")
    lines = plain(grad_rows.rows(bad, 80, 10))
    assert len(lines) == bad.n_layers and all(len(s) <= 80 for s in lines)
    # a layer gone non-finite keeps showing its last finite value, tagged NaN/inf
    last = snap.layers[-2, 0, LAYER_COL["grad_norm"]]
    assert "NaN/inf" in lines[0] and f"last {num(last)} NaN/inf" in lines[0] and " nan" not in lines[0]
    # the same scale for every row: 1e-9 draws a low bar, 1e-1 a high one
    assert lines[1].rstrip().split()[1][-1] in "▁▂" and lines[2].split()[1][-1] in "▆▇"
    assert "DIVERGED" in status_text(bad).plain and "c (clip), then r (restart)" in status_text(bad).plain


def test_rows_before_any_snapshot_and_before_the_first_step():
    assert plain(grad_rows.rows(None, 40, 5)) == [grad_rows.WAITING]
    assert depth_profile.rows(None, 40, 5) == [] and boundary.rows(None, 40, 5) == []
    fresh = Trainer(SMALL).snapshot(status="compiling")
    for render in (grad_rows.rows, depth_profile.rows):
        lines = plain(render(fresh, 60, 10))
        assert len(lines) == fresh.n_layers
        assert all("no steps yet" in s and "nan" not in s for s in lines)


@pytest.mark.parametrize("mode", [m for m in DEPTH_MODES if m.kind == "bars"], ids=lambda m: m.stat)
def test_every_depth_mode_draws_one_bar_per_layer(snap, mode):
    lines = plain(depth_profile.rows(snap, 40, 10, mode))
    assert [s.split()[0] for s in lines] == list(snap.layer_names)
    assert all(len(s) <= 40 for s in lines)
    if mode.guide is not None:  # the guide sits in the same column on every row
        cols = {s.find("|") if "|" in s else s.find("┃") for s in lines}
        assert len(cols) == 1 and -1 not in cols


def test_depth_bars_are_full_at_the_top_of_the_scale_and_empty_below(snap):
    full = with_newest(snap, "dead", {0: 1.0, 1: 0.0})
    mode = next(m for m in DEPTH_MODES if m.stat == "dead")
    lines = plain(depth_profile.rows(full, 40, 10, mode))
    assert "100.0%" in lines[0] and lines[0].count("█") > 20 and "█" not in lines[1]


@pytest.mark.parametrize("width, height", [(1, 1), (4, 2), (200, 1), (30, 100)])
def test_extreme_panel_sizes(snap, width, height):
    g = grad_rows.rows(snap, width, height)
    assert len(g) == min(height, snap.n_layers) and all(s.cell_length <= max(width, 1) for s in g)
    d = depth_profile.rows(snap, width, height)
    assert len(d) == min(height, snap.n_layers)
    b = boundary.rows(snap, width, height)
    assert b == [] if width < 2 else (len(b) == height and all(s.cell_length == width for s in b))


def test_boundary_draws_the_training_points_over_the_regions(snap):
    bd = snap.boundary
    one = Boundary(extent=bd.extent, values=np.zeros_like(bd.values), points=bd.points[:1],
                   labels=np.ones(1, dtype=bd.labels.dtype))
    lines = boundary.rows(Snapshot.build(snap.config, snap.layer_names, snap.step, snap.status, snap.steps,
                                         snap.glob, snap.layers, task="classify", boundary=one), 40, 10)
    colours = {(seg.style.color.name, seg.style.bgcolor.name) for line in lines for seg in line}
    region, point = boundary.PALETTE[0][0], boundary.PALETTE[1][1]
    assert any(point in pair for pair in colours)  # the one point, in class 1's bright tone
    assert all(region in pair for pair in colours)  # everything else: class 0's region


def test_a_many_layer_net_groups_rows_and_keeps_out_alone():
    cfg = Config(depth=150, width=4, activation="tanh", init="xavier_normal", n_samples=200, batch_size=16)
    tr = Trainer(cfg)
    tr.run_steps(3)
    lines = plain(grad_rows.rows(tr.snapshot(), 80, 20))
    assert len(lines) == 20 and lines[-1].startswith("out ") and lines[0].startswith("h01-")


def test_text_lines_are_cut_with_an_ellipsis_padded_and_every_segment_styled():
    """The status bar's and the diagnosis line's strips (lines.text_lines): never wider than the
    widget, a cut line ends in '…' in the cut cell's style, the rest padded in the base style,
    and no segment without a style (Textual's NO_COLOR filter reads every one)."""
    from rich.console import Console
    from rich.style import Style
    from rich.text import Text

    from gradtui.ui.widgets.lines import text_lines

    base = Style(color="white", bgcolor="black")
    t = Text("short\n")
    t.append("a much longer second line", "bold red")
    lines = text_lines(t, 12, Console(), base)
    assert [line.cell_length for line in lines] == [12, 12]
    assert plain(lines) == ["short       ", "a much long…"]
    last = list(lines[1])[-1]
    assert last.text.endswith("…") and last.style.bold and last.style.color.name == "red"
    assert all(seg.style is not None for line in lines for seg in line)
    assert plain(text_lines(Text("exactly12chr"), 12, Console())) == ["exactly12chr"]
    assert text_lines(t, 0, Console(), base) == []  # no room: no line wider than asked
