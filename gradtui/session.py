"""Recorded sessions: the configuration (seed included) and every command with the step it applied
at, so a run seen in the dashboard can be replayed headless bit for bit and shared.

File format (JSON Lines, ``gradtui-session/1``)::

    {"format": "gradtui-session/1", "gradtui": "0.1.0", "config": {...every Config field...}}
    {"at": 1520, "kind": "set", "value": {"activation": "relu"}}
    {"at": 1520, "kind": "reinit", "value": "he_normal"}
    {"end": 4000}

A dashboard that started on a cold numba cache also records ``{"at": 0, "kind": "backend", "value":
"numpy"}`` and, when it switched, ``{"at": N, "kind": "backend", "value": "kernels"}``: the replay
computes the same steps with the same code (:mod:`gradtui.numpy_backend`), hence the same bits.

``at`` counts every step the trainer ran since it started (resets included), so it is unambiguous
even after a reset. The last line is written when the session closes; a file without it replays
up to its last command (or ``--steps``). Every line is flushed as it is written; a failed write
(disk full) stops the recording, cuts the file back to its last complete line, and ``close()``
raises :class:`~gradtui.outputs.OutputError`.

Loading checks every line and the configuration the session reaches at every command (cross-field
rules included), so a replay never fails half-way; errors name the file's line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

from gradtui import __version__
from gradtui.config import Config
from gradtui.outputs import LineFile, OutputError
from gradtui import drive
from gradtui.commands import Command, CommandError, LoadPreset, SetFields, config_dict, decode, encode
from gradtui.trainer import Trainer

FORMAT = "gradtui-session/1"


MAX_STEP = 10**12  # the largest step a session may name (as schedule_steps): ~3 years at 10^4/s


class SessionError(ValueError):
    """A session file that cannot be replayed; the message is one line."""


class Recorder:
    """Attach to a trainer: ``Recorder(path, trainer)``; ``close()`` writes the end line.
    ``file``: an open binary file to write instead of ``path`` (tests)."""

    def __init__(self, path: str | Path, trainer: Trainer, file: IO[bytes] | None = None, out=None):
        self.path = Path(path)
        self.trainer = trainer
        self.error: OutputError | None = None  # the first failed write; close() raises it
        # (commands arrive from the trainer's thread: a failure is kept, never raised there)
        # ``out``: a LineFile-like writer to use instead (an A/B record's per-run lines: gradtui.versus)
        self._out = out if out is not None else LineFile(self.path, file)
        header = {"format": FORMAT, "gradtui": __version__, "config": config_dict(trainer.cfg)}
        self._out.write(json.dumps(header) + "\n")  # a failure here raises OutputError at once
        trainer.on_command = self._record

    def _write(self, obj: dict) -> None:
        if self.error is None:
            try:
                self._out.write(json.dumps(obj) + "\n")
            except OutputError as e:  # never raised into the trainer: close() reports it
                self.error = e

    def _record(self, at: int, cmd: Command) -> None:
        self._write({"at": at, **encode(cmd)})

    def close(self) -> None:
        """Write the end line and close; raises OutputError when any write failed."""
        if self._out.closed and self.error is None:
            return
        self.trainer.on_command = None
        self._write({"end": self.trainer.total_steps})
        error, self.error = self.error, None
        self._out.close()
        if error is not None:
            raise error


@dataclass(frozen=True)
class Session:
    config: Config
    commands: tuple[tuple[int, Command], ...]  # (at, command), in order
    end: int | None
    version: str | None = None  # the gradtui version that recorded it

    def configs(self) -> list[Config]:
        """Every configuration a replay builds a network for (its start, presets, sets), in order."""
        cfg, out = self.config, [self.config]
        for _, cmd in self.commands:
            if cmd.numeric:
                cfg = cmd.after(cfg)
                out.append(cfg)
        return out


def _config(data: Any, source: str) -> Config:
    if not isinstance(data, dict):
        raise SessionError(f"{source}: 'config' must be an object")
    try:
        cmd = decode("preset", data, source)
    except CommandError as e:
        raise SessionError(str(e)) from None
    assert isinstance(cmd, LoadPreset)
    return cmd.config


def _reached(cfg: Config, cmd: Command, source: str) -> Config:
    """The configuration after ``cmd``, checked as a whole (the trainer would refuse it mid-run)."""
    from gradtui.presets import PresetError, check_config

    if not isinstance(cmd, SetFields):
        return cmd.after(cfg)  # a preset was checked when decoded; a reinit names a valid init
    new = cmd.after(cfg)
    try:
        check_config(new, source)
    except PresetError as e:
        raise SessionError(f"{e} (the configuration this command reaches)") from None
    return new


def _json_lines(p: Path) -> list[tuple[int, dict]]:
    """(line number, object) of every non-blank line."""
    from gradtui.inputs import SESSION_MAX_BYTES, InputFileError, read_regular_file

    try:  # a regular file of bounded size: never /dev/zero or a FIFO
        lines = read_regular_file(p, SESSION_MAX_BYTES, "session file").decode("utf-8").splitlines()
    except (InputFileError, UnicodeDecodeError) as e:
        raise SessionError(f"cannot read session {p}: {e}") from None
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
    if not records:
        raise SessionError(f"{p}: empty session file" + (" (only blank lines)" if lines else ""))
    return records


def load_session(path: str | Path) -> Session:
    """Read and validate a session file; raises :class:`SessionError` with one line."""
    p = Path(path)
    return parse_session(_json_lines(p), p)


def parse_session(records: list[tuple[int, dict]], p: Path) -> Session:
    """A :class:`Session` from a file's (line number, object) records (header first)."""
    n0, head = records[0]
    if head.get("format") != FORMAT:
        raise SessionError(f"{p}:{n0}: not a gradtui session (expected format {FORMAT!r})")
    cfg = _config(head.get("config"), f"{p}:{n0}")
    version = head.get("gradtui")
    commands: list[tuple[int, Command]] = []
    end = None
    last_at = 0
    reached = cfg
    for n, obj in records[1:]:
        if "end" in obj:
            end = obj["end"]
            if not isinstance(end, int) or isinstance(end, bool) or not last_at <= end <= MAX_STEP:
                raise SessionError(f"{p}:{n}: bad end step {end!r}")
            continue
        at, kind = obj.get("at"), obj.get("kind")
        if not isinstance(at, int) or isinstance(at, bool) or not last_at <= at <= MAX_STEP:
            raise SessionError(f"{p}:{n}: 'at' must be a step number up to {MAX_STEP:.0e}, "
                               "not before the previous one")
        try:
            cmd = decode(kind, obj.get("value"), f"{p}:{n}")
        except CommandError as e:
            raise SessionError(str(e)) from None
        reached = _reached(reached, cmd, f"{p}:{n}")
        commands.append((at, cmd))
        last_at = at
    return Session(cfg, tuple(commands), end, version if isinstance(version, str) else None)


def replay(session: Session, trainer: Trainer, until: int | None = None,
           after_chunk: Callable[[Trainer], None] | None = None, chunk: int = drive.MAX_CHUNK,
           seconds: float | None = None, should_stop: Callable[[], bool] | None = None,
           align: int | None = None) -> Trainer:
    """Drive ``trainer`` (built from ``session.config``) through the recorded commands, each at
    its recorded step, up to ``until`` total steps (default: the session's end). Pause, resume
    and single steps are ignored: they changed when steps ran, not what they computed.

    Chunks hold at most ``chunk`` steps (and about ``seconds`` of work when given; the results do
    not depend on chunking); ``should_stop`` is asked between chunks."""
    stop = until if until is not None else (session.end if session.end is not None else
                                            (session.commands[-1][0] if session.commands else 0))
    return drive.run(trainer, stop, schedule=[(at, c) for at, c in session.commands if c.numeric],
                     on_chunk=after_chunk, should_stop=should_stop, chunk=chunk, seconds=seconds, align=align)
