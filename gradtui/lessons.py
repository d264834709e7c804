"""Lessons: guided sequences stored as TOML files beside the presets (``presets/lessons/NN-name.toml``),
loaded and checked here, and played headless on a :class:`~gradtui.trainer.Trainer`.

A lesson file::

    title = "Sigmoid makes gradients vanish"
    preset = "deep-sigmoid"          # the preset it starts from
    set = { lr = 0.1 }               # optional overrides of that preset
    steps = 300                      # steps to run before the first change
    intro = "What to look at ... {grad_ratio} ..."
    claim = [{ measure = "grad_ratio", at_most = 1e-9 }]   # optional, fixed bounds only

    [[step]]
    keys = ["a"]                     # the dashboard keys the learner presses (README's Keys table)
    set = { activation = "tanh" }    # the exact config change those keys stand for
    reset = false                    # true: then press r (fresh weights, same switches)
    preset = "relu-he"               # optional: load another preset first (key p)
    run = 300                        # steps to run after the change
    text = "What changed and why, with {grad_ratio_before} -> {grad_ratio}"
    claim = [{ measure = "grad_ratio", grows_by_factor = 1e6 }]

Every problem is one :class:`LessonError` line naming the file and the field. The measures and
comparisons of a ``claim`` are :mod:`gradtui.claims`. No Textual and no Numba here (the trainer is
imported only to play a lesson).
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradtui.claims import AGAINST, MEASURES, OPS, RELATIVE, Claim, measure_all
from gradtui.config import FIELDS, Config
from gradtui.keymap import BY_SHOWN, KEYMAP
from gradtui.numfmt import num
from gradtui.presets import PresetError, _hint, _read_toml, check_config, check_value, load_preset, presets_dir
from gradtui.tomlfields import LessonError, no_extra, take

NAME_RE = re.compile(r"^(\d\d)-[a-z0-9-]+\.toml$")
MAX_RUN = 20_000  # steps per phase (a lesson is short; the ring keeps a phase whole)

# Key -> (config field, how it changes it): "cycle" through the field's choices (+1 / -1),
# "toggle" a boolean, "double"/"halve" the learning rate; from the one key table (gradtui.keymap).
# r (reset) and p (preset) are separate.
KEYS: dict[str, tuple[str, str, int]] = {
    k.shown: (k.field, k.how, int(k.step)) if k.how != "scale" else (k.field, "double" if k.step > 1 else "halve", 2)
    for k in KEYMAP if k.field}
OTHER_KEYS = {"r", "p"}


@dataclass(frozen=True)
class Step:
    keys: tuple[str, ...]
    set: tuple[tuple[str, Any], ...]
    reset: bool
    preset: str | None
    run: int
    text: str
    claims: tuple[Claim, ...]


@dataclass(frozen=True)
class Lesson:
    number: int
    name: str  # the file stem, e.g. "01-sigmoid-vanishes"
    title: str
    config: Config  # the start: preset + set
    start_steps: int
    intro: str
    claims: tuple[Claim, ...]  # about the start (fixed bounds only)
    steps: tuple[Step, ...]
    path: Path = field(compare=False, default=Path())


@dataclass(frozen=True)
class StepResult:
    """One phase played: index 0 is the start (intro), then one per step."""

    index: int
    run: int  # steps asked for (fewer ran when the run diverged: ``after["steps"]``)
    instruction: str  # what the learner does ("" for the start)
    text: str  # the explanation with the measured numbers filled in
    before: dict[str, float]  # the measures of the phase compared with (empty for the start)
    after: dict[str, float]
    checks: tuple[tuple[Claim, float, float, bool], ...]  # (claim, before, after, holds)

    @property
    def ok(self) -> bool:
        return all(c[3] for c in self.checks)


# ------------------------------------------------------------------------------------ finding
def lessons_dir() -> Path:
    return presets_dir() / "lessons"


def lesson_files() -> dict[str, Path]:
    d = lessons_dir()
    if not d.is_dir():
        return {}
    return {p.stem: p for p in sorted(d.iterdir()) if NAME_RE.match(p.name) and p.is_file()}


def resolve(which: str) -> Path:
    """A lesson by number (``3``, ``03``), by name (``03-he-init``, ``he-init``) or by path."""
    files = lesson_files()
    s = str(which).strip()
    if s.isdigit():
        for stem, p in files.items():
            if int(stem[:2]) == int(s):
                return p
    for stem, p in files.items():
        if s in (stem, stem[3:]):
            return p
    if s.endswith(".toml") or "/" in s:
        return Path(s)
    names = [stem[3:] for stem in files]
    raise LessonError(f"lesson {s!r}", "no such lesson" + (_hint(s, names) or
                                                         f"; available: 1-{len(files)} or {', '.join(names)}"))


def load_all() -> list[Lesson]:
    return [load_lesson(p) for p in lesson_files().values()]


# ------------------------------------------------------------------------------------ checking
def _claims(raw: Any, src: str, where: str, relative_ok: bool) -> tuple[Claim, ...]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise LessonError(src, "expected a table or a list of tables", where)
    out = []
    for j, c in enumerate(raw):
        w = f"{where}[{j}]."
        if not isinstance(c, dict):
            raise LessonError(src, "expected a table like { measure = \"loss\", at_most = 0.5 }", w[:-1])
        measure = take(c, "measure", str, src, w)
        if measure not in MEASURES:
            raise LessonError(src, f"unknown measure {measure!r}" + _hint(measure, list(MEASURES)), w + "measure")
        against = take(c, "against", str, src, w, "previous")
        if against not in AGAINST:
            raise LessonError(src, f"must be one of {', '.join(AGAINST)}", w + "against")
        ops = [k for k in c if k not in ("measure", "against")]
        if len(ops) != 1 or ops[0] not in OPS:
            bad = next((k for k in ops if k not in OPS), None)
            raise LessonError(src, (f"unknown comparison{_hint(bad, list(OPS))}" if bad else
                                    f"exactly one comparison of {', '.join(OPS)}"), w + (bad or "measure"))
        op = ops[0]
        value = take(c, op, (int, float), src, w)
        if not math.isfinite(value):
            raise LessonError(src, "must be a finite number", w + op)
        if op in RELATIVE and not relative_ok:
            raise LessonError(src, "the start has nothing to compare with: use at_least / at_most", w + op)
        if op.endswith("factor") and value < 1:
            raise LessonError(src, f"a factor must be >= 1, got {value:g}", w + op)
        out.append(Claim(measure, op, float(value), against))
    return tuple(out)


def _placeholders(text: str, src: str, where: str) -> None:
    names = set(MEASURES) | {f"{m}_before" for m in MEASURES}
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as e:
        raise LessonError(src, f"bad placeholder ({e})", where) from None
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if name not in names or spec or conv:
            raise LessonError(src, f"unknown placeholder {{{name}}}" + _hint(name or "", sorted(names)), where)


def _settings(raw: Any, src: str, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise LessonError(src, "expected a table of config fields, e.g. { lr = 0.1 }", where)
    out = {}
    for k, v in raw.items():
        try:
            out[k] = check_value(k, v, src)
        except PresetError as e:
            raise LessonError(src, e.message, f"{where}.{k}") from None
    return out


def _check_keys(keys: list, changes: dict, cfg: Config, src: str, where: str) -> None:
    """Every key is known and stands for a change ``set`` gives, one the key can make from ``cfg``."""
    for k in keys:
        if not isinstance(k, str) or (k not in KEYS and k not in OTHER_KEYS):
            raise LessonError(src, f"unknown key {k!r}; keys: {' '.join([*KEYS, *sorted(OTHER_KEYS)])}", where)
        if k not in KEYS:
            continue
        fld, how, _ = KEYS[k]
        if fld not in changes:
            raise LessonError(src, f"key {k!r} changes {fld}, which 'set' does not give", where)
        old, new = getattr(cfg, fld), changes[fld]
        if old == new:
            raise LessonError(src, f"key {k!r} would not change {fld} (already {show_value(new)})", where)
        if how in ("double", "halve"):
            n = math.log2(new / old) * (1 if how == "double" else -1)
            if n < 0.5 or abs(n - round(n)) > 1e-9:
                raise LessonError(src, f"key {k!r} {how}s lr: {old:g} -> {new:g} is not a {how[:-1]}ing "
                                       "by a power of 2", where)


def _step(raw: Any, i: int, cfg: Config, src: str) -> tuple[Step, Config]:
    w = f"step[{i}]."
    if not isinstance(raw, dict):
        raise LessonError(src, "expected a table ([[step]])", w[:-1])
    no_extra(raw, {"keys", "set", "reset", "preset", "run", "text", "claim"}, src, w)
    keys = take(raw, "keys", list, src, w, [])
    changes = _settings(raw.get("set", {}), src, w + "set")
    reset = take(raw, "reset", bool, src, w, False)
    if reset != ("r" in keys):
        raise LessonError(src, "'reset = true' and the key 'r' go together", w + "reset")
    preset = take(raw, "preset", str, src, w, None)
    if (preset is not None) != ("p" in keys):
        raise LessonError(src, "'preset' and the key 'p' go together", w + "preset")
    if preset is not None:
        cfg = _preset(preset, src, w + "preset")
    _check_keys(keys, changes, cfg, src, w + "keys")
    try:
        new = cfg.replace(**changes)
        check_config(new, src)
    except PresetError as e:
        raise LessonError(src, e.message, w + "set") from None
    run = take(raw, "run", int, src, w)
    if not 1 <= run <= MAX_RUN:
        raise LessonError(src, f"must be in [1, {MAX_RUN}], got {run}", w + "run")
    text = take(raw, "text", str, src, w)
    _placeholders(text, src, w + "text")
    claims = _claims(raw.get("claim", []), src, w + "claim", relative_ok=True)
    return Step(tuple(keys), tuple(changes.items()), reset, preset, run, text, claims), new


def _preset(name: str, src: str, where: str) -> Config:
    try:
        return load_preset(name)
    except PresetError as e:
        raise LessonError(src, str(e), where) from None


def load_lesson(path: Path | str) -> Lesson:
    """Read and check one lesson file. Raises :class:`LessonError` (one line: file, field, problem)."""
    path = Path(path)
    src = path.name if path.parent == lessons_dir() else str(path)
    try:
        data = _read_toml(path)
    except PresetError as e:
        raise LessonError(e.source, e.message.replace("empty preset", "empty lesson")) from None
    no_extra(data, {"title", "preset", "set", "steps", "intro", "claim", "step"}, src, "")
    title = take(data, "title", str, src)
    cfg = _preset(take(data, "preset", str, src), src, "preset")
    start = _settings(data.get("set", {}), src, "set")
    try:
        cfg = cfg.replace(**start)
        check_config(cfg, src)
    except PresetError as e:
        raise LessonError(src, e.message, "set") from None
    start_steps = take(data, "steps", int, src)
    if not 1 <= start_steps <= MAX_RUN:
        raise LessonError(src, f"must be in [1, {MAX_RUN}], got {start_steps}", "steps")
    intro = take(data, "intro", str, src)
    _placeholders(intro, src, "intro")
    claims = _claims(data.get("claim", []), src, "claim", relative_ok=False)
    raw_steps = take(data, "step", list, src)
    if not raw_steps:
        raise LessonError(src, "a lesson needs at least one [[step]]", "step")
    steps, cur = [], cfg
    for i, raw in enumerate(raw_steps):
        st, cur = _step(raw, i, cur, src)
        steps.append(st)
    m = NAME_RE.match(path.name)
    return Lesson(int(m.group(1)) if m else 0, path.stem, title, cfg, start_steps, intro, claims,
                  tuple(steps), path)


# ------------------------------------------------------------------------------------ playing
def instruction(step: Step, cfg: Config) -> str:
    """What the learner does, in words, for the configuration ``cfg`` the step starts from:
    "press i 2x (init -> he_normal)", and for a field without a key the ``--set`` it stands for."""
    parts, changes = [], dict(step.set)
    if step.preset:
        parts.append(f"press p and pick {step.preset}")
        cfg = load_preset(step.preset)
    covered = set()
    for k in step.keys:
        if k not in KEYS:
            continue
        fld, how, _ = KEYS[k]
        covered.add(fld)
        target = changes[fld]
        parts.append(f"press {k}{_presses(k, getattr(cfg, fld), target)} ({fld} -> {show_value(target)})")
    rest = {k: v for k, v in changes.items() if k not in covered}
    if rest:
        sets = " ".join(f"--set {k}={v:g}" if isinstance(v, float) else f"--set {k}={show_value(v)}"
                        for k, v in rest.items())
        parts.append(f"set {', '.join(f'{k} = {show_value(v)}' for k, v in rest.items())} "
                     f"(no dashboard key: the config change {sets})")
    if step.reset:
        parts.append("press r (restart from fresh weights)")
    return ", then ".join(parts)


def _presses(key: str, current: Any, target: Any) -> str:
    fld, how, _ = KEYS[key]
    n = 1
    if how == "cycle":
        opts = FIELDS[fld].choices
        if current in opts and target in opts:
            n = BY_SHOWN[key].presses(current, target)
    elif how in ("double", "halve") and current > 0 and target > 0:
        n = BY_SHOWN[key].presses(current, target)
    return f" {n}x" if n > 1 else ""


def show_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return num(v) if isinstance(v, float) else str(v)


def _fill(text: str, before: dict[str, float], after: dict[str, float]) -> str:
    values = {k: num(v) for k, v in after.items()}
    values.update({f"{k}_before": num(v) for k, v in before.items()})
    values.update({f"{k}_before": "n/a" for k in after if k not in before})
    return " ".join(text.format(**values).split())


def _check(claims, start: dict, previous: dict, after: dict) -> tuple:
    out = []
    for c in claims:
        b = (start if c.against == "start" else previous).get(c.measure, float("nan"))
        out.append((c, b, after[c.measure], c.holds(b, after[c.measure])))
    return tuple(out)


def step_commands(step: Step) -> list:
    """The trainer commands a step's keys stand for, in order (what the dashboard sends)."""
    from gradtui.commands import LoadPreset, Reset, SetFields

    return ([LoadPreset(load_preset(step.preset))] if step.preset else []) + \
        ([SetFields(step.set)] if step.set else []) + ([Reset()] if step.reset else [])


def run_lesson_headless(lesson: Lesson, seed: int | None = None) -> list[StepResult]:
    """Play a lesson on a fresh Trainer: the start, then each step's change and its steps; measure
    every phase (:func:`gradtui.claims.measure_all`) and check every claim. ``seed`` replaces the
    start's seed (a preset a step loads keeps its own)."""
    import numpy as np

    from gradtui import drive
    from gradtui.trainer import Trainer

    tr = Trainer(lesson.config if seed is None else lesson.config.replace(seed=seed))

    def phase(commands, n) -> dict[str, float]:
        for cmd in commands:
            tr.apply(cmd)
        ring, count0 = tr.ring, tr.ring.count
        drive.run(tr, tr.total_steps + n)
        window = tr.ring.count - (count0 if tr.ring is ring else 0)
        return measure_all(tr.snapshot(window=window))

    with np.errstate(all="ignore"):
        start = phase((), lesson.start_steps)
        results = [StepResult(0, lesson.start_steps, "", _fill(lesson.intro, {}, start), {}, start,
                              _check(lesson.claims, start, start, start))]
        previous = start
        for i, st in enumerate(lesson.steps, 1):
            how = instruction(st, tr.cfg)
            after = phase(step_commands(st), st.run)
            results.append(StepResult(i, st.run, how, _fill(st.text, previous, after), previous, after,
                                      _check(st.claims, start, previous, after)))
            previous = after
    return results
