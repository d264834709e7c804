"""Recorded sessions: the configuration (seed included) and every command with the step it applied
at, so a run seen in the dashboard can be replayed headless bit for bit and shared.

File format (JSON Lines, ``gradtui-session/1``)::

    {"format": "gradtui-session/1", "gradtui": "0.1.0", "config": {...every Config field...}}
    {"at": 1520, "kind": "set", "value": {"activation": "relu"}}
    {"at": 1520, "kind": "reinit", "value": "he_normal"}
    {"end": 4000}

``at`` counts every step the trainer ran since it started (resets included), so it is unambiguous
even after a reset. The last line is written when the session closes; a file without it replays
up to its last command (or ``--steps``). Every line is flushed as it is written.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

from gradtui import __version__
from gradtui.config import Config
from gradtui.trainer import Command, Trainer

FORMAT = "gradtui-session/1"
# Commands that change what is computed; pause/resume/step only change *when* it runs.
_NUMERIC_KINDS = ("set", "reinit", "preset", "reset")
_ALL_KINDS = _NUMERIC_KINDS + ("pause", "resume", "toggle_pause", "step")


class SessionError(ValueError):
    """A session file that cannot be replayed; the message is one line."""


def _config_dict(cfg: Config) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


def _encode(cmd: Command) -> Any:
    if cmd.kind == "preset":
        return _config_dict(cmd.value)
    if cmd.kind == "set":
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(cmd.value).items()}
    return cmd.value


class Recorder:
    """Attach to a trainer: ``Recorder(path, trainer)``; ``close()`` writes the end line."""

    def __init__(self, path: str | Path, trainer: Trainer):
        self.path = Path(path)
        self.trainer = trainer
        self._f: IO[str] | None = open(self.path, "w", encoding="utf-8")
        self._write({"format": FORMAT, "gradtui": __version__, "config": _config_dict(trainer.cfg)})
        trainer.on_command = self._record

    def _write(self, obj: dict) -> None:
        assert self._f is not None
        self._f.write(json.dumps(obj) + "\n")
        self._f.flush()

    def _record(self, at: int, cmd: Command) -> None:
        if self._f is not None:
            self._write({"at": at, "kind": cmd.kind, "value": _encode(cmd)})

    def close(self) -> None:
        if self._f is None:
            return
        self._write({"end": self.trainer.total_steps})
        self._f.close()
        self._f = None
        self.trainer.on_command = None


@dataclass(frozen=True)
class Session:
    config: Config
    commands: tuple[tuple[int, Command], ...]  # (at, command), in order
    end: int | None


def _config(data: Any, source: str) -> Config:
    from gradtui.presets import PresetError, check_config, config_from_dict

    if not isinstance(data, dict):
        raise SessionError(f"{source}: 'config' must be an object")
    try:
        cfg = Config(**config_from_dict(data, source))
        check_config(cfg, source)
    except PresetError as e:
        raise SessionError(str(e)) from None
    return cfg


def _decode(kind: str, value: Any, source: str) -> Command:
    from gradtui.presets import PresetError, check_value

    if kind == "preset":
        return Command(kind, _config(value, source))
    if kind == "set":
        if not isinstance(value, dict):
            raise SessionError(f"{source}: 'set' needs an object of fields")
        try:
            return Command(kind, {k: check_value(k, v, source) for k, v in value.items()})
        except PresetError as e:
            raise SessionError(str(e)) from None
    if kind == "reinit" and not (value is None or isinstance(value, str)):
        raise SessionError(f"{source}: 'reinit' takes an initialiser name")
    if kind == "step" and not (isinstance(value, int) and value > 0):
        raise SessionError(f"{source}: 'step' takes a positive count")
    return Command(kind, value)


def load_session(path: str | Path) -> Session:
    """Read and validate a session file; raises :class:`SessionError` with one line."""
    from gradtui.inputs import SESSION_MAX_BYTES, InputFileError, read_regular_file

    p = Path(path)
    try:  # a regular file of bounded size: never /dev/zero or a FIFO
        lines = read_regular_file(p, SESSION_MAX_BYTES, "session file").decode("utf-8").splitlines()
    except (InputFileError, UnicodeDecodeError) as e:
        raise SessionError(f"cannot read session {p}: {e}") from None
    if not lines:
        raise SessionError(f"{p}: empty session file")
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise SessionError(f"{p}:{n}: not JSON ({e.msg})") from None
        except (ValueError, RecursionError):  # int past the int-string limit; arrays nested too deeply
            raise SessionError(f"{p}:{n}: not usable JSON (an integer too long or arrays nested too deeply)") from None
        if not isinstance(obj, dict):
            raise SessionError(f"{p}:{n}: expected a JSON object")
        records.append((n, obj))
    n0, head = records[0]
    if head.get("format") != FORMAT:
        raise SessionError(f"{p}:{n0}: not a gradtui session (expected format {FORMAT!r})")
    cfg = _config(head.get("config"), f"{p}:{n0}")
    commands: list[tuple[int, Command]] = []
    end = None
    last_at = 0
    for n, obj in records[1:]:
        if "end" in obj:
            end = obj["end"]
            if not isinstance(end, int) or end < last_at:
                raise SessionError(f"{p}:{n}: bad end step {end!r}")
            continue
        at, kind = obj.get("at"), obj.get("kind")
        if not isinstance(at, int) or at < last_at:
            raise SessionError(f"{p}:{n}: 'at' must be a step number, not before the previous one")
        if kind not in _ALL_KINDS:
            raise SessionError(f"{p}:{n}: unknown command kind {kind!r}")
        commands.append((at, _decode(kind, obj.get("value"), f"{p}:{n}")))
        last_at = at
    return Session(cfg, tuple(commands), end)


def replay(session: Session, trainer: Trainer, until: int | None = None,
           after_chunk: Callable[[Trainer], None] | None = None, chunk: int = 2048) -> Trainer:
    """Drive ``trainer`` (built from ``session.config``) through the recorded commands, each at
    its recorded step, up to ``until`` total steps (default: the session's end). Pause, resume
    and single steps are ignored: they changed when steps ran, not what they computed."""
    stop = until if until is not None else (session.end if session.end is not None else
                                            (session.commands[-1][0] if session.commands else 0))
    pending = [(at, c) for at, c in session.commands if c.kind in _NUMERIC_KINDS]
    i = 0
    while True:
        while i < len(pending) and pending[i][0] <= trainer.total_steps:
            trainer.apply(pending[i][1])
            i += 1
        if trainer.total_steps >= stop:
            break
        target = min(stop, pending[i][0]) if i < len(pending) else stop
        ran = trainer.run_steps(min(chunk, target - trainer.total_steps))
        if after_chunk is not None:
            after_chunk(trainer)
        if ran == 0:  # diverged: only a later command (at this same step) could revive it
            if i < len(pending) and pending[i][0] <= trainer.total_steps:
                continue
            break
    return trainer
