"""The dashboard's keys: Textual bindings made from the one key table (:mod:`gradtui.keymap`),
read by the footer, the help screen, the command palette, the status bar's key labels and hints."""

from __future__ import annotations

from textual.binding import Binding

from gradtui.keymap import KEYMAP
from gradtui.ui.views import DEPTH_MODES

BINDINGS = [
    Binding(k.key, k.action, k.label, key_display=k.display or None, show=k.show, priority=k.priority,
            tooltip=k.tooltip.format(depth_modes=" / ".join(m.name for m in DEPTH_MODES)))
    for k in KEYMAP
]


def key(action: str) -> str:
    """The (first) key bound to ``action`` (its name without arguments): ``key("clip") == "c"``."""
    for b in BINDINGS:
        if b.action.split("(")[0] == action:
            return b.key.split(",")[0]
    raise KeyError(action)
