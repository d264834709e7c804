"""The ``P`` screen: the order / chaos phase diagram of the current activation.

Top: the (σ_w², σ_b²) plane (σ_w² on a log axis around the activation's critical value), each cell
coloured by χ₁ from :func:`gradtui.theory.phase_grid` (ordered: gradients vanish, chaotic: they
explode), the critical line χ₁ = 1 and this network as a point. Below: the gradient depth scale
ξ_∇ = −1/ln χ₁ along the same σ_w² axis at this network's σ_b², against its depth. The grid
(30-100 ms, more on a first use of an activation) is computed in a thread worker, never on the UI
thread; the screen recomputes when the activation, the initialiser (σ_w²) or the bias std change.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget

from gradtui import theory
from gradtui.keymap import KEYMAP
from gradtui.numfmt import num
from gradtui.ui import views as R

ORDERED, CHAOTIC = R.REGIME_COLOR["vanishing"], R.REGIME_COLOR["exploding"]
CELL = {False: ("·", ORDERED), True: ("+", CHAOTIC)}  # chi1 > 1 ?
LINE, POINT = "│", "●"
Y_LABEL_W = 6
XI_ROWS_MAX = 6


class Where(NamedTuple):
    """The network the diagram is drawn for (from the newest snapshot)."""

    act: str
    sigma_w2: float
    sigma_b2: float
    depth: int
    chi1: float
    phase: str
    xi: float = math.nan  # the gradient depth scale (the prediction's)
    critical_w2: float = math.nan  # the sigma_w^2 of chi1 = 1 at this sigma_b^2 (NaN: none)


class Plane(NamedTuple):
    xs: np.ndarray  # sigma_w^2 per column (log-spaced)
    ys: np.ndarray  # sigma_b^2 per row, top row first
    chi: np.ndarray  # (rows, cols) chi1
    line: np.ndarray  # (cols,) chi1 at the network's sigma_b^2


def where_of(snap) -> Where | None:
    pred = None if snap is None else snap.prediction
    if pred is None:
        return None
    return Where(snap.config.activation, float(pred.sigma_w2), float(pred.sigma_b2),
                 len(snap.config.hidden_sizes), float(pred.chi1), pred.phase, float(pred.depth_scale_grad),
                 float(pred.critical_sigma_w) ** 2)


def axes(w: Where, cols: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """sigma_w^2 log-spaced around the critical value (and the network's), sigma_b^2 from 0 up."""
    crit = theory.critical_sigma_w2(w.act, 0.0)
    crit = crit if math.isfinite(crit) and crit > 0 else 1.0
    lo = min(crit / 20, w.sigma_w2 / 2) if w.sigma_w2 > 0 else crit / 20
    hi = max(crit * 8, w.sigma_w2 * 2)
    ymax = max(1.0, 1.5 * w.sigma_b2)
    return np.geomspace(lo, hi, cols), np.linspace(ymax, 0.0, rows)


@lru_cache(maxsize=32)
def _plane(act: str, sw2: float, sb2: float, cols: int, rows: int) -> Plane:
    w = Where(act, sw2, sb2, 1, math.nan, "")
    xs, ys = axes(w, cols, rows)
    with np.errstate(all="ignore"):
        chi = theory.phase_grid(act, xs[None, :], ys[:, None])
        line = theory.phase_grid(act, xs, np.full_like(xs, sb2))
    return Plane(xs, ys, chi, line)


def compute(w: Where, cols: int, rows: int) -> Plane:
    """The plane for ``w`` (cached: the same network and size costs nothing the second time)."""
    return _plane(w.act, w.sigma_w2, w.sigma_b2, max(2, cols), max(2, rows))


def _col(xs: np.ndarray, x: float) -> int:
    return int(np.argmin(np.abs(np.log(xs) - math.log(x)))) if x > 0 else 0


def _put(cells: list, at: int, text: str, style: str) -> None:
    for k, ch in enumerate(text):
        if 0 <= at + k < len(cells):
            cells[at + k] = (ch, style)


def _label_in(row_chaotic: np.ndarray, side: bool) -> tuple[int, int]:
    """The longest run of cells on ``side`` (chaotic or not) in a row: (start, length)."""
    best, start = (0, 0), None
    for j, v in enumerate(list(row_chaotic) + [not side]):
        if v == side and start is None:
            start = j
        elif v != side and start is not None:
            best = max(best, (j - start, start))
            start = None
    return best[1], best[0]


def plane_lines(w: Where, p: Plane) -> list[Text]:
    """The plane's rows (y axis labels at the left) and the x axis below."""
    chaotic = p.chi > 1.0
    rows, cols = chaotic.shape
    grid = [[CELL[bool(c)] for c in r] for r in chaotic]
    for i in range(rows):
        for j in range(cols - 1):
            if chaotic[i, j] != chaotic[i, j + 1]:
                grid[i][j] = (LINE, "bold")
    mid = rows // 2
    labels = {False: (" ordered: gradients vanish ", " vanish "), True: (" chaotic: gradients explode ", " explode ")}
    for side, options in labels.items():
        start, n = _label_in(chaotic[mid], side)
        label = next((x for x in options if len(x) <= n), "")
        _put(grid[mid], start + (n - len(label)) // 2, label, f"bold {CHAOTIC if side else ORDERED}")
    pi, pj = int(np.argmin(np.abs(p.ys - w.sigma_b2))), _col(p.xs, w.sigma_w2)
    grid[pi][pj] = (POINT, "bold magenta")
    out = []
    for i, row in enumerate(grid):
        lab = num(p.ys[i]) if i in (0, rows - 1, mid) else ""
        t = Text(f"{lab:>{Y_LABEL_W - 2}} ┤", style="dim")
        for ch, st in row:
            t.append(ch, st)
        out.append(t)
    out.append(_x_axis(p.xs))
    return out


def _x_axis(xs: np.ndarray) -> Text:
    """Decade ticks of sigma_w^2 under the columns."""
    cells = [" "] * len(xs)
    for e in range(math.floor(math.log10(xs[0])), math.ceil(math.log10(xs[-1])) + 1):
        j = _col(xs, 10.0 ** e)
        lab = num(10.0 ** e)
        if 10.0 ** e >= xs[0] * 0.99 and 10.0 ** e <= xs[-1] * 1.01 and all(c == " " for c in cells[max(0, j - 1):j + len(lab) + 1]):
            cells[j:j + len(lab)] = list(lab)
    return Text(" " * (Y_LABEL_W - 2) + " └" + "".join(cells[:len(xs)]) + " σ_w²", style="dim")


def xi_lines(w: Where, p: Plane, rows: int) -> list[Text]:
    """|ξ_∇| = 1/|ln χ₁| on a log axis from 1 to 1000 layers per column, the depth as a dashed line."""
    with np.errstate(all="ignore"):
        xi = np.where(np.abs(np.log(p.line)) > theory.CHI_EXACT, -1.0 / np.log(p.line), np.inf)
    lg = np.clip(np.log10(np.abs(xi)), 0.0, 3.0)
    lg = np.where(np.isfinite(lg), lg, 3.0)
    fill = lg / 3.0 * rows  # rows of bar per column
    depth_row = math.log10(max(1, w.depth)) / 3.0 * rows
    pj = _col(p.xs, w.sigma_w2)
    out = []
    for i in range(rows):  # top first
        level = rows - i - 1  # this row covers [level, level + 1)
        lab = {0: "1", rows - 1: "1000"}.get(level, "")
        t = Text(f"{lab:>{Y_LABEL_W - 2}} ┤", style="dim")
        on_depth = level <= depth_row < level + 1
        for j in range(len(p.xs)):
            f = fill[j] - level
            color = CHAOTIC if xi[j] < 0 else ORDERED
            if f >= 1:
                t.append("█", color)
            elif f > 0:
                t.append(R.BARS[max(1, int(f * 8))], color)
            elif on_depth:
                t.append("─", "bold magenta")
            else:
                t.append(" ")
        if on_depth:
            t.append(f" depth {w.depth}", "bold magenta")
        out.append(t)
    label = "▲ this net"
    start = pj if pj + len(label) <= len(p.xs) + 9 else pj - len(label) + 1
    axis = " " * start + (label if start == pj else "this net ▲")
    out.append(Text(" " * Y_LABEL_W + axis, style="bold magenta"))
    return out


def headline(w: Where) -> Text:
    """Where the net is: ``sigmoid, σ_w² 1, σ_b² 0, depth 20:  χ₁ 0.056 ordered``."""
    return Text.assemble((f" {w.act}", "bold"), f", σ_w² {num(w.sigma_w2)}, σ_b² {num(w.sigma_b2)}, depth {w.depth}:  ",
                         ("χ₁ ", "bold"), (f"{num(w.chi1)} {w.phase}", "bold magenta"))


def critical_hint(w: Where) -> Text:
    """What it means and what would make it critical: ``gradients shrink e-fold every 0.35 layers;
    χ₁ = 1 at σ_w² ≈ 100`` (the initialisers set σ_w²)."""
    what = {"ordered": f"gradients shrink e-fold every {num(abs(w.xi))} layers",
            "chaotic": f"gradients grow e-fold every {num(abs(w.xi))} layers",
            "critical": "gradients keep their size"}.get(w.phase, "")
    crit = (f"χ₁ = 1 at σ_w² ≈ {num(w.critical_w2)}" if math.isfinite(w.critical_w2)
            else f"no σ_w² makes {w.act} critical here")
    return Text(f" {what}; {crit}", style="italic")


def legend(w: Where) -> Text:
    return Text.assemble(
        (" · ", ORDERED), "ordered χ₁<1 (vanish)", ("  + ", CHAOTIC), "chaotic χ₁>1 (explode)",
        ("  │ ", "bold"), "χ₁=1", ("  ● ", "bold magenta"), "this net")


class PhaseDiagram(Widget):
    """Draws the plane and the depth-scale chart for ``where`` once ``plane`` (computed in a
    thread) is there; "computing" before."""

    DEFAULT_CSS = "PhaseDiagram { height: 1fr; width: 1fr; text-wrap: nowrap; text-overflow: clip; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.where: Where | None = None
        self.plane: Plane | None = None

    def layout_rows(self) -> tuple[int, int, int]:
        """(plane rows, xi rows, cols) for the widget's size."""
        w, h = self.size
        cols = max(8, w - Y_LABEL_W - 10)  # room for " depth NNN" after the chart
        free = max(6, h - 7)  # headline, hint, legend, x axis, caption, xi axis, a spare line
        xi_rows = max(2, min(XI_ROWS_MAX, free // 3))
        return max(4, free - xi_rows), xi_rows, cols

    def render(self) -> Text:
        w = self.where
        if w is None:
            return Text("No prediction yet (it comes with the first snapshot).", style="dim")
        rows, xi_rows, cols = self.layout_rows()
        p = self.plane
        if p is None or p.chi.shape != (rows, cols):
            return Text.assemble(headline(w), "\n computing the phase diagram…")
        lines = [headline(w), critical_hint(w), legend(w), *plane_lines(w, p),
                 Text(" ξ_∇ = −1/ln χ₁ (log): bars below the depth line: net deeper than ξ_∇",
                      style="dim"),
                 *xi_lines(w, p, xi_rows)]
        return Text("\n", no_wrap=True, overflow="crop").join(lines)


class PhaseScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    PhaseScreen { align: center middle; }
    PhaseScreen > Vertical { width: 100%; max-width: 130; height: 100%; max-height: 40;
                             border: round $accent; background: $surface; }
    """
    # the keys that move the point (activation, initialiser) work here too: explore the plane
    BINDINGS = [Binding("escape,q,P", "dismiss", "close"),
                *[Binding(k.key, f"app.{k.action}", k.label, show=False) for k in KEYMAP
                  if k.field in ("activation", "init")]]

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "phase diagram: order / chaos  (a, i change the net; esc closes)"
            yield PhaseDiagram()

    def on_mount(self) -> None:
        self.check()
        self.set_interval(0.5, self.check)

    def on_resize(self) -> None:
        self.call_after_refresh(self.check)

    def check(self) -> None:
        """Recompute when the network (activation, sigma_w^2, sigma_b^2, depth) or the size changed."""
        d = self.query_one(PhaseDiagram)
        w = where_of(self.app.snap)
        rows, xi_rows, cols = d.layout_rows()
        key = (w, rows, cols)
        if w is None or d.size.width == 0 or key == getattr(self, "_key", None):
            if w != d.where:
                d.where = w
                d.refresh()
            return
        self._key = key
        d.where = w
        d.refresh()
        self.run_worker(lambda: self._compute(w, cols, rows), thread=True, exclusive=True, group="phase",
                        exit_on_error=False)

    class PlaneReady(Message):
        def __init__(self, where: Where, plane: Plane) -> None:
            super().__init__()
            self.where, self.plane = where, plane

    def _compute(self, w: Where, cols: int, rows: int) -> None:  # in a thread
        # post_message does not wait for the UI (call_from_thread would, and could hang on exit)
        self.post_message(self.PlaneReady(w, compute(w, cols, rows)))

    def on_phase_screen_plane_ready(self, msg: PlaneReady) -> None:
        try:
            d = self.query_one(PhaseDiagram)
        except NoMatches:  # closed meanwhile
            return
        if d.where == msg.where:
            d.plane = msg.plane
            d.refresh()
