"""Setting a setting directly: ``s`` opens :class:`SettingsMenu` (every setting with its value);
a choice field opens :class:`ChoicePicker` (its choices, the current one highlighted, a line of
help each), a number :class:`NumberInput` (checked as a preset's value; a bad one shows an error
in place and sends nothing). Each dismisses with the ONE command to send, or None (esc)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from gradtui.commands import Command
from gradtui.config import Config
from gradtui.setters import CHOICES, SETTINGS, SettingError, command, current, help_of, parse

_CSS = """
{name} {{ align: center middle; }}
{name} > OptionList, {name} > Vertical {{ width: 80%; max-width: 90; height: auto; max-height: 80%;
                                         border: round $accent; background: $surface; }}
{name} #error {{ color: $error; height: auto; }}
"""


def _esc(text: str) -> str:
    return text.replace("[", r"\[")


class Picker(ModalScreen):
    """A modal picker (settings, a choice, a number, a preset, a lesson). From a list, Enter
    dismisses with :meth:`chosen` of the option's id (the id itself unless a subclass says
    otherwise), Esc with None. (Textual calls a message handler of every class in the MRO: subclasses override
    ``chosen``, not the handler.)"""

    BINDINGS = [Binding("escape", "dismiss_none", "cancel")]

    def chosen(self, option_id: str):
        return option_id

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.chosen(event.option.id))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class SettingsMenu(Picker):
    """Every directly settable setting with its current value; dismisses with the field's name."""

    DEFAULT_CSS = _CSS.format(name="SettingsMenu")

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg

    def compose(self) -> ComposeResult:
        ol = OptionList(*[Option(f"[b]{f:<11}[/b] {_esc(current(self.cfg, f)):<14} [dim]{_esc(help_of(f))}[/dim]",
                                 id=f) for f in SETTINGS])
        ol.border_title = "set (enter picks, esc closes)"
        yield ol


class ChoicePicker(Picker):
    """``field``'s choices, the current one highlighted; Enter: the one command, Esc: None."""

    DEFAULT_CSS = _CSS.format(name="ChoicePicker")

    def __init__(self, field: str, cfg: Config) -> None:
        super().__init__()
        self.field, self.cfg = field, cfg

    def compose(self) -> ComposeResult:
        choices = CHOICES[self.field]
        cur = getattr(self.cfg, self.field)
        ol = OptionList(*[Option(f"{'●' if k == cur else ' '} [b]{k:<16}[/b] [dim]{_esc(h)}[/dim]", id=k)
                          for k, h in choices.items()])
        ol.border_title = f"{self.field} (enter sets, esc cancels)"
        yield ol

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = list(CHOICES[self.field]).index(getattr(self.cfg, self.field))

    def chosen(self, option_id: str) -> Command:
        return command(self.field, option_id, self.cfg)


class NumberInput(Picker):
    """A number for ``field``; Enter checks it (an error in place, nothing sent) and dismisses
    with the one command; Esc: None."""

    DEFAULT_CSS = _CSS.format(name="NumberInput")

    def __init__(self, field: str, cfg: Config) -> None:
        super().__init__()
        self.field, self.cfg = field, cfg

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"{self.field} (enter sets, esc cancels)"
            yield Static(_esc(help_of(self.field)), id="help")
            yield Input(current(self.cfg, self.field), id="value", select_on_focus=True)
            yield Static("", id="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            cmd: Command = parse(self.field, event.value, self.cfg)
        except SettingError as e:
            self.query_one("#error", Static).update(_esc(str(e)))
            return
        self.dismiss(cmd)
