"""The dashboard's direct control (a mixin of :class:`gradtui.ui.app.GradApp`): the settings menu
and its pickers (``s``), depth ``>``/``<``, the speed limit ``[``/``]``, undo ``u``, the presets'
own pace, the command palette's entries with current values, and a replay's read-only keys."""

from __future__ import annotations

from typing import Iterable

from textual.app import SystemCommand

from gradtui.commands import Command, Pace, Pause, Undo
from gradtui.config import Config
from gradtui.keymap import KEYMAP
from gradtui.setters import CHOICES, SETTINGS, current, next_pace, pace_text


class ControlActions:
    """Needs ``source``, ``intent``, ``submit``, ``_press``, ``push_screen`` and ``notify``."""

    def refused(self, cmd: Command) -> bool:
        """A replay refuses commands that change what is computed (it says so once per press)."""
        if self.source.read_only and cmd.numeric:
            from gradtui.ui.replay import READ_ONLY_NOTE

            self.notify(READ_ONLY_NOTE, severity="warning", timeout=3, markup=False)
            return True
        return False

    def action_settings(self) -> None:
        from gradtui.ui.screens import SettingsMenu

        self.push_screen(SettingsMenu(self.intent), self.pick)

    def pick(self, field: str | None) -> None:
        """Open ``field``'s picker (a list, or a number input); its one command is sent on Enter."""
        if not field:
            return
        from gradtui.ui.screens import ChoicePicker, NumberInput

        screen = ChoicePicker if field in CHOICES else NumberInput
        self.push_screen(screen(field, self.intent), self._picked)

    def _picked(self, cmd: Command | None) -> None:
        if cmd is not None:
            self.submit(cmd)

    def action_depth(self, step: int) -> None:
        self._press(">" if step > 0 else "<")

    def action_pace(self, factor: float) -> None:
        new = next_pace(self.source.pace, factor)
        self.submit(Pace(new))
        self.notify(f"speed limit {pace_text(new)}", timeout=2)

    def action_undo(self) -> None:
        cmd = Undo()
        if self.refused(cmd):
            return
        self.submit(Pause())  # so the learner can change a setting before the step that diverged
        self.submit(cmd)

    def follow_preset(self, cfg: Config) -> None:
        """A loaded preset's own pace and start (its start_paused / pace fields)."""
        if cfg.start_paused:
            self.submit(Pause())
        if (cfg.pace or None) != self.source.pace:
            self.submit(Pace(cfg.pace or None))

    def control_commands(self) -> Iterable[SystemCommand]:
        """The command palette's direct-control entries, each with its current value."""
        cfg = self.intent
        for field in SETTINGS:
            yield SystemCommand(f"Set {field} ({current(cfg, field)})", f"pick a {field}",
                                lambda f=field: self.pick(f))
        yield SystemCommand(f"Speed limit ({pace_text(self.source.pace)}): slower", "key [",
                            lambda: self.action_pace(0.5))
        yield SystemCommand(f"Speed limit ({pace_text(self.source.pace)}): faster", "key ]",
                            lambda: self.action_pace(2.0))

    def current_of(self, action: str) -> str:
        """`` (value)`` of the setting a key's ``action`` changes, for the palette; else ``""``."""
        for k in KEYMAP:
            if k.action == action and k.field:
                return f" ({current(self.intent, k.field)})"
        return ""
