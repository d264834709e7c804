"""Driving a trainer: the one loop that runs it in chunks, and every cadence constant.

:func:`run` is the loop. It runs a trainer in chunks (one kernel call each) through a schedule of
commands, calling ``on_chunk`` after every chunk and ``should_stop`` between chunks, either

- **to a step, synchronously** (replay, headless, fixed-step snapshots, the benchmark's probes):
  it returns once ``until`` total steps ran, or when the trainer cannot go on (diverged, paused)
  and nothing scheduled could change that; or
- **live, until stopped** (the dashboard's :class:`Runner`): an ``idle`` hook sleeps until a
  command arrives instead of returning, ``until`` only caps the steps, and the time budget of each
  chunk is asked for anew so that snapshots keep a steady beat.

Commands reach the trainer two ways, both applied between chunks only: the ``schedule`` (replay:
each at its recorded step) and the trainer's thread-safe queue (:meth:`Trainer.submit`, the
dashboard's keys). Up the other way travel only :class:`~gradtui.stats.Snapshot` objects.

UI-agnostic: the dashboard runs :class:`Runner` in a thread worker; tests run it in a plain thread.
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING, Callable, Iterable

from gradtui.commands import Backend, Command
from gradtui.explain import Explainer
from gradtui.stats import Boundary, Snapshot

if TYPE_CHECKING:  # (the trainer reads its chunk length from here)
    from gradtui.trainer import Trainer

# (the texts of the trainer's backend events; the trainer imports this module, so they live here)
BACKEND_EVENT = {"numpy": "training on the NumPy reference while the fast kernels compile",
                 "kernels": "fast kernels ready"}

# ----------------------------------------------------------------------------- cadence
UI_HZ = 10.0  # snapshots a second the dashboard's runner publishes
BOUNDARY_HZ = 4.0  # decision-boundary refreshes a second (a model evaluation over a grid)
WINDOW = 1024  # steps of history each published snapshot carries (the views' window)
PLOT_HZ = 1.0  # loss-plot redraws a second, at most: one redraw costs the UI thread ~30 ms (at 2 Hz the
#               UI thread took 16% of a core on deep-sigmoid, at 1 Hz 13%: issue 18 asks <= 15%)
CHUNK_SECONDS = 0.05  # work per kernel call when time-bounded: stop flags, queued commands and
#                       progress are read between chunks, so at least this often (PITFALLS: 20-50 ms)
MIN_CHUNK_SECONDS = 0.002  # the live runner's smallest chunk (when a snapshot is nearly due)
PUBLISH_SLACK = 0.001  # a snapshot due within this is published now rather than after one more chunk
RATE_SECONDS = 0.25  # steps/s is measured over at least this long
POLL_SECONDS = 0.05  # a stop request is noticed this fast while the kernels compile
PROGRESS_SECONDS = 1.0  # headless: one progress line this often
MAX_CHUNK = 2048  # steps per kernel call when driving to a fixed step (results never depend on it)
PACE_CHUNKS = 2  # a throttled run's kernel calls per publish period, at least (1-step chunks below)
UNTIMED = math.inf  # a chunk ``seconds`` meaning "no time bound": only ``chunk`` limits it


def run(trainer: Trainer, until: int | None = None, *, schedule: Iterable[tuple[int, Command]] = (),
        on_chunk: Callable[[Trainer], None] | None = None, should_stop: Callable[[], bool] | None = None,
        chunk: int | Callable[[Trainer], int] = MAX_CHUNK, seconds: float | Callable[[Trainer], float] | None = None,
        idle: Callable[[Trainer], None] | None = None, align: int | None = None) -> Trainer:
    """Drive ``trainer`` until ``trainer.total_steps == until`` (None: no end), applying each
    ``(at, command)`` of ``schedule`` once ``at`` total steps have run (same-step commands in
    their order). Between chunks: due scheduled commands, then ``should_stop()``, then the queued
    commands (inside :meth:`Trainer.run_chunk`). A chunk holds at most ``chunk`` steps, never runs
    past the next scheduled command, and holds about ``seconds`` of work when given (a number, or a
    function of the trainer asked before every chunk, as ``chunk`` may be); results never depend on
    chunking. ``on_chunk(trainer)`` is called after every chunk; ``align``: chunks also end whenever
    ``total_steps`` reaches a multiple of it (e.g. the export's histogram records).

    When a chunk runs no step (diverged, paused, ``until`` reached in live mode): without ``idle``
    it returns (nothing can change that now: a scheduled command due at this step was applied
    already, and one due later cannot be reached); with ``idle`` it calls ``idle(trainer)`` (a
    live driver sleeps there until a command arrives) and goes on until ``should_stop()``."""
    pending = sorted(schedule, key=lambda c: c[0])  # (stable: same-step commands keep their order)
    i = 0
    while True:
        while i < len(pending) and pending[i][0] <= trainer.total_steps:
            trainer.apply(pending[i][1])
            i += 1
        if should_stop is not None and should_stop():
            break
        cap = chunk(trainer) if callable(chunk) else chunk
        n = cap if until is None else min(cap, until - trainer.total_steps)
        if n <= 0 and idle is None:
            break
        if i < len(pending):
            n = min(n, pending[i][0] - trainer.total_steps)
        if align:
            n = min(n, align - trainer.total_steps % align)
        budget = seconds(trainer) if callable(seconds) else seconds
        ran = trainer.run_chunk(max_steps=max(n, 0), seconds=UNTIMED if budget is None else budget)
        if on_chunk is not None:
            on_chunk(trainer)
        if ran == 0:
            if idle is None:
                break
            idle(trainer)
    return trainer


class Runner:
    """Drives a trainer live in the calling thread (compile, then :func:`run` until ``stop()`` or
    ``should_stop()``) and publishes snapshots ~``hz`` times a second, and right after any command
    took effect, through ``publish`` (which must not block: e.g. Textual's ``post_message``).
    Only :class:`Snapshot` objects are published. ``max_steps``: train at most this many steps in
    total, then pause (still taking commands).

    ``fast_start``: never wait for a compile. A warm numba cache is loaded (no "compiling" status);
    on a cold one the trainer starts on the NumPy reference (a :class:`Backend` command, recorded
    like any other) while a :class:`gradtui.warmup.Compiler` makes the kernels, and switches to them
    between two chunks once they are ready. Without it: "compiling", then ``warm_up``, as before.

    UI-agnostic: the dashboard runs it in a thread worker; tests can run it in a plain thread.
    """

    def __init__(self, trainer: Trainer, publish: Callable[[Snapshot], None], hz: float = UI_HZ,
                 max_steps: int | None = None,
                 on_chunk: Callable[[Trainer], None] | None = None, align: int | None = None,
                 fast_start: bool = False, compiler: Callable[[str], object] | None = None,
                 schedule: Iterable[tuple[int, Command]] = ()):
        self.trainer = trainer
        self.on_chunk = on_chunk  # after every chunk, in this thread (e.g. the dashboard's export)
        self.align = align  # chunks end at multiples of this many total steps too (see run)
        self.publish = publish
        self.period = 1.0 / hz
        self.boundary_period = 1.0 / BOUNDARY_HZ
        self.window = WINDOW
        self.max_steps = max_steps
        self.schedule = tuple(schedule)  # (at, command): a recorded session's, replayed live
        self.stop_requested = False
        self.fast_start = fast_start
        self._make_compiler = compiler  # (tests) dtype -> a warmup.Compiler-like object
        self.compiler = None  # the background compile of a cold start, until its kernels are in use
        self._boundary: Boundary | None = None
        self._hist = None
        self._explainer = Explainer()
        self._refresh_findings = True
        self._shown: tuple = ()  # what the last snapshot showed: an idle trainer publishes nothing new

    def stop(self) -> None:
        self.stop_requested = True

    def _state(self) -> tuple:
        tr = self.trainer
        return (tr.total_steps, tr.status, tr.n_events, tr.commands_taken, tr.message, self._boundary, self._hist)

    def _news(self) -> bool:
        """Anything a new snapshot would show that the last one did not (objects by identity)."""
        now, shown = self._state(), self._shown
        return not shown or now[:5] != shown[:5] or any(a is not b for a, b in zip(now[5:], shown[5:]))

    def _publish(self, status=None, sps=0.0) -> None:
        self._shown = self._state()
        snap = self.trainer.snapshot(self.window, status=status, boundary=self._boundary, steps_per_sec=sps,
                                     hist=self._hist, message=self._compile_note())
        if status != "compiling":  # the prediction and the diagnosis (findings on the boundary's beat)
            snap = self._explainer.annotate(self.trainer, snap, refresh=self._refresh_findings)
            self._refresh_findings = False
        self.publish(snap.warm())

    def _compile_note(self) -> str | None:
        """While a cold start trains on NumPy, the status line says so (with the seconds the
        kernels' compile has taken) before the latest event's text."""
        c, tr = self.compiler, self.trainer
        if c is None or tr.backend != "numpy":
            return None
        note = f"NumPy (compiling{' here' if c.fallback else ''} {c.elapsed:.0f} s)"  # short: 80 columns
        if c.fallback:
            note += f"; {c.fallback}"
        return note + (f" · {tr.message}" if tr.message and tr.message != BACKEND_EVENT["numpy"] else "")

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Compile, then train until ``stop()`` or ``should_stop()``. Publishes every ``1/hz`` s
        and right after any command takes effect; sleeps (no polling) while paused or diverged."""
        tr = self.trainer

        def stop() -> bool:
            return self.stop_requested or should_stop()

        self._stop = stop

        if self.fast_start and tr.backend == "kernels":
            self._start_fast()
        else:
            self._publish(status="compiling")
            if not self._compile(stop):
                return
        tr.message = tr.message or tr.slow_step_note()
        self._boundary = tr.boundary()
        self._publish()
        self._last_bd = self._rate_t = time.perf_counter()
        self._next_pub = self._rate_t + self.period
        self._rate_n = self._last_n = tr.total_steps
        self._seen_events, self._sps = tr.n_events, 0.0
        self._pace_due = self._rate_t  # a throttled run's next chunk starts no earlier
        try:
            run(tr, self.max_steps, schedule=self.schedule, on_chunk=self._after_chunk, should_stop=stop,
                seconds=self._budget, chunk=self._chunk, idle=self._idle,
                align=self.align)  # paused, diverged or capped: until a command
        finally:
            if self.compiler is not None:
                self.compiler.cancel()

    def _start_fast(self) -> None:
        """Warm cache: load the kernels (no "compiling" status). Cold: train on NumPy meanwhile."""
        tr = self.trainer
        t0 = time.perf_counter()
        if tr.kernels_cached():
            tr.compile_s = time.perf_counter() - t0
            return
        tr.apply(Backend("numpy"))  # recorded (step 0): a replay starts on NumPy too
        self._compile_in_background()

    def _compile_in_background(self) -> None:
        from gradtui.warmup import Compiler

        self.compiler = (self._make_compiler or Compiler)(self.trainer.cfg.dtype)

    def _switch_when_ready(self, tr: Trainer) -> None:
        """Between two chunks: once the background compile is done, go on with the kernels."""
        c = self.compiler
        if c is None or not c.ready.is_set():
            return
        self.compiler = None
        if c.error is None and c.dtype != tr.cfg.dtype:  # the network changed dtype meanwhile: those too
            self._compile_in_background()
            return
        tr.compile_s = c.seconds
        if c.error is not None:  # the run goes on, slowly, on NumPy
            tr.message = f"the fast kernels failed ({type(c.error).__name__}: {c.error}); training goes on with NumPy"
            self._next_pub = 0.0  # publish now
            return
        tr.apply(Backend("kernels"))
        tr.message = f"{BACKEND_EVENT['kernels']} (compiled in {c.seconds:.0f} s{', in this process' if c.fallback else ''})"

    def _compile(self, stop: Callable[[], bool]) -> bool:
        """``warm_up`` in a daemon thread: a numba compile cannot be interrupted, but a stop must
        still stop now. False when stopped first; re-raises the compile's error."""
        errors: list[BaseException] = []

        def warm() -> None:
            try:
                self.trainer.warm_up()
            except BaseException as e:  # re-raised in the driving thread
                errors.append(e)

        th = threading.Thread(target=warm, daemon=True, name="gradtui-compile")
        th.start()
        while th.is_alive():
            if stop():
                return False
            th.join(POLL_SECONDS)
        if errors:
            raise errors[0]
        return True

    def _budget(self, tr: Trainer) -> float:
        # at most half a publish period per kernel call, and never past the next snapshot's due
        # time: snapshots land on a steady 1/hz beat, and each chunk boundary (a GIL hand-over
        # that may wait for the UI) is rare
        return min(CHUNK_SECONDS, self.period / 2, max(MIN_CHUNK_SECONDS, self._next_pub - time.perf_counter()))

    def _chunk(self, tr: Trainer) -> int:
        """Steps a chunk may hold: a throttled run's share of a publish period (1 at slow paces)."""
        if tr.pace is None:
            return MAX_CHUNK
        return max(1, min(MAX_CHUNK, int(tr.pace * self.period / PACE_CHUNKS)))

    def _idle(self, tr: Trainer) -> None:
        tr.wake.wait(self.period)
        self._pace_due = time.perf_counter()  # no burst after a pause

    def _throttle(self, tr: Trainer, ran: int) -> None:
        """Sleep until the pace allows the next chunk, publishing on the beat meanwhile; a command
        (``tr.wake``) ends the wait at once."""
        now = time.perf_counter()
        if tr.pace is None or ran == 0:
            self._pace_due = now
            return
        self._pace_due = max(self._pace_due, now - self.period) + ran / tr.pace
        while now < self._pace_due and not self._stop():
            if tr.wake.wait(min(self._pace_due, self._next_pub) - now):
                return
            now = time.perf_counter()
            if now >= self._next_pub - PUBLISH_SLACK:
                self._beat(tr, now)

    def _after_chunk(self, tr: Trainer) -> None:
        if self.on_chunk is not None:
            self.on_chunk(tr)
        self._switch_when_ready(tr)
        if self.max_steps is not None and tr.total_steps >= self.max_steps:
            tr.paused = True  # capped: shown as paused
        now = time.perf_counter()
        ran, self._last_n = tr.total_steps - self._last_n, tr.total_steps
        changed = tr.n_events != self._seen_events
        self._seen_events = tr.n_events
        if self.boundary_period and (changed or (ran and now - self._last_bd >= self.boundary_period)):
            self._boundary = tr.boundary()  # and the histograms, on the same slow beat
            self._hist = tr.histograms()
            self._refresh_findings = True
            self._last_bd = now
        if changed or (now >= self._next_pub - PUBLISH_SLACK and self._news()):
            # (paused, diverged or capped with nothing new: no snapshot, so nothing is redrawn)
            self._beat(tr, now)
        self._throttle(tr, ran)

    def _beat(self, tr: Trainer, now: float) -> None:
        """Publish a snapshot (the rate measured over at least RATE_SECONDS)."""
        if now - self._rate_t > RATE_SECONDS:
            self._sps = (tr.total_steps - self._rate_n) / (now - self._rate_t)
            self._rate_t, self._rate_n = now, tr.total_steps
        self._publish(sps=self._sps if tr.status == "running" else 0.0)
        # keep the beat (no drift from chunk overruns) without a burst after a stall
        self._next_pub = max(self._next_pub + self.period, now + self.period / 2)
