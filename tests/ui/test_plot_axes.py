"""The loss plot's axes, pure: tick labels distinct (the old axis read 1.11 / 1.1 / 1.1), log ticks
labelled as losses at their positions, the chance levels, the numbered event marks."""

from __future__ import annotations

import math

import pytest

from gradtui.data import DATASETS
from gradtui.stats import Event
from gradtui.ui import plot_axes as A


@pytest.mark.parametrize("lo, hi", [(1.095, 1.115), (1.1, 1.1000001), (0.01, 3.0), (1e-6, 1e3), (2.0, 2.5),
                                    (0.6931, 0.6932), (1e-300, 1e300), (5.0, 5.0)])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_log_tick_labels_are_distinct_and_name_the_loss_at_their_position(lo, hi, n):
    pos, labels = A.log_ticks(math.log10(lo), math.log10(hi), n)
    assert 1 <= len(pos) <= n and len(labels) == len(pos)
    assert len(set(labels)) == len(labels)
    assert all(math.log10(lo) - 1e-9 <= p <= math.log10(hi) + 1e-9 for p in pos)
    for p, label in zip(pos, labels):  # the label is the loss at that height, to its digits
        assert float(label) == pytest.approx(10 ** p, rel=0.05)
    if hi > lo:
        assert len(pos) >= 2


def test_narrow_log_range_gets_more_digits_not_duplicates():
    pos, labels = A.log_ticks(math.log10(1.098), math.log10(1.112), 3)
    assert len(labels) >= 2 and len(set(labels)) == len(labels) and all(len(s) <= 5 for s in labels)


def test_value_ticks_and_distinct_labels():
    assert A.value_ticks(0.0, 1.0, 3) == [0.0, 0.5, 1.0]
    assert A.distinct_labels([1.1, 1.11, 1.111]) == ["1.1", "1.11", "1.111"]
    assert A.value_ticks(float("nan"), 1.0, 3) == []


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("k", [2, 3, 7])
def test_chance_levels_are_ln_k_and_one_over_k(name, k):
    spec = DATASETS[name]
    got = A.chance(name, k)
    classes = spec.n_classes(k)
    if spec.task != "classify":
        assert got is None
    else:
        assert got == pytest.approx((math.log(classes), 1.0 / classes))
    assert A.chance("no-such-set", 3) is None


def test_event_marks_are_numbered_within_the_window_and_listed():
    events = [Event(5, "lr=0.2"), Event(50, "act tanh"), Event(500, "later")] + [Event(60 + i, f"e{i}") for i in range(12)]
    marks = A.event_marks(events, 10, 100)
    assert [m[0] for m in marks] == list(range(1, A.MAX_MARKS + 1))
    assert all(10 < m[1] <= 100 for m in marks) and marks[-1][2] == "e11"
    line = A.window_line(0, 2000, marks[:2], 80)
    assert line.startswith("steps 0-2,000") and "1 e3" in line and "2 e4" in line
    assert len(A.window_line(0, 2000, marks, 30)) == 30 and A.window_line(0, 2000, marks, 30).endswith("…")


def test_the_loss_history_keeps_the_whole_run_in_rows_of_equal_spans():
    """A 60,000-step run kept in <= cap rows: the first row is the run's first steps (at their
    middle), every row covers about as many steps as any other, the newest steps are there, and
    the mean loss is the run's mean (the old pairwise merge started a long run's plot at 3/5 of it)."""
    from types import SimpleNamespace

    import numpy as np

    from gradtui.ui.widgets.loss_plot import History

    cols = {"loss": 1, "test_loss": 2, "test_acc": 3}
    h = History(cap=512)
    for start in range(0, 60_000, 250):  # windows of 250 steps, overlapping the previous by 50
        steps = np.arange(max(0, start - 50), start + 250)
        data = np.column_stack([steps, 1.0 + steps / 60_000, np.where(steps % 10 == 0, 2.0, np.nan),
                                np.full(len(steps), 0.5)])
        h.add(SimpleNamespace(steps=steps, step=int(steps[-1]) + 1,
                              global_series=lambda k, d=data: d[:, cols[k]]))
    x, loss, test_loss, acc = h.arrays()
    assert len(h.rows) <= 512 and h.stride >= 64
    assert x[0] < h.stride and x[-1] >= 60_000 - h.stride  # from the start to the newest steps
    spans = np.diff(h.rows[:, 0])
    assert spans.max() <= h.stride and spans.min() >= h.stride / 2  # equal spans (the odd one: half)
    assert abs(np.average(loss[: len(h.rows)]) - 1.5) < 0.01  # 1 + mean(step)/60,000
    assert np.isfinite(test_loss[: len(h.rows)]).all() and (acc == 0.5).all()  # sparse test figures averaged


def test_a_merged_history_row_sits_at_the_mean_of_the_steps_it_holds():
    """After an odd overflow a row holds fewer steps than the stride; a later merge weighs it by
    what it holds (reported in review: equal weights put a row of steps 16-21 at 18.0)."""
    from types import SimpleNamespace

    import numpy as np

    from gradtui.ui.widgets.loss_plot import History

    h = History(cap=8)
    for start in range(0, 40, 3):
        steps = np.arange(start, min(start + 3, 40))
        d = np.column_stack([steps, steps * 1.0, np.nan * steps, steps * 1.0])  # loss = step
        h.add(SimpleNamespace(steps=steps, step=int(steps[-1]) + 1,
                              global_series=lambda k, d=d: d[:, {"loss": 1, "test_loss": 2, "test_acc": 3}[k]]))
    x, loss, _, _ = h.arrays()
    np.testing.assert_allclose(x, loss)  # each row (and each pending step) at its own steps' mean
    assert h.rows[:, -1].sum() + len(h.pending) == 40 and len(h.rows) <= 8  # every step held once
