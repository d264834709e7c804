"""The help screen's explanations as data: ``presets/lessons/help.toml`` (the backprop formula, one
entry per dashboard panel, one per regime of :mod:`gradtui.regimes` with its meaning and remedies).

No Textual here: the help screen reads :func:`load_help` and lays the text out. A problem in the file
is one :class:`~gradtui.lessons.LessonError` line naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gradtui import regimes
from gradtui.lessons import lessons_dir
from gradtui.tomlfields import LessonError, no_extra, take
from gradtui.presets import PresetError, _read_toml


@dataclass(frozen=True)
class Panel:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class RegimeHelp:
    id: str
    rule: str  # regimes.RULES: the one rule, not repeated in the file
    meaning: str
    remedies: str


@dataclass(frozen=True)
class Help:
    title: str
    formula: str
    text: str
    panels: tuple[Panel, ...]
    regimes: dict[str, RegimeHelp]  # in regimes.PRECEDENCE order


def help_path() -> Path:
    return lessons_dir() / "help.toml"


def _flow(text: str) -> str:
    """Paragraphs joined into lines (a blank line separates paragraphs)."""
    paras = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join(p for p in paras if p)


def _entries(data: dict, key: str, fields: set, src: str) -> list[dict]:
    raw = take(data, key, list, src)
    out = []
    for i, e in enumerate(raw):
        where = f"{key}[{i}]."
        if not isinstance(e, dict):
            raise LessonError(src, "expected a table", where[:-1])
        no_extra(e, fields, src, where)
        out.append({f: _flow(take(e, f, str, src, where)) for f in sorted(fields)})
    return out


def load_help(path: Path | str | None = None) -> Help:
    """Read and check the help file; every regime must be explained exactly once."""
    path = Path(path) if path is not None else help_path()
    src = path.name if path.parent == lessons_dir() else str(path)
    try:
        data = _read_toml(path)
    except PresetError as e:
        raise LessonError(e.source, e.message) from None
    no_extra(data, {"backprop", "panel", "regime"}, src, "")
    bp = take(data, "backprop", dict, src)
    no_extra(bp, {"title", "formula", "text"}, src, "backprop.")
    title, formula, text = (_flow(take(bp, k, str, src, "backprop.")) for k in ("title", "formula", "text"))
    panels = tuple(Panel(**e) for e in _entries(data, "panel", {"id", "title", "text"}, src))
    ids = [p.id for p in panels]
    if len(set(ids)) != len(ids):
        raise LessonError(src, f"panel ids must be unique, got {ids}", "panel")
    found = {}
    for i, e in enumerate(_entries(data, "regime", {"id", "meaning", "remedies"}, src)):
        if e["id"] not in regimes.RULES:
            raise LessonError(src, f"unknown regime {e['id']!r}; regimes: {', '.join(regimes.PRECEDENCE)}",
                              f"regime[{i}].id")
        if e["id"] in found:
            raise LessonError(src, f"regime {e['id']!r} is explained twice", f"regime[{i}].id")
        found[e["id"]] = RegimeHelp(e["id"], regimes.RULES[e["id"]], e["meaning"], e["remedies"])
    missing = [r for r in regimes.PRECEDENCE if r not in found]
    if missing:
        raise LessonError(src, f"no explanation for regime {', '.join(missing)}", "regime")
    return Help(title, formula, text, panels, {r: found[r] for r in regimes.PRECEDENCE})
