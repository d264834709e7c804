"""The Textual dashboard: the App, its keys and the wiring between the trainer thread and widgets.

The trainer runs in a thread worker (:class:`gradtui.trainer.Runner`) and publishes immutable
snapshots with ``post_message`` (non-blocking, coalesced: only the newest pending snapshot is
kept). Every key becomes a :class:`Command`; what the widgets show comes from the next snapshot.
"""

from __future__ import annotations

import threading
import traceback
from typing import Iterable

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from gradtui.activations import ACTIVATIONS
from gradtui.config import Config
from gradtui.data import DATASETS
from gradtui.initializers import INITIALIZERS
from gradtui.optimizers import CLIPPING, OPTIMIZERS
from gradtui.outputs import OutputError, write_whole
from gradtui.stats import Snapshot
from gradtui.commands import Command, LoadPreset, Reinit, Reset, SetFields, Step, TogglePause
from gradtui import drive
from gradtui.drive import Runner
from gradtui.trainer import Trainer
from gradtui.watchdog import Watchdog, no_terminal
from gradtui.widgets import BoundaryMap, DepthProfile, GradRows, LossPlot, StatusBar

MIN_SIZE = (60, 16)
UI_HZ = 10.0  # snapshots per second from the trainer


class SnapshotMessage(Message):
    """A new snapshot (``snap.commands_taken``: the commands it already reflects)."""

    def __init__(self, snap: Snapshot) -> None:
        super().__init__()
        self.snap = snap

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotMessage)


class TrainerFailed(Message):
    def __init__(self, error: str, tb: str) -> None:
        super().__init__()
        self.error, self.tb = error, tb


def _cycle(options: Iterable[str], current: str, step: int = 1) -> str:
    opts = list(options)
    i = opts.index(current) if current in opts else -1
    return opts[(i + step) % len(opts)]


class GradApp(App[int]):
    CSS_PATH = "app.tcss"
    # Screens get -narrow / -short below the minimum size; app.tcss swaps the layout for a message.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (MIN_SIZE[0], "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (MIN_SIZE[1], "-tall")]
    TITLE = "gradtui"
    BINDINGS = [
        Binding("a", "activation(1)", "act", tooltip="next activation function"),
        Binding("A", "activation(-1)", "act back", show=False, tooltip="previous activation function"),
        Binding("i", "init", "init", tooltip="next initialiser (re-initialises the weights)"),
        Binding("c", "clip", "clip", tooltip="next gradient clipping mode"),
        Binding("o", "optimizer", "opt", tooltip="next optimiser (resets its state)"),
        Binding("plus,equals_sign", "lr(2.0)", "lr×2", key_display="+", tooltip="learning rate × 2"),
        Binding("minus", "lr(0.5)", "lr÷2", key_display="-", tooltip="learning rate ÷ 2"),
        Binding("R", "residual", "residual", show=False, tooltip="toggle residual connections"),
        Binding("b", "batchnorm", "batch norm", show=False, tooltip="toggle batch normalisation"),
        Binding("d", "dataset", "dataset", show=False, tooltip="next data set (rebuilds: step 0)"),
        Binding("space", "pause", "pause", key_display="spc", tooltip="pause / resume training"),
        Binding("n", "step", "step", show=False, tooltip="one training step (while paused)"),
        Binding("r", "reset", "reset", show=False, tooltip="reset: step 0, fresh weights and optimiser"),
        Binding("p", "presets", "presets", show=False, tooltip="pick a preset"),
        Binding("v", "panel", "panel", show=False,
                tooltip="depth panel: grad norm / update ratio / saturated / dead / act std"),
        Binding("l", "log_y", "log-y", show=False, tooltip="loss plot: log / linear y axis"),
        Binding("question_mark", "help", "help", key_display="?", tooltip="this help"),
        Binding("q", "quit", "quit", tooltip="quit"),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True, tooltip="quit (as in any terminal program)"),
    ]

    def __init__(self, cfg: Config, *, trainer: Trainer | None = None, drive: bool = True,
                 snapshot: Snapshot | None = None, hide_wallclock: bool = False,
                 max_steps: int | None = None, hz: float = UI_HZ, fast_start: bool = True) -> None:
        super().__init__()
        self.watchdog: Watchdog | None = None  # the real terminal app's (see run_app)
        self.trainer = trainer or Trainer(cfg)
        self.submitted = self.trainer.commands_taken  # commands sent; the trainer counts those taken
        self.drive, self.hz, self.max_steps = drive, hz, max_steps
        self.fast_start = fast_start  # (drive.Runner) False: "compiling" until the kernels are ready
        self.hide_wallclock = hide_wallclock
        self.snap: Snapshot | None = snapshot
        self.intent: Config = self.trainer.cfg  # config after every submitted command
        self.history: list[Snapshot] = []
        self.error = self.error_tb = ""
        self._stop = threading.Event()
        self.trainer_done = threading.Event()  # set when the trainer thread has returned

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield StatusBar(self.hide_wallclock, id="status")
        with Vertical(id="main"):
            with Horizontal(id="top"):
                yield GradRows(id="grads")
                yield DepthProfile(id="profile")
            with Horizontal(id="bottom"):
                yield LossPlot(id="loss")
                yield BoundaryMap(id="boundary")
        yield Static(f"Terminal too small: gradtui needs at least {MIN_SIZE[0]}x{MIN_SIZE[1]}.\n"
                     "Enlarge the window (q quits).", id="too-small")
        yield Footer()

    def on_mount(self) -> None:
        if self.watchdog is not None:  # Textual's driver has set its SIGCONT handler by now
            self.watchdog.guard_sigcont()
            if self.watchdog.fired.is_set():  # hung up while starting
                self.exit()
        self.query_one("#grads").border_title = "log10 |dL/dW| per layer (input at top)  1e-10 … 1e2"
        self.query_one("#loss").border_title = "loss (log10)  l toggles"
        self.query_one("#boundary").border_title = "decision boundary"
        self._title_profile()
        self.query_one(StatusBar).show(self.snap)
        for snap in self.history:  # earlier fixed-step snapshots: the loss plot's long view
            self.query_one(LossPlot).show(snap)
        if self.snap is not None:
            self._show(self.snap)
        if self.drive:
            self._train()

    def _title_profile(self) -> None:
        self.query_one("#profile").border_title = self.query_one(DepthProfile).title + "  v"

    # ------------------------------------------------------------------ trainer thread
    @work(thread=True, exclusive=True, name="trainer", exit_on_error=False)
    def _train(self) -> None:
        worker = get_current_worker()
        tr = self.trainer

        def stop() -> bool:
            return self._stop.is_set() or worker.is_cancelled

        def publish(snap: Snapshot) -> None:
            self.post_message(SnapshotMessage(snap))

        try:
            # a warm numba cache is loaded; a cold one trains on NumPy while the kernels compile
            Runner(tr, publish, hz=self.hz, max_steps=self.max_steps, fast_start=self.fast_start).run(should_stop=stop)
        except Exception as exc:  # shown on screen, never swallowed
            self._stop.set()
            self.post_message(TrainerFailed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        finally:
            self.trainer_done.set()

    def exit(self, result: int | None = None, return_code: int = 0, message=None) -> None:
        self._stop.set()  # the trainer stops now, not once the widgets are gone
        super().exit(result, return_code, message)

    def on_unmount(self) -> None:
        self._stop.set()

    # Messages from the trainer thread may still be queued while the app shuts down (the main
    # screen's widgets already removed): the handlers below must not assume the widgets exist.
    def on_snapshot_message(self, msg: SnapshotMessage) -> None:
        if msg.snap.commands_taken >= self.submitted:
            self.intent = msg.snap.config
        self._show(msg.snap)

    def on_trainer_failed(self, msg: TrainerFailed) -> None:
        self.error, self.error_tb = msg.error, msg.tb
        self.log.error(msg.tb)
        try:
            bar = self.query_one(StatusBar)
        except NoMatches:  # shutting down: the error is printed on exit (run_app)
            return
        bar.error = msg.error
        bar.show(self.snap)
        self.notify(msg.error, title="trainer crashed", severity="error", timeout=30)

    def _show(self, snap: Snapshot) -> None:
        self.snap = snap
        try:
            views = [self.query_one(t) for t in (StatusBar, GradRows, DepthProfile, LossPlot, BoundaryMap)]
        except NoMatches:  # shutting down: nothing left to show it on
            return
        for w in views:
            w.show(snap)

    # ------------------------------------------------------------------ commands
    def submit(self, cmd: Command) -> None:
        self.intent = cmd.after(self.intent)
        self.submitted += 1
        self.trainer.submit(cmd)

    def _set(self, **changes) -> Config:
        self.submit(SetFields.of(**changes))
        return self.intent

    def action_activation(self, step: int = 1) -> None:
        self._set(activation=_cycle(ACTIVATIONS, self.intent.activation, step))

    def action_init(self) -> None:
        init = _cycle(INITIALIZERS, self.intent.init)
        self.submit(Reinit(init))
        self.notify(f"weights re-initialised with {init}", timeout=2)

    def action_clip(self) -> None:
        self._set(clip=_cycle(CLIPPING, self.intent.clip))

    def action_optimizer(self) -> None:
        opt = self._set(optimizer=_cycle(OPTIMIZERS, self.intent.optimizer)).optimizer
        self.notify(f"optimiser {opt}: optimiser state reset", timeout=2)

    def action_lr(self, factor: float) -> None:
        self._set(lr=float(min(1e6, max(1e-12, self.intent.lr * factor))))

    def action_residual(self) -> None:
        self._set(residual=not self.intent.residual)

    def action_batchnorm(self) -> None:
        self._set(batchnorm=not self.intent.batchnorm)

    def action_dataset(self) -> None:
        self._set(dataset=_cycle(DATASETS, self.intent.dataset))

    def action_pause(self) -> None:
        self.submit(TogglePause())

    def action_step(self) -> None:
        self.submit(Step(1))

    def action_reset(self) -> None:
        self.submit(Reset())

    def action_panel(self) -> None:
        self.query_one(DepthProfile).cycle()
        self._title_profile()

    def action_log_y(self) -> None:
        log = self.query_one(LossPlot).toggle_log()
        self.query_one("#loss").border_title = f"loss ({'log10' if log else 'linear'})  l toggles"

    def action_help(self) -> None:
        from gradtui.screens import HelpScreen

        self.push_screen(HelpScreen())

    def action_presets(self) -> None:
        from gradtui.screens import PresetPicker
        from gradtui.screens.presets import available_presets

        presets = available_presets()
        if not presets:
            self.notify("no presets available (gradtui.presets not installed yet)", severity="warning")
            return
        self.push_screen(PresetPicker(presets), self.load_preset)

    def load_preset(self, name: str | None) -> None:
        if not name:
            return
        try:
            from gradtui.memory import check_memory
            from gradtui.presets import load_preset

            cfg = load_preset(name)
            check_memory(cfg, fresh_process=False)  # refused here, not a MemoryError mid-run
        except Exception as exc:  # PresetError, MemoryLimitError or a missing module
            self.notify(str(exc), title="preset", severity="error")
            return
        self.submit(LoadPreset(cfg))
        self.notify(f"preset {cfg.name}: step 0", timeout=2)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for b in self.BINDINGS:
            if b.action not in ("quit",):
                yield SystemCommand(b.tooltip or b.description, f"key {b.key_display or b.key}",
                                    lambda a=b.action: self.run_action(a))


def run_app(cfg: Config, mouse: bool = True, record: str | None = None) -> int:
    """Run the dashboard in this terminal until the user quits, SIGTERM or a hang-up. Returns an
    exit code. ``record``: write the session (seed, preset, every command with its step) to this
    file. Refuses (a UsageError, before any file is written) without a terminal."""
    import sys

    problem = no_terminal()
    if problem:
        from gradtui.cli import UsageError

        raise UsageError(problem)
    app = GradApp(cfg)
    recorder = None
    if record:
        from gradtui.session import Recorder

        recorder = Recorder(record, app.trainer)
    closing = threading.Lock()
    close_errors: list[Exception] = []  # kept for the main thread, whichever thread closed

    def close_files() -> None:  # from the main thread or the watchdog's, whichever comes first
        with closing:
            if recorder is not None:
                try:
                    recorder.close()
                except OutputError as e:  # the record was cut (disk full): say so on the way out
                    close_errors.append(e)

    app.watchdog = Watchdog(stop=app._stop.set, stopped=app.trainer_done, close=close_files,
                            request_exit=lambda: app.exit() if app.is_running else None,
                            fds=[f.fileno() for f in (sys.__stdin__, sys.__stderr__)])
    app.watchdog.install()
    try:
        app.run(mouse=mouse)
    finally:
        if recorder is not None:
            app.trainer_done.wait(2.0)  # the trainer thread stops within a step
        close_files()
        app.watchdog.uninstall(1 if app.error or close_errors else app.return_code or 0)
    if close_errors:  # the CLI's one error line, exit 1 (as any output that failed while running)
        raise close_errors[0]
    if app.error:
        print(f"gradtui: the trainer crashed: {app.error}\n{app.error_tb}", file=sys.stderr)
        return 1
    return app.return_code or 0


def fixed_snapshot(cfg: Config, steps: int, status: str | None = None,
                   window: int = 1024) -> tuple[Trainer, list[Snapshot]]:
    """Run exactly ``steps`` steps synchronously (deterministic for a seed). Returns the trainer
    and the snapshots to show: the run's loss history before the last window (at most one
    snapshot of at most ``History.cap`` rows, decimated exactly as the loss plot decimates it, so
    memory stays bounded however many steps run), then the last window with the decision boundary."""
    from gradtui.widgets.loss_plot import History

    tr = Trainer(cfg)
    hist = History()

    last = [0]

    def keep(tr: Trainer) -> None:  # every window that ran, but the last, goes into the history
        if last[0] < tr.total_steps < steps:
            hist.add(tr.snapshot(window, status=status))
        last[0] = tr.total_steps


    drive.run(tr, steps, on_chunk=keep, chunk=window)
    snaps = [_history_snapshot(tr, hist, status)] if len(hist.rows) else []
    snaps.append(tr.snapshot(window, status=status, boundary=tr.boundary()))
    return tr, snaps


def _history_snapshot(tr: Trainer, hist, status: str | None) -> Snapshot:
    """A snapshot carrying only the loss plot's history rows (step, loss, test accuracy)."""
    import numpy as np

    from gradtui import kernels as K
    from gradtui.stats import GLOBAL_COL

    steps, loss, acc = hist.arrays()
    glob = np.full((len(steps), K.N_GSTATS), np.nan)
    glob[:, GLOBAL_COL["loss"]], glob[:, GLOBAL_COL["test_acc"]] = loss, acc
    layers = np.broadcast_to(np.nan, (len(steps), len(tr.layer_names), K.N_LSTATS))  # no memory
    return Snapshot.build(tr.cfg, tr.layer_names, int(steps[-1]) + 1, status or tr.status,
                          steps.astype(np.int64), glob, layers, task=tr.data.task)


def static_app(cfg: Config, steps: int) -> GradApp:
    """The real dashboard showing a fixed-step state, no trainer thread, wall-clock hidden."""
    tr, snaps = fixed_snapshot(cfg, steps)
    app = GradApp(cfg, trainer=tr, drive=False, snapshot=snaps[-1], hide_wallclock=True)
    app.history = snaps[:-1]
    return app


def save_screenshot(cfg: Config, steps: int, size: tuple[int, int], path: str) -> None:
    """Render the dashboard after exactly ``steps`` steps, headless, to an SVG at ``path``.
    The file appears whole or not at all (written beside its target, then renamed); a write
    error raises OSError (``outputs.write_whole``)."""
    app = static_app(cfg, steps)
    svg: list[str] = []

    async def pilot(p) -> None:
        await p.pause()
        app.query_one(LossPlot).redraw(force=True)
        await p.pause()
        await p.wait_for_scheduled_animations()
        svg.append(app.export_screenshot())
        app.exit(0)

    app.run(headless=True, size=size, auto_pilot=pilot)
    if not svg:
        raise OSError(f"the dashboard exited before the screenshot ({app.return_code})")
    write_whole(path, svg[0])
