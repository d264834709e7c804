"""Remedies: a dashboard key (or a few presses of it) and what it does, for a config.

Each builder returns the :class:`Remedy` that takes ``cfg`` to a better setting with the keys of
gradtui/app.py, or None when the key would not change anything (already on, already there).
Numeric side: no textual or rich here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gradtui.keymap import key_for, setting_key
from gradtui.numfmt import num

ADAPTIVE_LR = 3e-3  # Adam moves each weight by ~lr a step: above a few 1e-3 that outruns 1e-3 |W|
MAX_LR_PRESSES = 5  # 32x: one remedy never moves the learning rate further than that
ADAPTIVE = ("adagrad", "rmsprop", "adam", "adamw")  # per-weight step sizes
# The initialiser whose sigma_w puts each activation near the critical line (THEORY.md), and the
# activation that is near critical with each initialiser's sigma_w.
MATCHED_INIT = {"sigmoid": "xavier_normal", "tanh": "xavier_normal", "relu": "he_normal",
                "leaky_relu": "he_normal", "elu": "he_normal", "gelu": "he_normal",
                "selu": "lecun_normal", "linear": "lecun_normal"}
ACT_FOR_INIT = {"xavier_normal": "tanh", "xavier_uniform": "tanh", "orthogonal": "tanh",
                "lecun_normal": "selu", "he_normal": "relu", "he_uniform": "relu", "normal": "relu",
                "uniform": "relu"}  # the activation that keeps the signal level with this init's sigma_w
# The keys of the one key table (gradtui.keymap) a remedy can name
KEYS = {**{f: setting_key(f).shown for f in ("activation", "init", "clip", "optimizer", "residual", "batchnorm")},
        "lr_up": setting_key("lr").shown, "lr_down": setting_key("lr", up=False).shown, "reset": key_for("reset")}


@dataclass(frozen=True)
class Remedy:
    key: str  # the dashboard key that applies it, as the footer shows it ("a", "+", "R")
    action: str  # what to press, e.g. "a x2 (sigmoid -> relu)"
    why: str
    sets: tuple = ()  # ((field, value), ...) the presses lead to (key "i": the initialiser)
    reset: bool = False  # then r: restart from fresh weights with the change


def _times(n: int) -> str:
    return {1: "", 2: " twice"}.get(n, f" x{n}")


def cycle(cfg, field: str, target: str, why: str, reset=False) -> Remedy | None:
    """The key that cycles ``field`` pressed as often as it takes to reach ``target`` (None when
    it is there already)."""
    current = getattr(cfg, field)
    n = setting_key(field).presses(current, target)
    if n == 0:
        return None
    then = ", then r" if reset else ""
    return Remedy(KEYS[field], f"{KEYS[field]}{_times(n)} ({field} {current} -> {target}){then}", why,
                  ((field, target),), reset)


def lr_change(cfg, factor: float, why: str, reset=False) -> Remedy | None:
    """``+`` or ``-`` as often as it takes to scale lr by about ``factor`` (at most
    MAX_LR_PRESSES times: a learning rate that far off is better approached in steps)."""
    n = max(1, round(abs(math.log2(factor)))) if math.isfinite(factor) and factor > 0 else 1
    more = ", repeat if needed" if n > MAX_LR_PRESSES else ""
    n = min(n, MAX_LR_PRESSES)
    key = KEYS["lr_up"] if factor > 1 else KEYS["lr_down"]
    lr = cfg.lr * (2.0 ** n if factor > 1 else 0.5 ** n)
    then = ", then r" if reset else ""
    return Remedy(key, f"{key}{_times(n)} (lr {num(cfg.lr)} -> {num(lr)}{more}){then}", why, (("lr", lr),), reset)


def toggle(cfg, field: str, why: str, reset=False) -> Remedy | None:
    if getattr(cfg, field):
        return None
    sizes = cfg.hidden_sizes
    if field == "residual" and not any(a == b for a, b in zip(sizes, sizes[1:])):
        return None  # skips join only equal-width neighbours
    then = ", then r" if reset else ""
    return Remedy(KEYS[field], f"{KEYS[field]} ({field} on){then}", why, ((field, True),), reset)


def adam(cfg, why: str) -> Remedy | None:
    if cfg.optimizer in ADAPTIVE:
        return None
    n = setting_key("optimizer").presses(cfg.optimizer, "adam")
    lr, m = cfg.lr, 0
    while lr > ADAPTIVE_LR and m < 20:
        lr, m = lr / 2, m + 1
    lower = f" and -{_times(m)} (lr {num(cfg.lr)} -> {num(lr)})" if m else ""
    return Remedy(KEYS["optimizer"], f"o{_times(n)} (optimizer {cfg.optimizer} -> adam){lower}", why,
                  (("optimizer", "adam"), ("lr", lr)))


def clip_norm(cfg, why: str, reset=True) -> Remedy | None:
    if cfg.clip in ("layer_norm", "global_norm"):
        return None
    return cycle(cfg, "clip", "layer_norm", why, reset)


def matched_init(cfg, why: str) -> Remedy | None:
    return cycle(cfg, "init", MATCHED_INIT[cfg.activation], why)


def ranked(*remedies) -> tuple[Remedy, ...]:
    return tuple(r for r in remedies if r is not None)


