"""The ``p`` screen: pick a preset; dismisses with its name (or None)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from gradtui.ui.screens.pickers import Picker


def available_presets() -> dict[str, str]:
    """``{name: description}`` from gradtui.presets, or {} while that module is missing/broken."""
    try:
        from gradtui.presets import list_presets
    except ImportError:
        return {}
    try:
        return dict(list_presets())
    except Exception:
        return {}


class PresetPicker(Picker):
    DEFAULT_CSS = """
    PresetPicker { align: center middle; }
    PresetPicker > OptionList { width: 80%; max-width: 90; height: auto; max-height: 80%;
                                border: round $accent; }
    """
    BINDINGS = [Binding("escape,q,p", "dismiss_none", "close")]

    def __init__(self, presets: dict[str, str]) -> None:
        super().__init__()
        self.presets = presets

    def compose(self) -> ComposeResult:
        ol = OptionList(*[Option(f"[b]{n}[/b]  [dim]{d}[/dim]", id=n) for n, d in self.presets.items()])
        ol.border_title = "presets (enter loads, esc closes)"
        yield ol

