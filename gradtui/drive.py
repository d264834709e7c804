"""Driving a trainer: the loop that runs it in chunks and publishes snapshots.

UI-agnostic: the dashboard runs :class:`Runner` in a thread worker; tests can run it in a plain thread.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from gradtui.commands import Command
from gradtui.stats import Boundary, Snapshot
from gradtui.trainer import Trainer

MAX_CHUNK = 2048  # steps per kernel call when driving to a fixed step (results never depend on it)


def run(trainer: Trainer, until: int, *, schedule: Iterable[tuple[int, Command]] = (),
        on_chunk: Callable[[Trainer], None] | None = None, should_stop: Callable[[], bool] | None = None,
        chunk: int = MAX_CHUNK, seconds: float | None = None) -> Trainer:
    """Drive ``trainer`` synchronously until ``trainer.total_steps == until`` (or it diverges with
    nothing left to revive it, or ``should_stop()``), applying each ``(at, command)`` of
    ``schedule`` once ``at`` total steps have run. Chunks hold at most ``chunk`` steps (and about
    ``seconds`` of work when given); the results never depend on chunking. ``on_chunk`` is called
    after every chunk."""
    pending = list(schedule)
    i = 0
    while True:
        while i < len(pending) and pending[i][0] <= trainer.total_steps:
            trainer.apply(pending[i][1])
            i += 1
        if trainer.total_steps >= until or (should_stop is not None and should_stop()):
            break
        target = min(until, pending[i][0]) if i < len(pending) else until
        n = min(chunk, target - trainer.total_steps)
        ran = trainer.run_steps(n if seconds is None else min(n, trainer.chunk_size(seconds)))
        if on_chunk is not None:
            on_chunk(trainer)
        if ran == 0:  # diverged: only a later command (at this same step) could revive it
            if i < len(pending) and pending[i][0] <= trainer.total_steps:
                continue
            break
    return trainer


class Runner:
    """Drives a trainer flat out in the calling thread and publishes snapshots ~``hz`` times a
    second through ``publish`` (which must not block: e.g. Textual's ``post_message``).

    UI-agnostic: the dashboard runs it in a thread worker; tests can run it in a plain thread.
    """

    def __init__(self, trainer: Trainer, publish: Callable[[Snapshot], None], hz: float = 15.0,
                 boundary_hz: float = 4.0, window: int = 1024, max_steps: int | None = None):
        self.trainer = trainer
        self.publish = publish
        self.period = 1.0 / hz
        self.boundary_period = 1.0 / boundary_hz if boundary_hz else None
        self.window = window
        self.max_steps = max_steps
        self.stop_requested = False
        self._boundary: Boundary | None = None

    def stop(self) -> None:
        self.stop_requested = True

    def _publish(self, status=None, sps=0.0) -> None:
        self.publish(self.trainer.snapshot(self.window, status=status, boundary=self._boundary, steps_per_sec=sps))

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Compile, then train until ``stop()`` or ``should_stop()``. Publishes every ``1/hz`` s
        and right after any command takes effect; sleeps (no polling) while paused or diverged."""
        tr = self.trainer
        self._publish(status="compiling")
        tr.warm_up()
        tr.message = tr.message or tr.slow_step_note()
        self._boundary = tr.boundary()
        self._publish()
        last_bd = rate_t = time.perf_counter()
        next_pub = rate_t + self.period
        rate_n, seen_events = tr.total_steps, tr.n_events
        sps = 0.0
        while not (self.stop_requested or should_stop()):
            tr.wake.clear()
            remaining = None if self.max_steps is None else self.max_steps - tr.step_count
            if remaining is not None and remaining <= 0:
                tr.paused = True
            # at most half a publish period per kernel call, and never past the next snapshot's
            # due time: snapshots land on a steady 1/hz beat, and each chunk boundary (a GIL
            # hand-over that may wait for the UI) is rare
            budget = min(0.05, self.period / 2, max(0.002, next_pub - time.perf_counter()))
            n = tr.run_chunk(max_steps=remaining, seconds=budget)
            now = time.perf_counter()
            changed = tr.n_events != seen_events
            seen_events = tr.n_events
            if self.boundary_period and (changed or (n and now - last_bd >= self.boundary_period)):
                self._boundary = tr.boundary()
                last_bd = now
            if changed or now >= next_pub - 0.001:
                if now - rate_t > 0.25:
                    sps = (tr.total_steps - rate_n) / (now - rate_t)
                    rate_t, rate_n = now, tr.total_steps
                self._publish(sps=sps if tr.status == "running" else 0.0)
                # keep the beat (no drift from chunk overruns) without a burst after a stall
                next_pub = max(next_pub + self.period, now + self.period / 2)
            if n == 0:  # paused, diverged or done: sleep until a command arrives
                tr.wake.wait(self.period)
