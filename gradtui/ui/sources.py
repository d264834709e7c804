"""Sources: what feeds one run's snapshots to the dashboard, and :func:`make_app`, the one factory
the CLI, the tests and the screenshots build the App with.

- :class:`LiveSource`: a trainer driven by :class:`gradtui.drive.Runner` in a thread worker; its
  snapshots travel up as :class:`SnapshotMessage` (non-blocking, coalesced per run), commands
  travel down through :meth:`Source.submit`. It also owns the run's session record.
- :class:`StaticSource`: fixed snapshots (e.g. a seeded run to a fixed step), no thread; the
  commands it receives are kept in ``commands`` (tests read them).

The UI thread reads only snapshots: everything a panel shows comes from ``Source.snap``.
"""

from __future__ import annotations

import queue
import threading
import traceback
from functools import partial
from typing import TYPE_CHECKING, Callable, Sequence

from textual.worker import get_current_worker

from gradtui.commands import Command, Pace
from gradtui.config import Config
from gradtui.drive import UI_HZ, Runner
from gradtui.stats import Snapshot
from gradtui.trainer import Trainer
from gradtui.ui.messages import SnapshotMessage, TrainerFailed

if TYPE_CHECKING:
    from textual.app import App

    from gradtui.ui.app import GradApp



class Source:
    """One run as the UI sees it: its newest snapshot and the configuration the commands sent so
    far lead to (``intent``: what the next key press cycles from). UI thread only."""

    hide_wallclock = False
    read_only = False  # a replay: commands that change what is computed are refused

    def __init__(self, run_id: str, intent: Config, submitted: int = 0) -> None:
        self.run_id = run_id
        self.snap: Snapshot | None = None
        self.intent = intent  # config after every submitted command
        self.submitted = submitted  # commands sent; snapshots count those the trainer took
        self.pace: float | None = None  # the speed limit the commands sent so far lead to
        self.error = self.error_tb = ""
        self.done = threading.Event()  # set once the run's thread (if any) has returned

    def start(self, app: "App") -> None:
        """Begin feeding ``app`` (called once the App is mounted)."""

    def stop(self) -> None:
        """Stop feeding (the app quits); returns at once."""

    def submit(self, cmd: Command) -> None:
        self.intent = cmd.after(self.intent)
        self.submitted += 1
        if isinstance(cmd, Pace):
            self.pace = cmd.steps_per_s

    def accept(self, snap: Snapshot) -> None:
        """A snapshot arrived on the UI thread."""
        self.snap = snap
        if snap.commands_taken >= self.submitted:
            self.intent = snap.config
            self.pace = snap.pace

    def initial(self) -> Sequence[Snapshot]:
        """Snapshots to show before any message arrives (oldest first; the last is current)."""
        return ()


class StaticSource(Source):
    """Fixed snapshots, no thread. All but the last only feed the loss plot's long view."""

    hide_wallclock = True  # a fixed-step picture: no wall-clock figures

    def __init__(self, snaps: Sequence[Snapshot], run_id: str = "run") -> None:
        if not snaps:
            raise ValueError("a static source needs at least one snapshot")
        super().__init__(run_id, snaps[-1].config, snaps[-1].commands_taken)
        self.snaps = tuple(snaps)
        self.snap = self.snaps[-1]
        self.commands: list[Command] = []  # what the keys sent (nothing runs them)
        self.done.set()

    @classmethod
    def fixed(cls, cfg: Config, steps: int, run_id: str = "run") -> "StaticSource":
        """The state of a seeded run of ``cfg`` after exactly ``steps`` steps (deterministic)."""
        from gradtui.ui.screenshot import fixed_snapshot

        return cls(fixed_snapshot(cfg, steps)[1], run_id)

    def initial(self) -> Sequence[Snapshot]:
        return self.snaps

    def submit(self, cmd: Command) -> None:
        super().submit(cmd)
        self.commands.append(cmd)


class LiveSource(Source):
    """A trainer (``cfg``'s, or ``trainer``) run flat out by a :class:`Runner` in a thread worker.
    ``record``: write the session (seed, config, every command with its step) to this file; it is
    opened now (a write error raises here) and finished by :meth:`close`. ``export``: stream the
    per-step statistics there as the headless mode does (written from the trainer's thread after
    every chunk; ``hist_every``: histogram records too), finished by :meth:`close`. ``paused``:
    start at step 0, paused (None: as the config's ``start_paused`` says, or as a given trainer is); the config's ``pace``:
    the speed limit. ``fast_start``: a warm numba cache is loaded, a cold one trains on NumPy while
    it compiles."""

    def __init__(self, cfg: Config | None = None, *, trainer: Trainer | None = None, run_id: str = "run",
                 hz: float = UI_HZ, max_steps: int | None = None, record: str | None = None,
                 export: str | None = None, hist_every: int | None = None, fast_start: bool = True,
                 paused: bool | None = None) -> None:
        trainer = trainer or Trainer(cfg)
        super().__init__(run_id, trainer.cfg, trainer.commands_taken)  # no thread runs it yet
        if paused is not None or cfg is not None:  # (a given trainer, e.g. a fork, keeps its state)
            trainer.paused = trainer.cfg.start_paused if paused is None else paused
        trainer.pace = self.pace = trainer.cfg.pace or trainer.pace
        self.trainer = trainer  # touched by the worker thread only, and by commands (a queue)
        self.hz, self.max_steps = hz, max_steps
        self.fast_start = fast_start  # a warm numba cache is loaded; a cold one trains on NumPy while it compiles
        self._stop = threading.Event()
        self._calls: "queue.SimpleQueue[Callable[[Trainer], None]]" = queue.SimpleQueue()
        self.recorder = None
        self.schedule: tuple = ()  # (at, command) to apply at recorded steps (a replay)
        if record:
            from gradtui.session import Recorder

            self.recorder = Recorder(record, trainer)
        self.pump = self.export_error = None
        if export:
            from gradtui.export import ExportPump, open_exporter

            self.pump = ExportPump(trainer, open_exporter(export, trainer.layer_names), hist_every=hist_every)

    def _export(self, tr: Trainer) -> None:  # in the trainer's thread, after every chunk
        if self.pump is None or self.export_error is not None:
            return
        from gradtui.outputs import OutputError

        try:
            self.pump.pump()
        except OutputError as e:  # kept for close(): the run goes on, the export stops
            self.export_error = e

    def start(self, app: "App") -> None:
        app.run_worker(partial(self._train, app.post_message), name="trainer", group=f"run {self.run_id}",
                       thread=True, exclusive=True, exit_on_error=False)

    def stop(self) -> None:
        self._stop.set()

    def call_in_thread(self, fn: Callable[[Trainer], None]) -> None:
        """Run ``fn(trainer)`` in the trainer's thread between two chunks (e.g. a fork's clone);
        a paused run's thread takes it within one idle wait (1/hz s)."""
        self._calls.put(fn)

    def submit(self, cmd: Command) -> None:
        super().submit(cmd)
        self.trainer.submit(cmd)  # a thread-safe queue: the trainer takes it between chunks

    def close(self) -> None:
        """Finish the record and the export (once the trainer stopped); raises OutputError if
        either was cut."""
        try:
            if self.recorder is not None:
                self.recorder.close()
        finally:
            if self.pump is not None:
                self._export(self.trainer)  # the last rows
                pump, self.pump = self.pump, None
                pump.exporter.close()
                if self.export_error is not None:
                    raise self.export_error

    def _train(self, post: Callable[[object], object]) -> None:  # in the worker thread
        worker = get_current_worker()
        tr = self.trainer

        def stop() -> bool:  # (asked between chunks: the trainer's state is whole)
            while not self._calls.empty():
                self._calls.get_nowait()(tr)
            return self._stop.is_set() or worker.is_cancelled

        def publish(snap: Snapshot) -> None:
            post(SnapshotMessage(self.run_id, snap))

        try:
            # (the Runner compiles in a daemon thread and notices a stop while numba compiles)
            Runner(tr, publish, hz=self.hz, max_steps=self.max_steps, on_chunk=self._export,
                   align=self.pump.hist_every if self.pump else None, fast_start=self.fast_start,
                   schedule=self.schedule).run(should_stop=stop)
        except Exception as exc:  # shown on screen, never swallowed
            self._stop.set()
            post(TrainerFailed(self.run_id, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        finally:
            self.done.set()


def make_app(sources: Config | Source | Sequence[Source], *, steps: int | None = None,
             hz: float = UI_HZ, max_steps: int | None = None) -> "GradApp":
    """The dashboard. ``sources``: one source, several (shown side by side), or a Config: a live
    trainer, or with ``steps`` the fixed state after exactly that many steps (no thread)."""
    from gradtui.ui.app import GradApp

    if isinstance(sources, Config):
        cfg = sources
        sources = StaticSource.fixed(cfg, steps) if steps is not None else LiveSource(cfg, hz=hz, max_steps=max_steps)
    if isinstance(sources, Source):
        sources = [sources]
    return GradApp(sources)
