"""Strip helpers shared by the line-drawn widgets (gradient rows, depth profile, boundary)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from gradtui.ui.widgets import regime as R

PLAIN = Style()  # a real style: Textual's NO_COLOR filter reads every segment's style
DIM = Style(dim=True)
REGIME_STYLE = {k: Style(color=c) for k, c in R.REGIME_COLOR.items()}
TAG_STYLE = {k: Style(color=c, bold=k != "ok") for k, c in R.REGIME_COLOR.items()}


def blank(width: int) -> Strip:
    """An empty line that carries a style (``Strip.blank(w)`` alone has none and crashes the
    monochrome filter under ``NO_COLOR``)."""
    return Strip.blank(width, PLAIN)


def no_steps(names, grp, width: int) -> list[Strip]:
    """One dim ``<label> – no steps yet`` line per group (compiling / fresh start)."""
    return [Strip([Segment(label + R.NO_STEPS, DIM)]).crop(0, width)
            for label in R.group_labels(names, grp)]
