"""The dashboard's A/B half: the per-layer difference view (log10 of B's gradient norm over A's),
the panel titles that say which run is which and which one the keys act on, and the message that
brings a fork up from a trainer thread.

Both panels draw gradients on one scale: every gradient row and the depth profile use the fixed
log10 range of :mod:`gradtui.ui.views` (``LOG_LO`` .. ``LOG_HI``), so the same bar in A and B is
the same norm.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.message import Message
from textual.strip import Strip

from gradtui.numfmt import num
from gradtui.stats import Snapshot
from gradtui.ui import views as R
from gradtui.ui.widgets.lines import DIM, PLAIN, LinesWidget

SIDES = ("A", "B")
RANGE = 6.0  # the bar spans log10(B/A) from -RANGE to +RANGE decades
B_MORE, A_MORE = Style(color="cyan"), Style(color="yellow")
WAITING = "waiting for both runs…"
TITLE = "log10 |dL/dW| B/A per layer  ◀ A larger · B larger ▶"


def ratios(a: Snapshot, b: Snapshot, n_groups: int) -> tuple[list[str], np.ndarray] | None:
    """(group labels, log10(B/A) of each group's geometric-mean gradient norm), or None when the
    runs have different depths (no layer-by-layer pairing) or no steps yet."""
    if a.n_layers != b.n_layers or not len(a.steps) or not len(b.steps):
        return None
    grp = R.groups(a.n_layers, n_groups)
    la, _ = R.group_log_mean(a.latest_finite_layers("grad_norm"), grp)
    lb, _ = R.group_log_mean(b.latest_finite_layers("grad_norm"), grp)
    return R.group_labels(a.layer_names, grp), lb - la


def rows(a: Snapshot | None, b: Snapshot | None, width: int, height: int) -> list[Strip]:
    """The difference view's lines: per layer (group), a bar from the centre, right when B's
    gradient is larger, left when A's is, and the number of decades."""
    if a is None or b is None:
        return [Strip([Segment(WAITING, DIM)])]
    got = ratios(a, b, height)
    if got is None:
        why = "different depths: no layer-by-layer ratio" if a.n_layers != b.n_layers else WAITING
        return [Strip([Segment(why, DIM)]).crop(0, width)]
    labels, r = got
    bar_w = max(6, width - len(labels[0]) - 7)
    half = bar_w // 2
    lines = []
    for label, x in zip(labels, r):
        if np.isfinite(x):
            n = int(round(min(abs(x), RANGE) / RANGE * half))
            left = " " * (half - n) + "█" * n if x < 0 else " " * half
            right = "█" * n + " " * (bar_w - half - n) if x > 0 else " " * (bar_w - half)
            text, style = f"{x:+6.2f}", (B_MORE if x > 0 else A_MORE)
        else:
            left, right, text, style = " " * half, " " * (bar_w - half), "     –", DIM
        segs = [Segment(label, DIM), Segment(left, A_MORE), Segment("│", PLAIN), Segment(right, B_MORE),
                Segment(text, style)]
        lines.append(Strip(segs).crop(0, width))
    return lines


class RunDiff(LinesWidget):
    """Shows ``log10(B/A)`` per layer for the two runs it is given (:meth:`show_pair`)."""

    DEFAULT_CSS = "RunDiff { height: 1fr; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.pair: tuple[Snapshot | None, Snapshot | None] = (None, None)

    def show_pair(self, a: Snapshot | None, b: Snapshot | None) -> None:
        self.pair = (a, b)
        self.snap = b if b is not None else a  # (the reactive that triggers a repaint)

    def basis(self, snap):
        return self.pair  # a new tuple for every new pair: the lines are rebuilt (identity)

    def rows(self, snap, width: int, height: int) -> list[Strip]:
        return rows(*self.pair, width, height)


def differences(a, b, limit: int = 3) -> str:
    """The config fields where ``b`` differs from ``a``, as ``k=v`` (at most ``limit``, then …)."""
    skip = ("name", "description")
    diff = [f"{f.name}={_fmt(getattr(b, f.name))}" for f in dataclasses.fields(b)
            if f.name not in skip and getattr(a, f.name) != getattr(b, f.name)]
    return ", ".join(diff[:limit]) + (", …" if len(diff) > limit else "")


def _fmt(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return num(v) if isinstance(v, float) else str(v)


def panel_title(label: str, snap: Snapshot | None, focused: bool, focus_key: str,
                other: Snapshot | None = None) -> str:
    """A run panel's title in A/B mode: its letter, preset and what differs from the other run's
    configuration, and the focus mark."""
    name = snap.config.name if snap is not None else "…"
    diff = differences(other.config, snap.config) if snap is not None and other is not None else ""
    return (f"run {label}: {name}" + (f" ({diff})" if diff else "")
            + (f"  ◀ keys here ({focus_key})" if focused else ""))


class ForkReady(Message):
    """Run ``run_id``'s trainer thread cloned its trainer (``trainer``: the fork, not running yet;
    None and ``error`` when the clone failed)."""

    def __init__(self, run_id: str, trainer, step: int = 0, error: str = "") -> None:
        super().__init__()
        self.run_id, self.trainer, self.step, self.error = run_id, trainer, step, error
