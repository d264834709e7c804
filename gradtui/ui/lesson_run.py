"""A lesson followed live in the dashboard (no textual here): which phase it is in, what the learner
is asked to do, and the text with the numbers measured on the live snapshots filled in.

Phases as :func:`gradtui.lessons.run_lesson_headless` plays them: the start (load the lesson's
preset, run ``steps``), then per step: wait until the learner's key presses led to the step's
configuration (the source's ``intent``; an ``r`` / preset as a command seen), then until the run
reflects them and ran the step's ``run`` steps; then the step's text is filled with the measures
(:func:`gradtui.claims.measure_all`) of the phase's own rows, before and after.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gradtui.claims import measure_all
from gradtui.commands import Command, LoadPreset, Reset
from gradtui.lessons import KEYS, Lesson, _fill, instruction
from gradtui.stats import Snapshot

RUNNING, WAITING, DONE = "running", "waiting", "done"
APPLY_KEY = "L"  # the lessons key (keymap): its picker applies a step's settings that have no key


def phase_rows(snap: Snapshot, first_step: int) -> Snapshot:
    """``snap`` with only the rows of the phase: after the window's last restart (step numbers that
    go down: a reset keeps the rows before it in the window) and from step ``first_step`` on."""
    st = snap.steps
    drops = np.flatnonzero(np.diff(st) < 0)
    keep = st >= first_step
    if len(drops):
        keep[: drops[-1] + 1] = False
    if keep.all():
        return snap
    return dataclasses.replace(snap, steps=snap.steps[keep], glob=snap.glob[keep], layers=snap.layers[keep])


class LessonRun:
    """One lesson in progress. The app calls :meth:`begin` (commands to send), :meth:`observe` for
    every command sent, and :meth:`update` with the source on every snapshot."""

    def __init__(self, lesson: Lesson) -> None:
        self.lesson = lesson
        self.index = 0  # 0: the start; i: step i (1-based)
        self.state = RUNNING
        self.need = 0  # commands the run must have taken before the phase counts
        self.base_total: int | None = None  # total_steps when the phase began
        self.first_step = 0
        self.restarts = True  # the phase began with a preset / reset: step numbers restart
        self.before: dict[str, float] = {}
        self.text = ""  # the explanation of the last finished phase
        self.todo = ""  # what the learner does next
        self.progress = 0
        self._seen: list[Command] = []

    # ------------------------------------------------------------------ the app's calls
    def begin(self) -> list[Command]:
        """The commands that start the lesson (its preset with its settings)."""
        return [LoadPreset(self.lesson.config)]

    def started(self, submitted: int) -> None:
        """The start's commands were sent (the source has ``submitted`` commands now)."""
        self._run_phase(submitted, restarts=True)

    def observe(self, cmd: Command) -> None:
        self._seen.append(cmd)

    @property
    def step(self):
        return self.lesson.steps[self.index - 1] if self.index else None

    @property
    def run_len(self) -> int:
        return self.step.run if self.index else self.lesson.start_steps

    def update(self, source) -> bool:
        """Advance with the source's newest snapshot and intent; True when the text changed."""
        snap = source.snap
        if self.state == WAITING:
            if not self._pressed(source.intent):
                return False
            self._run_phase(source.submitted, restarts=self.step.reset or self.step.preset is not None)
            return True
        if self.state != RUNNING or snap is None or snap.commands_taken < self.need:
            return False
        if self.base_total is None:  # the first snapshot that reflects the phase's commands
            self.base_total = snap.total_steps - (snap.step if self.restarts else 0)
            self.first_step = 0 if self.restarts else snap.step
        self.progress = max(0, snap.total_steps - self.base_total)
        if self.progress < self.run_len and snap.status != "diverged":
            return True
        after = measure_all(phase_rows(snap, self.first_step))
        template = self.step.text if self.index else self.lesson.intro
        self.text = _fill(template, self.before, after)
        self.before = after
        if self.index >= len(self.lesson.steps):
            self.state, self.todo = DONE, ""
        else:
            self.index += 1
            self.state = WAITING
            self.todo = instruction(self.step, source.intent)
            if self.keyless(source.intent):
                self.todo += f" — for the settings without a key press {APPLY_KEY} and pick 'apply'"
            self._seen = []
        return True

    def keyless(self, intent) -> dict:
        """The step's changes no dashboard key makes (L2, L1, schedules...) not yet in ``intent``:
        the lesson picker offers to apply them (``{}`` when there are none or it is not waiting)."""
        if self.state != WAITING:
            return {}
        covered = {KEYS[k][0] for k in self.step.keys if k in KEYS}
        return {k: v for k, v in self.step.set if k not in covered and getattr(intent, k) != v}

    # ------------------------------------------------------------------ helpers
    def _run_phase(self, submitted: int, restarts: bool) -> None:
        self.state, self.need, self.base_total, self.restarts, self.progress = RUNNING, submitted, None, restarts, 0

    def _pressed(self, intent) -> bool:
        st = self.step
        if st.preset is not None and not any(isinstance(c, LoadPreset) and c.config.name == st.preset
                                             for c in self._seen):
            return False
        if st.reset and not any(isinstance(c, Reset) for c in self._seen):
            return False
        return all(getattr(intent, k) == v for k, v in st.set)

    def paused_note(self, snap: Snapshot | None) -> str:
        if snap is not None and snap.status == "paused" and self.state == RUNNING:
            return " (paused: space resumes)"
        return ""
