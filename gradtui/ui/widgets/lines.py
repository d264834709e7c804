"""The base of the line-drawn widgets (gradient rows, depth profile, boundary) and their Strip
helpers.

A :class:`LinesWidget` holds a reactive snapshot and draws it with a pure
``rows(snap, width, height) -> list[Strip]`` (testable without an app). The lines are rebuilt only
when what they depend on changed (:meth:`LinesWidget.basis` of the snapshot, the size, or the
widget's :meth:`LinesWidget.view` settings), so a repaint without news costs nothing.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from gradtui.stats import Snapshot
from gradtui.ui import views as R

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


def plain(lines: list[Strip]) -> list[str]:
    """The text of rendered lines (for tests and debugging)."""
    return ["".join(seg.text for seg in line) for line in lines]


class LinesWidget(Widget):
    """A reactive ``snap`` drawn line by line by :meth:`rows`. Subclasses implement ``rows`` (pure:
    it reads only its arguments and :meth:`view`) and may narrow :meth:`basis`."""

    # always_update: a Snapshot holds arrays, so a reactive's ``!=`` check cannot compare two;
    # no automatic repaint: watch_snap repaints only when the lines' basis changed
    snap: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._lines: list[Strip] = []
        self._basis: object = None
        self._built_for: tuple = ()
        self._painting = None  # the size during a repaint (Widget.size looks the region up each time)

    def show(self, snap: Snapshot) -> None:
        self.snap = snap

    def watch_snap(self, old: Snapshot | None, new: Snapshot | None) -> None:
        if self.basis(new) is not self._basis:
            self.refresh()

    def basis(self, snap: Snapshot | None) -> object:
        """The part of ``snap`` the lines depend on (compared by identity)."""
        return snap

    def view(self) -> tuple:
        """The widget's own settings the lines depend on (e.g. a mode)."""
        return ()

    def rows(self, snap: Snapshot | None, width: int, height: int) -> list[Strip]:
        raise NotImplementedError

    def render_lines(self, crop):
        self._painting = self.size  # once per repaint, not once per line
        try:
            return super().render_lines(crop)
        finally:
            self._painting = None

    def render_line(self, y: int) -> Strip:
        w, h = self._painting or self.size
        basis = self.basis(self.snap)
        if basis is not self._basis or self._built_for != (w, h, self.view()):
            self._basis, self._built_for = basis, (w, h, self.view())
            self._lines = self.rows(self.snap, w, h) if w > 0 and h > 0 else []
        return self._lines[y] if y < len(self._lines) else blank(w)


def text_lines(text: Text, width: int, console, base: Style | None = None) -> list[Strip]:
    """The lines of a one-line-per-row ``text`` as strips of ``width`` cells at most, on the
    ``base`` style (the widget's colours); a cut line ends in an ellipsis in the style of the
    cell it replaces."""
    if width <= 0:
        return []
    out = []
    for segs in Segment.split_lines(text.render(console, end="")):
        line = Strip(Segment.apply_style(segs, base) if base else segs)
        if line.cell_length > width:
            last = line.crop(width - 1, width)
            style = next((seg.style for seg in last if seg.style is not None), base or PLAIN)
            line = Strip.join([line.crop(0, width - 1), Strip([Segment("…", style)], 1)]).simplify()
        out.append(line.extend_cell_length(width, base or PLAIN))  # (every segment styled: NO_COLOR's filter reads them)
    return out


class TextLines(Widget):
    """A few fixed lines of rich :class:`Text` (the status bar, the diagnosis line), never
    wrapped. Rendered to strips once per change and width: Textual's own path (Text to Content to
    strips on every repaint) cost ~3x as much, for lines that change with every snapshot."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._text = Text()
        self._strips: list[Strip] | None = None
        self._drawn_for: tuple = ()  # the width and colours the strips were drawn for

    def set_text(self, text: Text) -> None:
        """Show ``text`` (repaints only when its characters or styles changed)."""
        if text != self._text:
            self._text = text
            self._strips = None
            self.refresh()

    @property
    def text(self) -> str:
        """The plain text shown (for tests)."""
        return self._text.plain

    def render_line(self, y: int) -> Strip:
        w, base = self.size.width, self.rich_style
        if self._strips is None or self._drawn_for != (w, base):  # (a theme change: new colours)
            self._strips, self._drawn_for = text_lines(self._text, w, self.app.console, base), (w, base)
        return self._strips[y] if y < len(self._strips) else blank(w)
