"""The dashboard's keys as data: which key runs which action, and for the keys that change a
setting, the config field and how one press changes it.

One table, read by the dashboard (its bindings, footer, help and status-bar labels are built from
it), by the diagnosis (a remedy names the key that applies it), by the lessons (a lesson's key
presses are checked and replayed through it) and by the tests. No UI library here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gradtui.commands import Command, Reinit, SetFields
from gradtui.config import FIELDS, Config

LR_MIN, LR_MAX = 1e-12, 1e6  # the learning rate + and - never leave this range


@dataclass(frozen=True)
class Key:
    key: str  # Textual key name(s), comma-separated
    action: str  # the dashboard action it runs
    label: str  # the footer's word
    tooltip: str  # the help screen's line
    display: str = ""  # as shown, when not the key's own name ("+", "spc", "?")
    show: bool = True  # in the footer
    priority: bool = False
    field: str = ""  # the config field one press changes ("" for the others)
    how: str = ""  # "cycle" (through the field's choices, ``step`` at a time), "toggle", "scale" (by ``step``),
    #                "add" (``step``, within the field's bounds)
    step: float = 0.0

    @property
    def shown(self) -> str:
        """The key as the footer, the help and the lessons write it."""
        return self.display or self.key.split(",")[0]

    def change(self, cfg: Config):
        """The value of ``field`` after one press in ``cfg``."""
        cur = getattr(cfg, self.field)
        if self.how == "cycle":
            opts = list(FIELDS[self.field].choices)
            i = opts.index(cur) if cur in opts else -1
            return opts[(i + int(self.step)) % len(opts)]
        if self.how == "toggle":
            return not cur
        if self.how == "add":
            spec = FIELDS[self.field]
            if self.field == "depth":
                cur = len(cfg.hidden_sizes)  # (explicit widths: their count)
            return int(min(spec.hi, max(spec.lo, cur + self.step)))
        return float(min(LR_MAX, max(LR_MIN, cur * self.step)))

    def presses(self, current, target) -> int:
        """Presses of this key that take ``field`` from ``current`` to ``target``: through the
        choices in this key's direction (from before the first when ``current`` is not one), by
        powers of its step, or 1 for a toggle that changes the value."""
        if self.how == "cycle":
            opts = list(FIELDS[self.field].choices)
            i = opts.index(current) if current in opts else -1
            return (opts.index(target) - i) * int(self.step) % len(opts)
        if self.how == "scale":
            return round(abs(math.log(target / current) / math.log(self.step)))
        return int(current != target)

    def command(self, cfg: Config) -> Command:
        """The command one press sends (a new initialiser re-draws the weights: Reinit)."""
        new = self.change(cfg)
        if self.field == "depth" and cfg.hidden:  # explicit widths give way to depth x width
            return SetFields.of(depth=new, hidden=())
        return Reinit(new) if self.field == "init" else SetFields.of(**{self.field: new})


def _setting(key, action, label, tooltip, field, how, step=1.0, **kw) -> Key:
    return Key(key, action, label, tooltip, field=field, how=how, step=step, **kw)


KEYMAP: tuple[Key, ...] = (
    _setting("a", "activation(1)", "act", "next activation function", "activation", "cycle", 1),
    _setting("A", "activation(-1)", "act back", "previous activation function", "activation", "cycle", -1,
             show=False),
    _setting("i", "init", "init", "next initialiser (re-initialises the weights)", "init", "cycle"),
    _setting("c", "clip", "clip", "next gradient clipping mode", "clip", "cycle"),
    _setting("o", "optimizer", "opt", "next optimiser (resets its state)", "optimizer", "cycle"),
    _setting("plus,equals_sign", "lr(2.0)", "lr×2", "learning rate × 2", "lr", "scale", 2.0, display="+"),
    _setting("minus", "lr(0.5)", "lr÷2", "learning rate ÷ 2", "lr", "scale", 0.5, display="-"),
    _setting("R", "residual", "residual", "toggle residual connections", "residual", "toggle", show=False),
    _setting("b", "batchnorm", "batch norm", "toggle batch normalisation", "batchnorm", "toggle", show=False),
    _setting("d", "dataset", "dataset", "next data set (rebuilds: step 0)", "dataset", "cycle", show=False),
    _setting("greater_than_sign", "depth(1)", "depth+1", "one hidden layer more (rebuilt at step 0, same data)",
             "depth", "add", 1, display=">", show=False),
    _setting("less_than_sign", "depth(-1)", "depth-1", "one hidden layer less (rebuilt at step 0, same data)",
             "depth", "add", -1, display="<", show=False),
    Key("s", "settings", "set", "set any setting directly: a list or a number"),
    Key("left_square_bracket", "pace(0.5)", "slower", "speed limit ÷ 2 (steps/s)", display="[", show=False),
    Key("right_square_bracket", "pace(2.0)", "faster", "speed limit × 2 (up to max: unthrottled)", display="]",
        show=False),
    Key("u", "undo", "undo", "undo a divergence: back to the last finite step, paused", show=False),
    Key("space", "pause", "pause", "pause / resume training", display="spc"),
    Key("n", "step", "step", "one training step (while paused)", show=False),
    Key("r", "reset", "reset", "reset: step 0, fresh weights and optimiser", show=False),
    Key("p", "presets", "presets", "pick a preset", show=False),
    Key("v", "panel", "panel", "depth panel: {depth_modes}", show=False),  # the UI fills in its modes
    Key("l", "log_y", "log-y", "loss plot: log / linear y axis", show=False),
    Key("t", "theory", "theory", "depth panel: the theory's predicted gradients (◆) on / off", show=False),
    Key("P", "phase", "phase", "phase diagram: order / chaos plane of this activation", show=False),
    Key("D", "diagnosis", "why?", "diagnosis: every finding in full, with remedies", show=False),
    Key("L", "lessons", "lessons", "guided lessons (pick one, follow its steps)", show=False),
    Key("tab", "focus_run", "focus", "A/B: the keys act on the other run", show=False, priority=True),
    Key("f", "fork", "fork", "fork the focused run here into run B (same weights, state and data)", show=False),
    Key("x", "swap", "swap", "A/B: swap the two runs' places (A <-> B)", show=False),
    Key("F", "close_fork", "close B", "A/B: close run B", show=False),
    Key("question_mark", "help", "help", "this help", display="?"),
    Key("q", "quit", "quit", "quit"),
    Key("ctrl+c", "quit", "quit", "quit (as in any terminal program)", show=False, priority=True),
)

BY_SHOWN: dict[str, Key] = {}
for _k in KEYMAP:
    BY_SHOWN.setdefault(_k.shown, _k)


def key_for(action: str) -> str:
    """The (first) key, as shown, that runs ``action`` (its name without arguments)."""
    for k in KEYMAP:
        if k.action.split("(")[0] == action:
            return k.shown
    raise KeyError(action)


def setting_key(field: str, up: bool = True) -> Key:
    """The key that changes ``field`` (forwards / up; ``up=False``: backwards / down)."""
    for k in KEYMAP:
        if k.field == field and (k.step > (1 if k.how == "scale" else 0)) == up:
            return k
    raise KeyError(field)
