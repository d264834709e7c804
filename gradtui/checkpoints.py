"""Undo for a diverged run: a small ring of checkpoints of a trainer's state.

A checkpoint is taken before a chunk when the last one is at least :data:`EVERY` steps old (and
before the first chunk after any command that changed what is computed: the ring is cleared then,
so every checkpoint in it ran under the current configuration; that first one is always kept).
:meth:`Checkpoints.undo` restores the newest checkpoint at or before its target (a diverged run: the
step that diverged; else :data:`BACK` steps back, not past the last change) and re-runs the steps in
between with the same batches, so the result is the same, bit for bit, wherever the checkpoints
happened to be taken (a replay's chunks differ from the live run's). The re-run steps are not
counted in ``total_steps`` (the step count a session's commands are recorded at).

No UI and no Numba here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gradtui.trainer import Trainer

EVERY = 64  # steps between checkpoints, at least
SLOTS = 4  # checkpoints kept
BACK = 64  # steps an undo goes back when the run has not diverged (a constant: replays must agree)


@dataclass(frozen=True)
class Checkpoint:
    step_count: int
    opt_t: int
    arrays: tuple[np.ndarray, ...]  # theta, grad, m1, m2, bn running stats
    rng_state: dict
    perm: np.ndarray
    perm_pos: int
    ring_pos: int
    ring_count: int


def _arrays(tr: "Trainer") -> tuple[np.ndarray, ...]:
    m = tr.mlp
    return (m.theta, m.grad, m.m1, m.m2, m.bnrun)


class Checkpoints:
    def __init__(self, every: int = EVERY, slots: int = SLOTS) -> None:
        self.every, self.slots = every, slots
        self.ring: list[Checkpoint] = []

    def clear(self) -> None:
        self.ring.clear()

    def maybe_take(self, tr: "Trainer") -> None:
        """Before a chunk: take one when the newest is ``every`` steps old (or there is none)."""
        if tr.diverged or (self.ring and tr.step_count - self.ring[-1].step_count < self.every):
            return
        self.ring.append(Checkpoint(tr.step_count, tr.opt_t, tuple(a.copy() for a in _arrays(tr)),
                                    tr.batch_rng.bit_generator.state, tr._perm, tr._perm_pos,
                                    tr.ring.pos, tr.ring.count))
        if len(self.ring) > self.slots:  # the first (the last change's state) is always kept
            del self.ring[1]

    def undo(self, tr: "Trainer") -> str:
        """A diverged ``tr``: back to the state after its last finite step. Else :data:`BACK` steps
        back (:data:`BACK`), but not past the last change (the ring's first checkpoint). Returns what it did."""
        was_diverged = tr.diverged
        if was_diverged:
            target = tr.step_count - 1  # the diverged step's number: the state before it
        elif self.ring and tr.step_count > self.ring[0].step_count:
            target = max(self.ring[0].step_count, tr.step_count - BACK)
        else:
            return "nothing to undo since the last change"
        usable = [c for c in self.ring if c.step_count <= target]
        if not usable:
            return "cannot undo: no checkpoint before the divergence (reset with r)"
        c = usable[-1]
        del self.ring[len(usable):]
        for dst, src in zip(_arrays(tr), c.arrays):
            dst[...] = src
        tr.step_count, tr.opt_t = c.step_count, c.opt_t
        tr.batch_rng.bit_generator.state = c.rng_state
        tr._perm, tr._perm_pos = c.perm, c.perm_pos  # (a permutation is never written in place)
        tr.ring.pos, tr.ring.count = c.ring_pos, c.ring_count
        tr.ring.rewound = min(c.ring_count, tr.ring.rewound if tr.ring.rewound is not None else c.ring_count)
        tr.diverged = False
        total = tr.total_steps  # (a re-run is not counted: a session's steps must not depend on it)
        while tr.step_count < target:  # the same batches and rates: the same steps
            if tr.run_steps(target - tr.step_count) == 0:
                break
        tr.total_steps = total
        return f"undone: back to step {tr.step_count:,}" + (", the last finite step" if was_diverged else "")
