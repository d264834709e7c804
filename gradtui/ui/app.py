"""The Textual dashboard: one :class:`RunPanel` per source, the keys, and the messages between.

Every key becomes a command object sent down through the current run's source; what the panels
show comes from the snapshots the sources send up (:mod:`gradtui.ui.messages`). Build it with
:func:`gradtui.ui.sources.make_app`.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Container, Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Static

from gradtui.commands import Command, LoadPreset, Reset, Step, TogglePause
from gradtui.config import Config
from gradtui.drive import UI_HZ
from gradtui.keymap import BY_SHOWN
from gradtui.stats import Snapshot
from gradtui.ui import keys, lesson_panel
from gradtui.ui.ab import ABActions
from gradtui.ui.compare import RunDiff
from gradtui.ui.messages import SnapshotMessage, TrainerFailed
from gradtui.ui.control import ControlActions
from gradtui.ui.frames import FramePacer, QuietCollector
from gradtui.ui.sources import Source
from gradtui.ui.widgets.ab_loss import ABLossPlot
from gradtui.ui.widgets.run_panel import RunPanel
from gradtui.watchdog import Watchdog

MIN_SIZE = (60, 16)
SIDE_BY_SIDE = 120  # two runs side by side from this width on, stacked below it
AB_PLOTS_HEIGHT = 36  # two runs show their loss plots and boundaries from this height on


class GradApp(ABActions, ControlActions, App[int]):
    CSS_PATH = "app.tcss"
    # Screens get -narrow / -short below the minimum size; app.tcss swaps the layout for a message.
    # (and -roomy from SIDE_BY_SIDE columns on: two runs go side by side)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (MIN_SIZE[0], "-wide"), (SIDE_BY_SIDE, "-roomy")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (MIN_SIZE[1], "-tall"), (AB_PLOTS_HEIGHT, "-high")]
    TITLE = "gradtui"
    BINDINGS = keys.BINDINGS

    def __init__(self, sources: Sequence[Source]) -> None:
        super().__init__()
        if not sources:
            raise ValueError("the dashboard needs at least one source")
        self.sources = list(sources)
        self.by_id = {s.run_id: s for s in self.sources}
        if len(self.by_id) != len(self.sources):
            raise ValueError("two sources with one run id")
        self.watchdog: Watchdog | None = None  # the real terminal's (see gradtui.ui.terminal)
        self._panels: dict[str, RunPanel] = {}
        self.initial_lesson: str | None = None  # a lesson to start once mounted (gradtui learn N)
        self.focus_i = 0  # the run the keys act on (tab switches; gradtui.ui.ab)
        self._due: dict[str, Snapshot] = {}  # snapshots not shown yet, by run (the next frame's)
        # two runs: one frame shows both runs' news, at most UI_HZ frames a second (gradtui.ui.frames)
        self._frames = FramePacer(self._present, lambda wait, fn: self.set_timer(wait, fn), 1.0 / UI_HZ)
        self._gc = QuietCollector()  # (started after the first frame, stopped on unmount)

    # ------------------------------------------------------------------ the current run
    @property
    def source(self) -> Source:
        """The run the keys act on (the focused one)."""
        return self.sources[self.focus_i]

    @property
    def snap(self) -> Snapshot | None:
        return self.source.snap

    @property
    def intent(self) -> Config:
        return self.source.intent

    @property
    def error(self) -> str:
        return next((s.error for s in self.sources if s.error), "")

    def panel(self, run_id: str) -> RunPanel:
        """Run ``run_id``'s panel (NoMatches once the screen's widgets are gone)."""
        p = self._panels.get(run_id)
        if p is None or not p.is_attached:
            raise NoMatches(f"no panel shows run {run_id!r}")
        return p

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        self._panels = {s.run_id: RunPanel(s.run_id, s.hide_wallclock) for s in self.sources}
        with Container(id="runs"):  # (a fork mounts a second panel here)
            yield from self._panels.values()
        with Horizontal(id="ab"):  # A/B (hidden for one run): the difference view, both losses on one axis
            yield RunDiff(id="diff")
            yield ABLossPlot(id="ab-loss")
        yield Static(f"Terminal too small: gradtui needs at least {MIN_SIZE[0]}x{MIN_SIZE[1]}.\n"
                     f"Enlarge the window ({keys.key('quit')} quits).", id="too-small")
        yield Footer(show_command_palette=False)  # (Ctrl+P still opens it): the keys fit in 80 columns

    def on_mount(self) -> None:
        if self.watchdog is not None:  # Textual's driver has set its SIGCONT handler by now
            self.watchdog.guard_sigcont()
            if self.watchdog.fired.is_set():  # hung up while starting
                self.exit()
        for s in self.sources:
            first = s.initial()
            panel = self.panel(s.run_id)
            for snap in first[:-1]:  # earlier snapshots: the loss plot's long view
                panel.show_history(snap)
            if first:
                s.accept(first[-1])
                panel.show(first[-1])
            s.start(self)
            if s.read_only:
                from gradtui.ui.replay import READ_ONLY_NOTE

                self.notify(READ_ONLY_NOTE, timeout=6, markup=False)
        if self.initial_lesson:
            lesson_panel.start_lesson(self, self.initial_lesson)
        self.ab_refresh()
        self.call_after_refresh(self._gc.start)  # what is built by then lives as long as the app

    def exit(self, result: int | None = None, return_code: int = 0, message=None) -> None:
        self._stop_sources()  # the trainers stop now, not once the widgets are gone
        super().exit(result, return_code, message)

    def on_unmount(self) -> None:
        self._stop_sources()
        self._gc.stop()

    def _stop_sources(self) -> None:
        for s in self.sources:
            s.stop()

    # Messages from a trainer thread may still be queued while the app shuts down (the main
    # screen's widgets already removed): the handlers below must not assume the widgets exist.
    def on_snapshot_message(self, msg: SnapshotMessage) -> None:
        source = self.by_id.get(msg.run_id)
        if source is None:
            return
        source.accept(msg.snap)  # (what the keys act on follows at once; the panels at the next frame)
        self._due[msg.run_id] = msg.snap
        if self.two:
            self._frames.ask()
        else:
            self._present()

    def _present(self) -> None:
        """A frame: every run's newest snapshot not shown yet goes to its panel."""
        due, self._due = self._due, {}
        shown = False
        for run_id, snap in due.items():
            try:
                self.panel(run_id).show(snap)
            except NoMatches:  # closed, or shutting down: nothing left to show it on
                continue
            shown = True
            if self.by_id.get(run_id) is self.source:
                lesson_panel.on_snapshot(self)
        if shown and self.two:
            self.ab_snapshot()

    def on_trainer_failed(self, msg: TrainerFailed) -> None:
        source = self.by_id.get(msg.run_id)
        if source is None:
            return
        source.error, source.error_tb = msg.error, msg.tb
        self.log.error(msg.tb)
        try:
            self.panel(msg.run_id).fail(msg.error)
        except NoMatches:  # shutting down: the error is printed on exit
            return
        self.notify(msg.error, title="trainer crashed", severity="error", timeout=30)

    # ------------------------------------------------------------------ commands
    def submit(self, cmd: Command) -> None:
        if not self.refused(cmd):
            self.source.submit(cmd)
            lesson_panel.on_command(self, cmd)

    def _press(self, shown: str) -> None:
        """What one press of a setting key sends (the key table says which field and how)."""
        self.submit(BY_SHOWN[shown].command(self.intent))

    def action_activation(self, step: int = 1) -> None:
        self._press("a" if step > 0 else "A")

    def action_init(self) -> None:
        self._press("i")
        self.notify(f"weights re-initialised with {self.intent.init}", timeout=2)

    def action_clip(self) -> None:
        self._press("c")

    def action_optimizer(self) -> None:
        self._press("o")
        self.notify(f"optimiser {self.intent.optimizer}: optimiser state reset", timeout=2)

    def action_lr(self, factor: float) -> None:
        self._press("+" if factor > 1 else "-")

    def action_residual(self) -> None:
        self._press("R")

    def action_batchnorm(self) -> None:
        self._press("b")

    def action_dataset(self) -> None:
        self._press("d")

    def action_pause(self) -> None:
        self.submit(TogglePause())

    def action_step(self) -> None:
        self.submit(Step(1))

    def action_reset(self) -> None:
        self.submit(Reset())

    def action_panel(self) -> None:
        self.panel(self.source.run_id).cycle_profile()

    def action_log_y(self) -> None:
        self.panel(self.source.run_id).toggle_log()

    def action_theory(self) -> None:
        self.panel(self.source.run_id).toggle_theory()  # (the panel's title says which)

    def action_phase(self) -> None:
        from gradtui.ui.screens.phase import PhaseScreen

        self.push_screen(PhaseScreen())

    def action_diagnosis(self) -> None:
        from gradtui.ui.screens.diagnosis import DiagnosisScreen

        self.push_screen(DiagnosisScreen())

    def action_lessons(self) -> None:
        lesson_panel.open_lessons(self)

    def action_help(self) -> None:
        from gradtui.ui.screens import HelpScreen

        self.push_screen(HelpScreen())

    def action_presets(self) -> None:
        from gradtui.ui.screens import PresetPicker
        from gradtui.ui.screens.presets import available_presets

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
        self.follow_preset(cfg)
        self.notify(f"preset {cfg.name}: step 0", timeout=2)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for b in self.BINDINGS:
            if b.action not in ("quit",):
                yield SystemCommand((b.tooltip or b.description) + self.current_of(b.action),
                                    f"key {b.key_display or b.key}", lambda a=b.action: self.run_action(a))
        yield from self.control_commands()
