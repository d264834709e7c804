"""The fixed-step picture: run a seeded configuration exactly N steps, show it in the real
dashboard (a :class:`StaticSource`, no thread, wall clock hidden) and write the SVG."""

from __future__ import annotations

import numpy as np

from gradtui import drive
from gradtui import kernels as K
from gradtui.config import Config
from gradtui.explain import Explainer
from gradtui.outputs import write_whole
from gradtui.stats import GLOBAL_COL, Snapshot
from gradtui.trainer import Trainer
from gradtui.ui.sources import StaticSource, make_app
from gradtui.ui.widgets.loss_plot import History
from gradtui.ui.widgets.run_panel import RunPanel


def fixed_snapshot(cfg: Config, steps: int, status: str | None = None,
                   window: int = 1024) -> tuple[Trainer, list[Snapshot]]:
    """Run exactly ``steps`` steps synchronously (deterministic for a seed). Returns the trainer
    and the snapshots to show: the run's loss history before the last window (at most one
    snapshot of at most ``History.cap`` rows, decimated exactly as the loss plot decimates it, so
    memory stays bounded however many steps run), then the last window with the decision boundary."""
    tr = Trainer(cfg)
    hist = History()

    last = [0]

    def keep(tr: Trainer) -> None:  # every window that ran, but the last, goes into the history
        if last[0] < tr.total_steps < steps:
            hist.add(tr.snapshot(window, status=status))
        last[0] = tr.total_steps

    drive.run(tr, steps, on_chunk=keep, chunk=window)
    snaps = [_history_snapshot(tr, hist, status)] if len(hist.rows) else []
    last = tr.snapshot(window, status=status, boundary=tr.boundary(), hist=tr.histograms())
    snaps.append(Explainer().annotate(tr, last))
    return tr, snaps


def _history_snapshot(tr: Trainer, hist: History, status: str | None) -> Snapshot:
    """A snapshot carrying only the loss plot's history rows (step, loss, test accuracy)."""
    steps, loss, test_loss, acc = hist.arrays()
    glob = np.full((len(steps), K.N_GSTATS), np.nan)
    glob[:, GLOBAL_COL["loss"]], glob[:, GLOBAL_COL["test_acc"]] = loss, acc
    glob[:, GLOBAL_COL["test_loss"]] = test_loss
    layers = np.broadcast_to(np.nan, (len(steps), len(tr.layer_names), K.N_LSTATS))  # no memory
    return Snapshot.build(tr.cfg, tr.layer_names, int(steps[-1]) + 1, status or tr.status,
                          steps.astype(np.int64), glob, layers, task=tr.data.task)


def save_screenshot(cfg: Config, steps: int, size: tuple[int, int], path: str, vs: Config | None = None) -> None:
    """Render the dashboard after exactly ``steps`` steps, headless, to an SVG at ``path``
    (``vs``: run B's configuration, the A/B layout; each run its own fixed snapshots).
    The file appears whole or not at all (written beside its target, then renamed); a write
    error raises OSError (``outputs.write_whole``)."""
    app = make_app(cfg, steps=steps) if vs is None else make_app(
        [StaticSource.fixed(cfg, steps, "A"), StaticSource.fixed(vs, steps, "B")])
    svg: list[str] = []

    async def pilot(p) -> None:
        await p.pause()
        for panel in app.query(RunPanel):
            panel.redraw()
        await p.pause()
        await p.wait_for_scheduled_animations()
        svg.append(app.export_screenshot())
        app.exit(0)

    app.run(headless=True, size=size, auto_pilot=pilot)
    if not svg:
        raise OSError(f"the dashboard exited before the screenshot ({app.return_code})")
    write_whole(path, svg[0])
