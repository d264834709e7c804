"""Decision boundary of a 2-D data set: the predicted class over the plane as half-block pixels
(two per cell, dark tones) with the training points overlaid (bright tones) and the test points
as ``×`` in their class's bright tone. Regression: the prediction on a sequential colour scale
(five tones, low to high) with the scale on the last line."""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from gradtui.stats import Snapshot
from gradtui.ui.widgets.lines import LinesWidget

# (region, point) colour per class; hex tones map to sensible 256/16-colour approximations.
PALETTE = (
    ("#5f0000", "#ff5f5f"), ("#00005f", "#5f87ff"), ("#005f00", "#5fff5f"), ("#5f5f00", "#ffff5f"),
    ("#5f005f", "#ff5fff"), ("#005f5f", "#5fffff"), ("#3a3a3a", "#ffffff"), ("#5f2f00", "#ffaf5f"),
)
# regression: a sequential scale, dark/low to bright/high (region, point)
SCALE = (("#00005f", "#5f5fff"), ("#005f5f", "#00d7d7"), ("#005f00", "#5fd75f"), ("#5f5f00", "#d7d75f"),
         ("#875f00", "#ffd787"))
TEST_MARK = "×"
_STYLE_CACHE: dict[tuple[str, str], Style] = {}


def _style(fg: str, bg: str) -> Style:
    s = _STYLE_CACHE.get((fg, bg))
    if s is None:
        s = _STYLE_CACHE[(fg, bg)] = Style(color=fg, bgcolor=bg)
    return s


def _class_index(values: np.ndarray, task: str, lo: float, hi: float) -> np.ndarray:
    v = np.nan_to_num(np.asarray(values, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if task == "classify":
        return np.clip(v.astype(int), 0, len(PALETTE) - 1)
    span = hi - lo if hi > lo else 1.0
    return np.clip(((v - lo) / span * len(SCALE)).astype(int), 0, len(SCALE) - 1)  # tones for regression


def _palette(task: str):
    return PALETTE if task == "classify" else SCALE


def title(task: str) -> str:
    """The panel's title for a data set's task."""
    if task == "classify":
        return f"boundary ▀train {TEST_MARK}test"
    return f"prediction ▀train {TEST_MARK}test"


def rows(snap: Snapshot | None, w: int, h: int) -> list[Strip]:
    """``snap.boundary`` as ``h`` lines of ``w`` half-block cells (two pixel rows per line)."""
    bd = None if snap is None else snap.boundary
    if bd is None or w < 2 or h < 1:
        return []
    scale = snap.task != "classify" and h >= 3  # the last line: the colour scale
    if scale:
        h -= 1
    vals = np.asarray(bd.values)
    fin = vals[np.isfinite(vals)] if snap.task == "classify" else _finite(bd.labels)  # the targets' range
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
    n_rows, n_cols = vals.shape
    ph = 2 * h  # pixel rows
    ri = (np.arange(ph) * n_rows // ph).clip(0, n_rows - 1)
    ci = (np.arange(w) * n_cols // w).clip(0, n_cols - 1)
    pal = _palette(snap.task)
    grid = _class_index(vals[np.ix_(ri, ci)], snap.task, lo, hi)
    region = np.array([p[0] for p in pal])[grid]
    x0, x1, y0, y1 = bd.extent
    pts = np.asarray(bd.points, np.float64)
    if len(pts):
        px = ((pts[:, 0] - x0) / (x1 - x0) * (w - 1)).round().astype(int)
        py = ((y1 - pts[:, 1]) / (y1 - y0) * (ph - 1)).round().astype(int)
        ok = (px >= 0) & (px < w) & (py >= 0) & (py < ph)
        cls = _class_index(np.asarray(bd.labels)[ok], snap.task, lo, hi)
        region[py[ok], px[ok]] = np.array([p[1] for p in pal])[cls]
    marks = _test_marks(bd, snap.task, w, ph, lo, hi)
    lines = []
    for y in range(h):
        lines.append(Strip(_cells(region[2 * y], region[2 * y + 1], marks.get(y, ())), w))
    if scale:
        lines.append(_scale_line(lo, hi, w))
    return lines


def _cells(top: np.ndarray, bot: np.ndarray, marks=()) -> list[Segment]:
    """One line of half-block cells (``top`` colour over ``bot``), a segment per run of equal cells
    (found by NumPy: a cell-by-cell loop cost ~2x as much); a test point ``(column, colour)`` in
    ``marks`` is a × in its colour over the cell's lower pixel's colour."""
    top = top.astype(object)  # (a copy that takes any colour string)
    mark = np.zeros(len(top), bool)
    for x, color in marks:
        top[x], mark[x] = color, True
    cut = (top[1:] != top[:-1]) | (bot[1:] != bot[:-1]) | mark[1:] | mark[:-1]  # a mark: a run of its own
    starts = [0, *(np.flatnonzero(cut) + 1).tolist()]
    ends = starts[1:] + [len(top)]
    fg, bg, mk = top[starts].tolist(), bot[starts].tolist(), mark[starts].tolist()
    return [Segment((TEST_MARK if m else "▀") * (b - a), _style(f, g))
            for a, b, f, g, m in zip(starts, ends, fg, bg, mk)]


def _finite(a) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return a[np.isfinite(a)]


def _test_marks(bd, task: str, w: int, ph: int, lo: float, hi: float) -> dict[int, list[tuple[int, str]]]:
    """line -> [(column, colour)] of the test points (one mark a cell, the first point wins)."""
    pts = None if bd.test_points is None else np.asarray(bd.test_points, np.float64)
    if pts is None or not len(pts):
        return {}
    x0, x1, y0, y1 = bd.extent
    px = ((pts[:, 0] - x0) / (x1 - x0) * (w - 1)).round().astype(int)
    py = ((y1 - pts[:, 1]) / (y1 - y0) * (ph - 1)).round().astype(int) // 2
    ok = (px >= 0) & (px < w) & (py >= 0) & (py < ph // 2)
    colors = np.array([p[1] for p in _palette(task)])[_class_index(np.asarray(bd.test_labels)[ok], task, lo, hi)]
    out: dict[int, list[tuple[int, str]]] = {}
    seen = set()
    for x, y, c in zip(px[ok].tolist(), py[ok].tolist(), colors.tolist()):
        if (x, y) not in seen:
            seen.add((x, y))
            out.setdefault(y, []).append((x, c))
    return out


def _scale_line(lo: float, hi: float, w: int) -> Strip:
    """``lo ▀▀▀▀▀ hi``: the regression colour scale."""
    from gradtui.numfmt import num

    segs = [Segment(num(lo) + " ", _style("#d0d0d0", "#000000"))]
    segs += [Segment("██", _style(region, "#000000")) for region, _ in SCALE]
    segs.append(Segment(" " + num(hi), _style("#d0d0d0", "#000000")))
    return Strip(segs).crop(0, w).extend_cell_length(w, _style("#d0d0d0", "#000000"))

class BoundaryMap(LinesWidget):
    DEFAULT_CSS = "BoundaryMap { height: 1fr; }"

    def basis(self, snap: Snapshot | None) -> object:
        return None if snap is None else snap.boundary  # refreshed a few times a second only

    def rows(self, snap: Snapshot | None, width: int, height: int) -> list[Strip]:
        return rows(snap, width, height)
