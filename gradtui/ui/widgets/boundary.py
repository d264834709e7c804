"""Decision boundary of a 2-D data set: the predicted class over the plane as half-block pixels
(two per cell, dark tones) with the training points overlaid (bright tones)."""

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
    return np.clip(((v - lo) / span * 5).astype(int), 0, 4)  # 5 tones for regression


def rows(snap: Snapshot | None, w: int, h: int) -> list[Strip]:
    """``snap.boundary`` as ``h`` lines of ``w`` half-block cells (two pixel rows per line)."""
    bd = None if snap is None else snap.boundary
    if bd is None or w < 2 or h < 1:
        return []
    vals = np.asarray(bd.values)
    fin = vals[np.isfinite(vals)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
    n_rows, n_cols = vals.shape
    ph = 2 * h  # pixel rows
    ri = (np.arange(ph) * n_rows // ph).clip(0, n_rows - 1)
    ci = (np.arange(w) * n_cols // w).clip(0, n_cols - 1)
    grid = _class_index(vals[np.ix_(ri, ci)], snap.task, lo, hi)
    region = np.array([p[0] for p in PALETTE])[grid]
    x0, x1, y0, y1 = bd.extent
    pts = np.asarray(bd.points, np.float64)
    if len(pts):
        px = ((pts[:, 0] - x0) / (x1 - x0) * (w - 1)).round().astype(int)
        py = ((y1 - pts[:, 1]) / (y1 - y0) * (ph - 1)).round().astype(int)
        ok = (px >= 0) & (px < w) & (py >= 0) & (py < ph)
        cls = _class_index(np.asarray(bd.labels)[ok], snap.task, lo, hi)
        region[py[ok], px[ok]] = np.array([p[1] for p in PALETTE])[cls]
    lines = []
    for y in range(h):
        top, bot = region[2 * y], region[2 * y + 1]
        segs, run, cur = [], 0, None
        for x in range(w):
            key = (top[x], bot[x])
            if key != cur:
                if cur is not None:
                    segs.append(Segment("▀" * run, _style(*cur)))
                cur, run = key, 0
            run += 1
        segs.append(Segment("▀" * run, _style(*cur)))
        lines.append(Strip(segs, w))
    return lines


class BoundaryMap(LinesWidget):
    DEFAULT_CSS = "BoundaryMap { height: 1fr; }"

    def basis(self, snap: Snapshot | None) -> object:
        return None if snap is None else snap.boundary  # refreshed a few times a second only

    def rows(self, snap: Snapshot | None, width: int, height: int) -> list[Strip]:
        return rows(snap, width, height)
