"""The dashboard's keys: one table (the App's BINDINGS), read by the footer, the help screen, the
command palette, the status bar's key labels and its hints."""

from __future__ import annotations

from textual.binding import Binding

from gradtui.ui.views import DEPTH_MODES

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
            tooltip="depth panel: " + " / ".join(m.name for m in DEPTH_MODES)),
    Binding("l", "log_y", "log-y", show=False, tooltip="loss plot: log / linear y axis"),
    Binding("question_mark", "help", "help", key_display="?", tooltip="this help"),
    Binding("q", "quit", "quit", tooltip="quit"),
    Binding("ctrl+c", "quit", "quit", show=False, priority=True, tooltip="quit (as in any terminal program)"),
]


def key(action: str) -> str:
    """The (first) key bound to ``action`` (its name without arguments): ``key("clip") == "c"``."""
    for b in BINDINGS:
        if b.action.split("(")[0] == action:
            return b.key.split(",")[0]
    raise KeyError(action)
