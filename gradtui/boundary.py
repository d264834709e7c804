"""The decision-boundary view's data: a trainer's model output over a grid of the input plane,
with subsamples of its training and test points."""

from __future__ import annotations

import numpy as np

from gradtui import numpy_backend
from gradtui.stats import Boundary


def measure_boundary(tr, cols: int = 48, rows: int = 24, n_points: int = 300) -> Boundary:
    """Model output of the trainer ``tr`` over the input plane (evaluation mode; on the NumPy
    backend while the kernels compile). Call from the thread that drives the trainer."""
    lo = np.minimum(tr.x.min(0), -2.0) - 0.2
    hi = np.maximum(tr.x.max(0), 2.0) + 0.2
    gx = np.linspace(lo[0], hi[0], cols)
    gy = np.linspace(hi[1], lo[1], rows)  # row 0 at the top
    grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    if tr.backend == "numpy":
        out = numpy_backend.predict_trainer(tr, grid)
    else:
        out = tr.mlp.predict(grid, tr.icfg, tr.fcfg)
    if tr.data.task == "classify":
        vals = out.argmax(1).astype(np.float64)
    else:
        vals = out[:, 0].astype(np.float64)
    step = max(1, len(tr.x) // n_points)
    d = tr.data
    t_step = max(1, len(d.x_test) // max(1, n_points // 6))  # fewer: a × covers a whole cell
    t_labels = d.t_test.argmax(1) if d.task == "classify" else d.t_test[:, 0]
    return Boundary((float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])),
                    vals.reshape(rows, cols), d.x_train[::step].copy(), d.labels_train[::step].copy(),
                    d.x_test[::t_step].copy(), t_labels[::t_step].astype(d.labels_train.dtype))
