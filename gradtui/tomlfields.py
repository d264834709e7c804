"""Checked fields of the lesson and help TOML files: each problem is one :class:`LessonError` line
naming the file and the field."""

from __future__ import annotations

from typing import Any

from gradtui.config import control_char
from gradtui.presets import PresetError, _hint


class LessonError(PresetError):
    """A lesson file that cannot be used; ``str()`` is one line naming the file and the field."""


def take(data: dict, key: str, typ, src: str, where: str = "", default: Any = ...) -> Any:
    name = f"{where}{key}"
    if key not in data:
        if default is ...:
            raise LessonError(src, "missing", name)
        return default
    v = data[key]
    ok = isinstance(v, typ) and not (typ in (int, (int, float)) and isinstance(v, bool))
    if not ok:
        raise LessonError(src, f"expected {getattr(typ, '__name__', 'a number')}, got {type(v).__name__}", name)
    if isinstance(v, str) and not v.strip():
        raise LessonError(src, "is empty", name)
    if isinstance(v, str) and control_char(v.replace("\n", " ")):  # line breaks only: text is reflowed
        raise LessonError(src, f"contains a control character ({control_char(v.replace(chr(10), ' '))}); "
                               "text must be printable", name)
    return v


def no_extra(data: dict, allowed: set, src: str, where: str) -> None:
    for k in data:
        if k not in allowed:
            raise LessonError(src, "unknown field" + _hint(k, sorted(allowed)), f"{where}{k}")
