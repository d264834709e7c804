"""Commands: the only objects that travel down to a trainer, and their JSON form in a session file.

Each command is a frozen dataclass that knows
- ``kind``: its name in the session file (``gradtui-session/1``: these names never change);
- ``numeric``: whether it changes what is computed, so a replay must apply it at its recorded step
  (pause, resume and single steps only change *when* steps run, and a replay ignores them);
- ``after(cfg)``: the configuration once it applied (the dashboard's intent, a session's check).

The trainer applies them with a ``match`` (:meth:`gradtui.trainer.Trainer.apply`); a session file
stores ``{"at": step, "kind": ..., "value": ...}`` through :func:`encode` / :func:`decode`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from gradtui.config import Config


class CommandError(ValueError):
    """A command value that cannot be decoded; the message is one line."""


def config_dict(cfg: Config) -> dict[str, Any]:
    """``cfg`` as plain JSON data (tuples become lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


@dataclass(frozen=True)
class Command:
    kind: ClassVar[str] = ""
    numeric: ClassVar[bool] = False

    def after(self, cfg: Config) -> Config:
        return cfg

    def value(self) -> Any:
        return None


@dataclass(frozen=True)
class SetFields(Command):
    """Change config fields (the trainer decides what that means: rebuild, re-init, reset state)."""

    changes: tuple[tuple[str, Any], ...]
    kind: ClassVar[str] = "set"
    numeric: ClassVar[bool] = True

    @classmethod
    def of(cls, **changes: Any) -> "SetFields":
        return cls(tuple(changes.items()))

    def as_dict(self) -> dict[str, Any]:
        return dict(self.changes)

    def after(self, cfg: Config) -> Config:
        return cfg.replace(**self.as_dict())

    def value(self) -> Any:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.changes}


@dataclass(frozen=True)
class Reinit(Command):
    """Draw fresh weights with ``init`` (None: the current initialiser); optimiser state resets."""

    init: str | None = None
    kind: ClassVar[str] = "reinit"
    numeric: ClassVar[bool] = True

    def after(self, cfg: Config) -> Config:
        return cfg if self.init is None else cfg.replace(init=self.init)

    def value(self) -> Any:
        return self.init


@dataclass(frozen=True)
class LoadPreset(Command):
    """Replace the whole configuration and rebuild at step 0."""

    config: Config
    kind: ClassVar[str] = "preset"
    numeric: ClassVar[bool] = True

    def after(self, cfg: Config) -> Config:
        return self.config

    def value(self) -> Any:
        return config_dict(self.config)


@dataclass(frozen=True)
class Reset(Command):
    """Step 0 again: fresh data, weights and optimiser state, same configuration."""

    kind: ClassVar[str] = "reset"
    numeric: ClassVar[bool] = True


@dataclass(frozen=True)
class Pause(Command):
    kind: ClassVar[str] = "pause"


@dataclass(frozen=True)
class Resume(Command):
    kind: ClassVar[str] = "resume"


@dataclass(frozen=True)
class TogglePause(Command):
    kind: ClassVar[str] = "toggle_pause"


@dataclass(frozen=True)
class Step(Command):
    """Run ``n`` steps while paused."""

    n: int = 1
    kind: ClassVar[str] = "step"

    def value(self) -> Any:
        return self.n


@dataclass(frozen=True)
class Backend(Command):
    """Train from now on with ``name``: "numpy" (the NumPy reference, while the kernels compile on a
    cold start) or "kernels". Every piece of state carries over; the numbers differ in the last bits
    only (~1e-10), which is why a session records the switch and a replay makes it at the same step."""

    name: str = "kernels"
    kind: ClassVar[str] = "backend"
    numeric: ClassVar[bool] = True

    def value(self) -> Any:
        return self.name


BACKENDS = ("numpy", "kernels")


@dataclass(frozen=True)
class Pace(Command):
    """A speed limit in steps a second (None: unthrottled). It changes when steps run, not what
    they compute: a replay ignores it (the dashboard's replay follows it)."""

    steps_per_s: float | None = None
    kind: ClassVar[str] = "pace"

    def value(self) -> Any:
        return self.steps_per_s


@dataclass(frozen=True)
class Undo(Command):
    """A diverged run steps back to its last finite step (:mod:`gradtui.checkpoints`); recorded and
    replayed at its step, as it changes what is computed next."""

    kind: ClassVar[str] = "undo"
    numeric: ClassVar[bool] = True


ALL: tuple[type[Command], ...] = (SetFields, Reinit, LoadPreset, Reset, Pause, Resume, TogglePause, Step,
                                  Backend, Pace, Undo)
BY_KIND: dict[str, type[Command]] = {c.kind: c for c in ALL}


def encode(cmd: Command) -> dict[str, Any]:
    """The session-file fields of ``cmd`` (without ``at``)."""
    return {"kind": cmd.kind, "value": cmd.value()}


def decode(kind: Any, value: Any, source: str) -> Command:
    """A command from its session-file fields, every value checked as a preset's would be.
    Raises :class:`CommandError` naming ``source``."""
    from gradtui.presets import PresetError, check_config, check_value, config_from_dict

    try:
        if kind == "preset":
            if not isinstance(value, dict):
                raise CommandError(f"{source}: 'preset' needs an object of config fields")
            cfg = Config(**config_from_dict(value, source))
            check_config(cfg, source)
            return LoadPreset(cfg)
        if kind == "set":
            if not isinstance(value, dict):
                raise CommandError(f"{source}: 'set' needs an object of fields")
            return SetFields(tuple((k, check_value(k, v, source)) for k, v in value.items()))
        if kind == "reinit":
            if value is not None and not isinstance(value, str):
                raise CommandError(f"{source}: 'reinit' takes an initialiser name")
            return Reinit(None if value is None else check_value("init", value, source))
    except PresetError as e:
        raise CommandError(str(e)) from None
    if kind == "backend":
        if value not in BACKENDS:
            raise CommandError(f"{source}: 'backend' takes one of {', '.join(BACKENDS)}")
        return Backend(value)
    if kind == "step":
        if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            raise CommandError(f"{source}: 'step' takes a positive count")
        return Step(value)
    if kind == "pace":
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                      and 0 < value < float("inf")):
            raise CommandError(f"{source}: 'pace' takes a positive number of steps a second or null")
        return Pace(None if value is None else float(value))
    if kind not in BY_KIND:
        raise CommandError(f"{source}: unknown command kind {kind!r}")
    return BY_KIND[kind]()
