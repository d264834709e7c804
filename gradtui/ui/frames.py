"""When the dashboard shows new snapshots: at most one frame per ``period`` seconds, each frame
showing every run's newest snapshot.

Two runs publish at 10 Hz each on clocks of their own. Shown as they come, they make ~20 frames a
second, and Textual repaints the whole area spanned by the changed widgets (both panels) in each:
twice the work of one run. Paced, a snapshot that arrives less than ``period`` after the last frame
waits for the next one, where the other run's newest snapshot joins it: ~10 frames a second, every
widget drawn once per frame, and no snapshot delayed by more than ``period``. A snapshot that comes
after a quiet spell (a paused run, a key press) is shown at once.
"""

from __future__ import annotations

import gc
import time
from typing import Callable


class FramePacer:
    """Call :meth:`ask` whenever there is something new to show; ``present()`` runs now or at the
    next free slot, never twice within ``period`` seconds (``period`` 0: always now).
    ``schedule(delay, fn)`` sets a one-shot timer (the App's ``set_timer``)."""

    def __init__(self, present: Callable[[], None], schedule: Callable[[float, Callable[[], None]], object],
                 period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.present, self.schedule, self.period, self.clock = present, schedule, period, clock
        self.last = -float("inf")  # when the last frame was presented
        self.waiting = False  # a frame is scheduled

    def ask(self) -> None:
        if self.waiting:
            return  # the scheduled frame will show it
        wait = self.last + self.period - self.clock()
        if wait <= 0:
            self._frame()
        else:
            self.waiting = True
            self.schedule(wait, self._frame)

    def _frame(self) -> None:
        self.waiting = False
        self.last = self.clock()
        self.present()


GC_GEN0 = 5000  # allocations between the collector's young passes while the dashboard runs (Python: 700)


class QuietCollector:
    """Keeps Python's cyclic garbage collector off the dashboard's long-lived objects.

    Measured with two runs at 10 Hz: ~190,000 objects live (Textual's DOM and styles, the modules),
    a full collection every ~2.5 s took ~140 ms of the UI thread (5-6% of a core, and a visible
    hitch), and the young passes (~48 a second at Python's threshold of 700) another 2.3%. Frozen
    after the first frame, the full passes see only what was made since; young passes run every
    :data:`GC_GEN0` allocations. ``stop()`` (the app unmounts) restores both, so a process that goes
    on (the tests) collects what the dashboard left."""

    def __init__(self) -> None:
        self.saved: tuple[int, int, int] | None = None

    def start(self) -> None:
        if self.saved is None and not gc.isenabled():
            return  # somebody turned the collector off: leave it so
        if self.saved is None:
            self.saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(GC_GEN0, self.saved[0]), *self.saved[1:])

    def stop(self) -> None:
        if self.saved is not None:
            gc.set_threshold(*self.saved)
            gc.unfreeze()
            self.saved = None
