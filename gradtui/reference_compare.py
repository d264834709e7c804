"""The kernels' trainer and the NumPy reference (:mod:`gradtui.reference`) driven from the same
batches and rates: ``compare_with_trainer`` runs both and lists every mismatch; ``peek_batches``
gives the batches a trainer will draw next without consuming them.
"""

from __future__ import annotations

import numpy as np

from gradtui.optimizers import schedule_lrs
from gradtui.reference import ReferenceNet
from gradtui.stats import GLOBAL_COL, LAYER_COL


def peek_batches(trainer, n: int) -> np.ndarray:
    """The (n, batch) indices ``trainer.run_steps(n)`` will draw next, without consuming them."""
    state = trainer.batch_rng.bit_generator.state
    perm, pos = trainer._perm.copy(), trainer._perm_pos
    idx = trainer._batches(n)
    trainer.batch_rng.bit_generator.state = state
    trainer._perm, trainer._perm_pos = perm, pos
    return idx


def compare_with_trainer(trainer, n_steps: int, rtol: float = 1e-10, atol: float = 1e-13,
                         net: ReferenceNet | None = None) -> list[str]:
    """Run ``n_steps`` on the trainer and on a reference loaded from it (same batches, same rates);
    return the mismatches (empty when they agree): loss, global and per-layer statistics of every
    step, theta and the running batch-norm statistics afterwards."""
    net = net or ReferenceNet.from_trainer(trainer)
    c = trainer.cfg
    idx = peek_batches(trainer, n_steps)
    lrs = schedule_lrs(c.schedule, c.lr, trainer.step_count, n_steps, c.schedule_steps, c.lr_gamma)
    results = net.run(trainer.x, trainer.t, idx, lrs)
    rows = trainer.run_steps(n_steps)
    problems = []
    if rows != len(results):
        return [f"trainer ran {rows} steps, reference {len(results)}"]
    _, glob, layers = trainer.ring.last(rows)
    gcols = [GLOBAL_COL[k] for k in ("loss", "train_acc", "lr", "grad_norm", "clipped", "status")]

    def close(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)

    for k, r in enumerate(results):
        if not close(glob[k, gcols], r.glob[gcols]):
            problems.append(f"step {k}: global stats {glob[k, gcols]} != {r.glob[gcols]}")
        for name, col in LAYER_COL.items():
            if not close(layers[k, :, col], r.layers[:, col]):
                problems.append(f"step {k}: layer stat {name} {layers[k, :, col]} != {r.layers[:, col]}")
    if not close(trainer.mlp.theta, net.theta):
        err = np.max(np.abs(np.asarray(trainer.mlp.theta, np.float64) - net.theta))
        problems.append(f"theta differs (max abs {err:.3g})")
    if c.batchnorm:
        geo = trainer.mlp.geo
        for l in range(len(net.run_mean)):
            u, fo = geo[l, 3], geo[l, 1]
            if not (close(trainer.mlp.bnrun[0, u: u + fo], net.run_mean[l])
                    and close(trainer.mlp.bnrun[1, u: u + fo], net.run_var[l])):
                problems.append(f"running batch-norm statistics of layer {l} differ")
    return problems
