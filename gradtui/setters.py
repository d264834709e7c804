"""Setting any setting directly (the dashboard's pickers and command palette): which fields have a
list of choices and which take a number, each choice's one-line help from its registry, and the ONE
command a chosen value or a typed number sends. No UI library here.
"""

from __future__ import annotations

from typing import Any

from gradtui.activations import ACTIVATIONS
from gradtui.commands import Command, Reinit, SetFields
from gradtui.config import FIELDS, Config
from gradtui.data import DATASETS
from gradtui.initializers import INITIALIZERS
from gradtui.optimizers import CLIPPING, OPTIMIZERS, SCHEDULES

# field -> {choice: one-line help}, in registry order (the cycling keys' order)
CHOICES: dict[str, dict[str, str]] = {
    "activation": {k: f"{v.formula}: {v.help}" for k, v in ACTIVATIONS.items()},
    "init": {k: v.help for k, v in INITIALIZERS.items()},
    "optimizer": {k: v.help for k, v in OPTIMIZERS.items()},
    "clip": {k: v.help for k, v in CLIPPING.items()},
    "schedule": {k: v.formula for k, v in SCHEDULES.items()},
    "dataset": {k: v.help for k, v in DATASETS.items()},
}
NUMBERS = ("lr", "clip_value", "init_std", "init_gain", "l1", "l2", "momentum", "beta1", "beta2", "depth",
           "width")
SETTINGS = tuple(CHOICES) + NUMBERS  # the settings menu's order


class SettingError(ValueError):
    """A typed value that cannot be used; the message is one line."""


def current(cfg: Config, field: str) -> str:
    """``field``'s value in ``cfg`` as the menus show it."""
    if field == "depth":
        return str(len(cfg.hidden_sizes))
    v = getattr(cfg, field)
    return f"{v:.10g}" if isinstance(v, float) else str(v)  # (all the digits a typed value needs)


def command(field: str, value: Any, cfg: Config) -> Command:
    """The one command that sets ``field`` to ``value``: a new initialiser re-draws the weights
    (Reinit); a depth or width replaces explicit hidden widths."""
    if field == "init":
        return Reinit(value)
    if field in ("depth", "width") and cfg.hidden:
        keep = {"depth": len(cfg.hidden)} if field == "width" else {}
        return SetFields.of(**{field: value}, **keep, hidden=())
    return SetFields.of(**{field: value})


def parse(field: str, text: str, cfg: Config) -> Command:
    """The command for a typed number, checked as a preset's value would be (bounds, type) and with
    the configuration it reaches; raises :class:`SettingError` (one line) and sends nothing."""
    from gradtui.presets import PresetError, check_config, check_value, _TYPES

    text = text.strip()
    try:
        value: Any = int(text) if _TYPES[field] is int else float(text)
    except ValueError:
        kind = "an integer" if _TYPES[field] is int else "a number"
        raise SettingError(f"{field}: expected {kind}, got {text[:30]!r}") from None
    try:
        value = check_value(field, value, "input")
        cmd = command(field, value, cfg)
        check_config(cmd.after(cfg), "input")
    except PresetError as e:
        raise SettingError(str(e).removeprefix("input: ")) from None
    return cmd


def help_of(field: str) -> str:
    return FIELDS[field].help


# ----------------------------------------------------------------------------- the pace
PACE_MIN, PACE_MAX = 1.0, 4096.0  # steps/s; above PACE_MAX: unthrottled ("max")
PACE_FIRST = 512.0  # the first halving of an unthrottled run


def next_pace(pace: float | None, factor: float) -> float | None:
    """The speed limit after one press of ``[`` (factor 0.5) or ``]`` (2) from ``pace`` (None:
    unthrottled): halving stops at PACE_MIN; doubling past PACE_MAX is unthrottled."""
    if pace is None:
        return PACE_FIRST if factor < 1 else None
    new = pace * factor
    if new > PACE_MAX:
        return None
    return max(PACE_MIN, new)


def pace_text(pace: float | None) -> str:
    return "max" if pace is None else f"{pace:,.4g}/s"
